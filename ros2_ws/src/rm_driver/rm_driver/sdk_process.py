"""Backend 'sdk': the robomaster SDK in a process of its own, on the SDK's Python.

The SDK's wheels are for CPython 3.6-3.8 only and no supported ROS 2 runs there, so
the driver starts `sdk.python` (any command that runs a Python with robomaster) on
sdk_worker.py, which runs SdkBackend (sdk_adapter.py) against the real SDK. This class
is the ChassisBackend the node sees: it forwards commands down the pipe and hands the
process's events to the node's executor (ThreadHandoff), the same calls an in-process
SdkBackend would make. When the process dies the link counts as lost and a new process
is started with the reconnect backoff.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import subprocess
import threading
from typing import Any, Callable, Deque, Dict, List, Optional

from rm_driver import sdk_pipe as pipe
from rm_driver.backend import (BackendEvents, MOVE_FAILED, MoveDone, TelemetryRates)
from rm_driver.commands import MoveRequest, Velocity
from rm_driver.handoff import ThreadHandoff
from rm_driver.link_supervision import Backoff
from rm_driver.sdk_adapter import CALL_TIMEOUT, CLOSE_TIMEOUT
from rm_driver.sdk_loading import SdkMissing

READY_TIMEOUT = 30.0                 # s to import the SDK (numpy, cv2) on a Raspberry Pi
EXIT_TIMEOUT = CLOSE_TIMEOUT + 4.0   # robot.close() plus the call worker's join (2 s)
# Runs sdk_worker on the SDK's Python. Our package directory goes last on sys.path, so
# the SDK's own numpy & co. win over whatever else sits beside rm_driver.
BOOT = ('import sys; sys.path.append(sys.argv[1]); from rm_driver import sdk_worker; '
        'sys.exit(sdk_worker.main(sys.argv[2:]))')
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Process:
    """One SDK process: its pipe, and whether it said ready (or why it cannot be)."""

    def __init__(self, command: List[str], settings: Dict[str, Any]) -> None:
        self.popen = subprocess.Popen(
            command + ['-c', BOOT, PACKAGE_ROOT, json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1, start_new_session=True)  # its signals come from us
        self.settled = threading.Event()    # it said ready or missing, or it ended
        self.ready = False
        self.missing: Optional[str] = None
        self.stderr_tail: Deque[str] = collections.deque(maxlen=3)

    def wait_ready(self) -> bool:
        self.settled.wait(READY_TIMEOUT)
        return self.ready and self.missing is None

    def why_not_ready(self, command: List[str]) -> str:
        if self.missing is not None:
            return self.missing
        code = self.popen.poll()
        said = '; '.join(self.stderr_tail) or 'nothing on stderr'
        state = f'exited with {code}' if code is not None else \
            f'did not start within {READY_TIMEOUT:.0f} s'
        return (f"backend 'sdk': the SDK process ({' '.join(command)}) {state} ({said}); "
                f"sdk.python must run a Python 3.6-3.8 that has robomaster")


class SdkProcessBackend:
    """ChassisBackend over sdk_worker.py running on the SDK's Python."""

    def __init__(self, events: BackendEvents, handoff: ThreadHandoff, command: List[str],
                 conn_type: str, serial: str, rates: TelemetryRates, link_timeout: float,
                 backoff: Backoff, log: Callable[[str], None],
                 log_output: Callable[[str], None]) -> None:
        self._events = events
        self._handoff = handoff
        self._command = command
        self._settings: Dict[str, Any] = {
            'conn_type': conn_type, 'serial': serial, 'rates': pipe.fields(rates),
            'link_timeout': link_timeout, 'reconnect_initial_delay': backoff.initial,
            'reconnect_max_delay': backoff.maximum}
        self._backoff = backoff
        self._log = log
        self._log_output = log_output
        self._lock = threading.Lock()
        self._process: Optional[_Process] = None
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._moves: Dict[int, MoveDone] = {}
        self._modes: Dict[int, list] = {}    # id -> [event, error]
        self._connected = False
        self._on_sample = {pipe.EV_ODOM: events.on_odom, pipe.EV_IMU: events.on_imu,
                           pipe.EV_WHEELS: events.on_wheels}
        self._supervisor = threading.Thread(target=self._supervise, name='sdk-process',
                                            daemon=True)

    # ChassisBackend ------------------------------------------------------------------
    def start(self) -> None:
        """Start the SDK process; SdkMissing (the node exits, naming the fix) if it cannot."""
        process = self._spawn()
        if not process.wait_ready():
            why = process.why_not_ready(self._command)
            self._stop(process)
            raise SdkMissing(why)
        self._supervisor.start()

    def drive(self, command: Velocity) -> None:
        self._send(pipe.OP_DRIVE, v=pipe.values(command))

    def start_move(self, request: MoveRequest, on_done: MoveDone) -> None:
        move_id = next(self._ids)
        with self._lock:
            self._moves[move_id] = on_done
        if not self._send(pipe.OP_MOVE, id=move_id, request=pipe.fields(request)):
            self._end_move(move_id, MOVE_FAILED, 'the SDK process is not running')

    def cancel_move(self) -> None:
        self._send(pipe.OP_CANCEL)

    def set_mode(self, mode: str) -> Optional[str]:
        mode_id = next(self._ids)
        waiter = [threading.Event(), f'SDK did not answer set_robot_mode within '
                                     f'{CALL_TIMEOUT:.0f} s']
        with self._lock:
            self._modes[mode_id] = waiter
        if not self._send(pipe.OP_SET_MODE, id=mode_id, mode=mode):
            waiter[1] = 'the SDK process is not running'
        else:
            waiter[0].wait(CALL_TIMEOUT + 1.0)
        with self._lock:
            self._modes.pop(mode_id, None)
        return waiter[1]

    def set_rates(self, rates: TelemetryRates) -> None:
        self._settings['rates'] = pipe.fields(rates)
        self._send(pipe.OP_SET_RATES, rates=self._settings['rates'])

    def set_link_timeout(self, timeout: float) -> None:
        self._settings['link_timeout'] = timeout
        self._send(pipe.OP_SET_LINK_TIMEOUT, seconds=timeout)

    def close(self) -> None:
        self._closing.set()
        stopped = None
        for _ in range(2):   # again if the supervisor had just started a new one
            with self._lock:
                process = self._process
            if process is None or process is stopped:
                break
            self._stop(process)
            stopped = process
            if self._supervisor.is_alive():
                self._supervisor.join(EXIT_TIMEOUT + READY_TIMEOUT)

    # the process -----------------------------------------------------------------------
    def _spawn(self) -> _Process:
        process = _Process(self._command, self._settings)
        with self._lock:
            self._process = process
        threading.Thread(target=self._read_events, args=(process,), name='sdk-events',
                         daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(process,), name='sdk-stderr',
                         daemon=True).start()
        return process

    def _stop(self, process: _Process) -> None:
        """Ask it to close the robot and exit; kill it if it does not in time."""
        try:
            process.popen.stdin.write(pipe.line({'op': pipe.OP_CLOSE}))
            process.popen.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            process.popen.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._log(f'the SDK process (pid {process.popen.pid}) did not exit within '
                      f'{EXIT_TIMEOUT:.0f} s: killed')
            process.popen.kill()
            process.popen.wait(5.0)

    def _supervise(self) -> None:
        """Wait for the process to end; unless we are closing, say so and start another."""
        while True:
            with self._lock:
                process = self._process
            process.popen.wait()
            if self._closing.is_set():
                return
            self._process_ended(f'the SDK process exited with {process.popen.returncode}')
            while not self._closing.wait(self._backoff.next_delay()):
                process = self._spawn()
                if process.wait_ready():
                    self._backoff.reset()
                    break
                self._log(process.why_not_ready(self._command))
                self._stop(process)
            if self._closing.is_set():
                return

    def _process_ended(self, detail: str) -> None:
        with self._lock:
            moves, self._moves = self._moves, {}
            modes = list(self._modes.values())
            was_connected, self._connected = self._connected, False
        for on_done in moves.values():
            self._handoff.post(on_done, MOVE_FAILED, f'link lost: {detail}')
        for waiter in modes:
            waiter[1] = detail
            waiter[0].set()
        if was_connected:
            self._handoff.post(self._events.on_link_lost, detail)
        else:
            self._log(detail)

    def _send(self, op: str, **fields: Any) -> bool:
        fields['op'] = op
        text = pipe.line(fields)
        with self._lock:
            process = self._process
            if process is None or process.popen.poll() is not None:
                return False
            try:
                process.popen.stdin.write(text)
                process.popen.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return False
        return True

    def _read_stderr(self, process: _Process) -> None:
        for text in process.popen.stderr:
            text = text.rstrip()
            if text:
                process.stderr_tail.append(text)
                self._log_output(text)

    def _read_events(self, process: _Process) -> None:
        for text in process.popen.stdout:
            try:
                message = pipe.parse(text)
                self._dispatch(process, message.pop('ev'), message)
            except (KeyError, TypeError, ValueError) as error:
                self._log(f'unreadable line from the SDK process {text.strip()[:120]!r}: '
                          f'{type(error).__name__}: {error}')
        process.settled.set()

    def _dispatch(self, process: _Process, event: str, fields: Dict[str, Any]) -> None:
        post, events = self._handoff.post, self._events
        if event in self._on_sample:
            post(self._on_sample[event], pipe.sample_from(event, fields['v']))
        elif event == pipe.EV_BATTERY:
            post(events.on_battery, float(fields['percent']))
        elif event == pipe.EV_CONNECTED:
            with self._lock:
                self._connected = True
            post(events.on_connected, fields['serial'], fields['ip'], fields['firmware'])
        elif event == pipe.EV_LINK_LOST:
            with self._lock:
                self._connected = False
            post(events.on_link_lost, fields['detail'])
        elif event == pipe.EV_COLLISION:
            post(events.on_collision, int(fields['armor_id']), str(fields['hit_type']))
        elif event == pipe.EV_FAULT:
            post(events.on_fault, fields['detail'], bool(fields['latched']))
        elif event == pipe.EV_FAULT_CLEARED:
            post(events.on_fault_cleared)
        elif event == pipe.EV_MOVE_DONE:
            self._end_move(int(fields['id']), fields['outcome'], fields['message'])
        elif event == pipe.EV_MODE_RESULT:
            with self._lock:
                waiter = self._modes.get(int(fields['id']))
            if waiter is not None:
                waiter[1] = fields['error']
                waiter[0].set()
        elif event == pipe.EV_LOG:
            self._log(fields['text'])
        elif event == pipe.EV_READY:
            self._log_output(f"robomaster {fields['version']} on Python {fields['python']} "
                             f"(pid {process.popen.pid})")
            process.ready = True
            process.settled.set()
        elif event == pipe.EV_MISSING:
            process.missing = fields['detail']
            process.settled.set()
        else:
            raise ValueError(f'unknown event {event!r}')

    def _end_move(self, move_id: int, outcome: str, message: str) -> None:
        with self._lock:
            on_done = self._moves.pop(move_id, None)
        if on_done is not None:
            self._handoff.post(on_done, outcome, message)
