"""The SDK process: SdkBackend on a real robomaster.robot.Robot, driven over the pipe.

Runs on the SDK's Python (3.6-3.8), started by sdk_process.py with its settings as
one JSON argument. Commands arrive on stdin, events leave on stdout (sdk_pipe.py);
anything else written to stdout (the SDK prints) is sent to stderr instead, which the
driver logs. It ends when stdin closes (the driver stopped or died) or on OP_CLOSE,
always closing the robot first; terminal signals are left to the driver.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Dict, IO

from rm_driver import sdk_pipe as pipe
from rm_driver.backend import TelemetryRates
from rm_driver.commands import MoveRequest, Velocity
from rm_driver.handoff import ThreadHandoff
from rm_driver.link_supervision import Backoff
from rm_driver.sdk_adapter import SdkBackend
from rm_driver.sdk_loading import load_robot_factory, SdkMissing


class PipeOut:
    """Writes events, one line each, from any thread."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, event: str, **fields: Any) -> None:
        fields['ev'] = event
        text = pipe.line(fields)
        with self._lock:
            try:
                self._stream.write(text)
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass   # the driver is gone; stdin's EOF ends this process next


class PipeEvents:
    """BackendEvents that go down the pipe (called on the drain thread only)."""

    def __init__(self, out: PipeOut) -> None:
        self._out = out

    def on_connected(self, serial: str, ip_address: str, firmware: str = '') -> None:
        self._out.send(pipe.EV_CONNECTED, serial=serial, ip=ip_address, firmware=firmware)

    def on_link_lost(self, detail: str) -> None:
        self._out.send(pipe.EV_LINK_LOST, detail=detail)

    def on_odom(self, sample: Any) -> None:
        self._out.send(pipe.EV_ODOM, v=pipe.values(sample))

    def on_imu(self, sample: Any) -> None:
        self._out.send(pipe.EV_IMU, v=pipe.values(sample))

    def on_wheels(self, sample: Any) -> None:
        self._out.send(pipe.EV_WHEELS, v=pipe.values(sample))

    def on_battery(self, percent: float) -> None:
        self._out.send(pipe.EV_BATTERY, percent=percent)

    def on_collision(self, armor_id: int, hit_type: str) -> None:
        self._out.send(pipe.EV_COLLISION, armor_id=armor_id, hit_type=hit_type)

    def on_fault(self, detail: str, latched: bool) -> None:
        self._out.send(pipe.EV_FAULT, detail=detail, latched=latched)

    def on_fault_cleared(self) -> None:
        self._out.send(pipe.EV_FAULT_CLEARED)


def drain_forever(handoff: ThreadHandoff, wake: threading.Event) -> None:
    """The process's stand-in for the node's executor: runs the handed-off calls in order."""
    while True:
        wake.wait(0.5)
        wake.clear()
        handoff.drain()


def serve(backend: SdkBackend, out: PipeOut, commands: IO[str]) -> None:
    """Run commands until OP_CLOSE or EOF."""
    for text in commands:
        try:
            message = pipe.parse(text)
            op = message['op']
            if op == pipe.OP_CLOSE:
                return
            handle(backend, out, op, message)
        except (KeyError, TypeError, ValueError) as error:
            out.send(pipe.EV_LOG, text=f'SDK process: bad command {text.strip()[:120]!r}: '
                                       f'{type(error).__name__}: {error}')


def handle(backend: SdkBackend, out: PipeOut, op: str, message: Dict[str, Any]) -> None:
    if op == pipe.OP_DRIVE:
        backend.drive(Velocity(*message['v']))
    elif op == pipe.OP_MOVE:
        move_id = message['id']
        backend.start_move(MoveRequest(**message['request']),
                           lambda outcome, text: out.send(pipe.EV_MOVE_DONE, id=move_id,
                                                          outcome=outcome, message=text))
    elif op == pipe.OP_CANCEL:
        backend.cancel_move()
    elif op == pipe.OP_SET_MODE:
        # set_mode blocks for the robot's ack: answer from a thread, keep reading commands.
        threading.Thread(target=lambda: out.send(
            pipe.EV_MODE_RESULT, id=message['id'], error=backend.set_mode(message['mode'])),
            name='sdk-set-mode', daemon=True).start()
    elif op == pipe.OP_SET_RATES:
        backend.set_rates(TelemetryRates(**message['rates']))
    elif op == pipe.OP_SET_LINK_TIMEOUT:
        backend.set_link_timeout(float(message['seconds']))
    else:
        raise ValueError(f'unknown op {op!r}')


def main(argv: Any = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)   # the driver ends us by closing stdin
    # Our events own the real stdout; the SDK's prints go to stderr.
    out = PipeOut(os.fdopen(os.dup(sys.stdout.fileno()), 'w', buffering=1))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        robot_factory = load_robot_factory()
    except SdkMissing as error:
        out.send(pipe.EV_MISSING, detail=str(error))
        return 3
    from robomaster import version   # noqa: WPS433 - imported by load_robot_factory already
    settings = pipe.parse(argv[0])
    out.send(pipe.EV_READY, version=version.__version__, python=sys.version.split()[0])
    wake = threading.Event()
    handoff = ThreadHandoff(wake=wake.set, on_error=lambda error: out.send(
        pipe.EV_LOG, text=f'handling an SDK callback failed: {error!r}'))
    threading.Thread(target=drain_forever, args=(handoff, wake), name='sdk-drain',
                     daemon=True).start()
    backend = SdkBackend(
        PipeEvents(out), handoff, robot_factory, settings['conn_type'], settings['serial'],
        TelemetryRates(**settings['rates']), float(settings['link_timeout']),
        Backoff(float(settings['reconnect_initial_delay']),
                float(settings['reconnect_max_delay'])),
        log=lambda text: out.send(pipe.EV_LOG, text=text))
    backend.start()
    try:
        serve(backend, out, sys.stdin)
    finally:
        backend.close()
        handoff.drain()   # what close() still reported (a move's end) goes out before we exit
    return 0


if __name__ == '__main__':
    sys.exit(main())
