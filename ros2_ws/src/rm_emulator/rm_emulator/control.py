"""The control socket: JSON lines over a UNIX stream socket, one request object per
line, one reply object per line ({"ok": true, ...} or {"ok": false, "error": "..."}).

    {"cmd": "state"}                      -> {"ok": true, "state": {...}}
    {"cmd": "link", "up": false}          link down: every datagram dropped both ways
    {"cmd": "fault", "name": N, ...}      N: final_push (mode drop|delay|normal, delay),
                                          silent (on), busy (on), first_push_delay
                                          (delay), ftp (mode silent|normal),
                                          stray_datagram
    {"cmd": "hit", "armor_id": 1-6}       an armor hit event
    {"cmd": "battery", "percent": p}
"""

from __future__ import annotations

import json
import socket
from typing import Any, Dict

from rm_emulator.faults import FaultError
from rm_emulator.robot import EmulatedRobot


def handle_request(robot: EmulatedRobot, request: Any, now: float) -> Dict[str, Any]:
    """One control request -> its reply; errors name the field and the value."""
    if not isinstance(request, dict):
        return {'ok': False, 'error': f'request {request!r} is not a JSON object'}
    command = request.get('cmd')
    try:
        if command == 'state':
            return {'ok': True, 'state': robot.state(now)}
        if command == 'link':
            up = request.get('up')
            if not isinstance(up, bool):
                raise ValueError(f'up {up!r} must be true or false')
            robot.faults.link_up = up
        elif command == 'fault':
            name = request.get('name')
            robot.faults.set(name, {k: v for k, v in request.items() if k not in ('cmd', 'name')})
            if name == 'stray_datagram':
                robot.stray_datagram(now)
        elif command == 'hit':
            robot.hit(request.get('armor_id'), now)
        elif command == 'battery':
            percent = request.get('percent')
            if isinstance(percent, bool) or not isinstance(percent, (int, float)) \
                    or not 0 <= percent <= 100:
                raise ValueError(f'percent {percent!r} must be a number in [0, 100]')
            robot.chassis.battery_percent = percent
        else:
            raise ValueError(f'cmd {command!r} is not one of state, link, fault, hit, battery')
    except (FaultError, ValueError, TypeError) as error:
        return {'ok': False, 'error': str(error)}
    return {'ok': True}


class ControlError(RuntimeError):
    """The emulator refused a control request."""


class EmulatorControl:
    """Client of an emulator's control socket, for tests and scripts."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._reader = self._sock.makefile('rb')

    def request(self, **request: Any) -> Dict[str, Any]:
        self._sock.sendall(json.dumps(request).encode() + b'\n')
        line = self._reader.readline()
        if not line:
            raise ControlError('the emulator closed the control connection')
        reply = json.loads(line)
        if not reply.get('ok'):
            raise ControlError(reply.get('error', 'refused'))
        return reply

    def state(self) -> Dict[str, Any]:
        return self.request(cmd='state')['state']

    def link(self, up: bool) -> None:
        self.request(cmd='link', up=up)

    def fault(self, name: str, **args: Any) -> None:
        self.request(cmd='fault', name=name, **args)

    def hit(self, armor_id: int) -> None:
        self.request(cmd='hit', armor_id=armor_id)

    def battery(self, percent: float) -> None:
        self.request(cmd='battery', percent=percent)

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def __enter__(self) -> 'EmulatorControl':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
