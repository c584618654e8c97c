"""Shared by the rm_emulator tests: finding the SDK's Python, and running a scenario of
the real SDK (sdk_probe.py) against the emulator, each side in its own namespace."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from rm_emulator.control import EmulatorControl
from rm_emulator.netns import PrivateLink

DEFAULT_SDK_PYTHON = '/tmp/sdk38/bin/python'
PROBE = Path(__file__).with_name('sdk_probe.py')
START_TIMEOUT = 10.0


def _unavailable(reason: str) -> None:
    """Fail with a one-line reason on CI, skip elsewhere."""
    if os.environ.get('CI'):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@functools.lru_cache(maxsize=None)
def sdk_python() -> str:
    """The interpreter with robomaster installed ($RM_SDK_PYTHON or the default)."""
    python = os.environ.get('RM_SDK_PYTHON') or DEFAULT_SDK_PYTHON
    if not os.access(python, os.X_OK):
        _unavailable(f'no SDK Python at {python} (set RM_SDK_PYTHON to a Python 3.8 '
                     'with robomaster 0.1.1.68)')
    try:
        done = subprocess.run([python, '-c', 'import robomaster.protocol'],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        _unavailable(f'{python} took over 60 s to import robomaster')
    if done.returncode != 0:
        _unavailable(f'{python} cannot import robomaster: '
                     f'{done.stderr.strip().splitlines()[-1:]}')
    return python


def require_root() -> None:
    if os.geteuid() != 0:
        _unavailable('the SDK-against-emulator tests need root (network namespaces)')


class Scenario:
    """An emulator in a PrivateLink's robot namespace, and SDK probes in its SDK one."""

    def __init__(self, conn_type: str, emulator_args: Optional[List[str]] = None) -> None:
        self.conn_type = conn_type
        self._dir = tempfile.TemporaryDirectory(prefix='rm_emulator_')
        self.control_path = os.path.join(self._dir.name, 'control.sock')
        self.log_path = os.path.join(self._dir.name, 'emulator.log')
        self.link = PrivateLink(conn_type)
        self._log = open(self.log_path, 'w')
        try:
            self.emulator = subprocess.Popen(
                self.link.prefix('robot') + [
                    sys.executable, '-m', 'rm_emulator.cli', '--conn-type', conn_type,
                    '--address', self.link.robot_address, '--control', self.control_path]
                + list(emulator_args or []),
                stdout=self._log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + START_TIMEOUT
            while not os.path.exists(self.control_path):
                if self.emulator.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f'emulator did not start: {self.emulator_log()}')
                time.sleep(0.02)
            self.control = EmulatorControl(self.control_path)
        except BaseException:
            self.close()
            raise

    def probe(self, steps: List[list], sn: Optional[str] = None,
              timeout: float = 120.0) -> List[Dict]:
        """Run the SDK through `steps`; one result dict per step, in order."""
        config = {'conn_type': self.conn_type, 'sn': sn, 'control': self.control_path,
                  'steps': steps}
        done = subprocess.run(self.link.prefix('sdk') + [sdk_python(), str(PROBE),
                                                         json.dumps(config)],
                              capture_output=True, text=True, timeout=timeout)
        results = [json.loads(line) for line in done.stdout.splitlines()
                   if line.startswith('{')]
        assert len(results) == len(steps), (
            f'probe ran {len(results)} of {len(steps)} steps (rc {done.returncode}):\n'
            f'{done.stdout}\n{done.stderr[-4000:]}\nemulator:\n{self.emulator_log()}')
        return results

    def emulator_log(self) -> str:
        self._log.flush()
        with open(self.log_path) as log:
            return log.read()[-4000:]

    def close(self) -> Optional[int]:
        """Stop the emulator (SIGTERM) and tear the network down; its exit code."""
        code = None
        if getattr(self, 'control', None) is not None:
            self.control.close()
        if getattr(self, 'emulator', None) is not None:
            if self.emulator.poll() is None:
                self.emulator.terminate()
            try:
                code = self.emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.emulator.kill()
                self.emulator.wait(timeout=10)
        self.link.close()
        self._log.close()
        self._dir.cleanup()
        return code

    def __enter__(self) -> 'Scenario':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
