"""Start installed ROS executables as real processes and end them by PID."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, List, Optional, Sequence

import psutil
from ament_index_python.packages import get_package_prefix

# What a clean run may print on stderr: ROS log lines below warning. Anything else (a
# traceback, "exception was never retrieved", a warning or an error) is a fault.
ORDINARY_STDERR_LINE = re.compile(r'^\[(INFO|DEBUG)\] ')
COLOUR_CODE = re.compile(r'\x1b\[[0-9;]*m')  # where the log is colourised


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def signal_burst(pids: Sequence[int], count: int = 20000, group: bool = False) -> None:
    """SIGINT and SIGTERM in turn, count of each to every pid (or its process group), as
    fast as they can be sent: handlers then run inside handlers. A pid stops being
    signalled once it has exited."""
    send = os.killpg if group else os.kill
    alive = list(pids)
    for _ in range(count):
        for pid in list(alive):
            try:
                send(pid, signal.SIGINT)
                send(pid, signal.SIGTERM)
            except ProcessLookupError:
                alive.remove(pid)
        if not alive:
            return


# How a process stopped by a signal_burst may end: cleanly, or by one of the burst's
# signals landing after its main returned, while Python tears it down (Python puts the
# default handlers back by then). A hang, a crash or a SIGKILL is none of these.
BURST_EXIT_CODES = (0, -signal.SIGINT, -signal.SIGTERM)


def unexpected_stderr_lines(text: str) -> List[str]:
    """The lines of a process's stderr that a clean run would not print."""
    lines = (COLOUR_CODE.sub('', line) for line in text.splitlines())
    return [line for line in lines if line.strip() and not ORDINARY_STDERR_LINE.match(line)]


def ros_env(extra: Optional[dict] = None) -> dict:
    """Return the environment for a ROS process: DDS on loopback, this run's domain."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('ROS_DOMAIN_ID', '0')
    env['PYTHONUNBUFFERED'] = '1'
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def executable(package: str, name: str) -> Path:
    """Return the path of a package's executable in the sourced workspace (as `ros2 run`
    finds it)."""
    path = Path(get_package_prefix(package)) / 'lib' / package / name
    if not path.exists():
        raise FileNotFoundError(f'{path} is not built: run scripts/setup.sh')
    return path


class NodeProcess:
    """One running executable; output goes to a log file the test can read on failure."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: Optional[dict] = None):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(self.log_path, 'ab')
        self.popen = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env or ros_env(),
            start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')

    def wait_for_output(self, text: str, timeout: float = 15.0) -> bool:
        """Poll the log for text, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if not self.alive():
                return text in self.output()
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 10.0) -> int:
        """SIGINT (a clean ROS shutdown), then SIGKILL if it does not exit in time."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL this process (and only it), as a crash would."""
        if self.alive():
            self.popen.kill()
            self.popen.wait(10)


def start_node(package: str, name: str, log_dir: Path, ros_args: Sequence[str] = (),
               env: Optional[dict] = None, tag: str = '') -> NodeProcess:
    """Start an installed executable with --ros-args; its log is log_dir/<name><tag>.log."""
    argv = [str(executable(package, name))]
    if ros_args:
        argv += ['--ros-args', *ros_args]
    return NodeProcess(argv, Path(log_dir) / f'{name}{tag}.log', env=env or ros_env())
