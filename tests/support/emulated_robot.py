"""The real robomaster SDK against the emulated EP (rm_emulator), on a private network.

Each robot gets a PrivateLink: two network namespaces made by the test (the SDK's and
the robot's, joined by a veth pair), so the robot's address (192.168.2.1 for ap) exists
only there. The emulator runs in the robot's namespace; the SDK process runs in the
other one, started by the backend under test with `nsenter ... <SDK Python>`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from rm_driver.handoff import ThreadHandoff
from rm_emulator.control import EmulatorControl
from rm_emulator.netns import PrivateLink
from robot_db_testing.ros_client import wait_until

SERIAL = '3JKCK980030E3K'
START_TIMEOUT = 15.0


def sdk_python() -> str:
    """The setup-made SDK Python; fails in CI, skips elsewhere, when there is none."""
    python = os.environ.get('RM_SDK_PYTHON', '')
    if python and os.access(python, os.X_OK):
        return python
    reason = ('no Python with the robomaster SDK: RM_SDK_PYTHON is unset (scripts/setup.sh '
              'installs it into .local/robomaster-sdk where a Python 3.8 exists)')
    if os.environ.get('CI'):
        pytest.fail(reason)
    pytest.skip(reason)


class EmulatedRobot:
    """An ep_emulator process in the robot's namespace of a PrivateLink, with its control."""

    def __init__(self, link: PrivateLink, conn_type: str, log_dir: Path,
                 broadcast_serial: bool = True) -> None:
        self.link = link
        self.conn_type = conn_type
        self.serial = SERIAL
        self.socket = str(log_dir / f'emulator-{uuid.uuid4().hex[:8]}.sock')
        argv = link.prefix('robot') + [
            sys.executable, '-m', 'rm_emulator.cli', '--conn-type', conn_type,
            '--address', link.robot_address, '--serial', SERIAL, '--control', self.socket]
        if not broadcast_serial:
            argv.append('--no-broadcast-serial')
        self.log_path = log_dir / f'emulator-{conn_type}.log'
        self._log = open(self.log_path, 'w')
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        self.control: Optional[EmulatorControl] = None
        if not wait_until(self._connect_control, START_TIMEOUT, period=0.1):
            self.close()
            raise AssertionError(f'the emulator did not start:\n{self.output()}')

    def _connect_control(self) -> bool:
        if self.process.poll() is not None or not os.path.exists(self.socket):
            return False
        try:
            self.control = EmulatorControl(self.socket)
            self.control.state()
            return True
        except OSError:
            return False

    def state(self) -> dict:
        return self.control.state()

    def output(self) -> str:
        return self.log_path.read_text(errors='replace')[-3000:]

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5.0)
        self._log.close()


class RecordingEvents:
    """BackendEvents that note each call, in order."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []

    def __getattr__(self, name):
        if not name.startswith('on_'):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))

    def of(self, name: str) -> List[tuple]:
        return [args for call, args in list(self.calls) if call == name]

    def names(self, *wanted: str) -> List[str]:
        return [name for name, _ in list(self.calls) if name in wanted]


class Drainer:
    """Plays the node's executor: one thread that drains the hand-off when woken."""

    def __init__(self) -> None:
        self.handoff = ThreadHandoff()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.handoff.set_wake(self._wake.set)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._wake.wait(0.05):
                self._wake.clear()
                self.handoff.drain()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


@pytest.fixture
def private_link() -> Iterator:
    """private_link(conn_type) -> a PrivateLink, closed (namespaces gone) afterwards."""
    links: List[PrivateLink] = []

    def make(conn_type: str) -> PrivateLink:
        link = PrivateLink(conn_type)
        link.__enter__()
        links.append(link)
        return link

    yield make
    for link in reversed(links):
        link.close()


@pytest.fixture
def emulated_robot(private_link, tmp_path) -> Iterator:
    """emulated_robot(conn_type, **options) -> an EmulatedRobot on a new PrivateLink."""
    robots: List[EmulatedRobot] = []

    def make(conn_type: str = 'ap', **options) -> EmulatedRobot:
        robot = EmulatedRobot(private_link(conn_type), conn_type, tmp_path, **options)
        robots.append(robot)
        return robot

    yield make
    for robot in robots:
        robot.close()
