"""The emulator's fault switches, set through the control socket."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

FAULT_NAMES = ('final_push', 'silent', 'busy', 'first_push_delay', 'ftp', 'stray_datagram')


class FaultError(ValueError):
    """A fault request naming an unknown fault or carrying a bad argument."""


@dataclass
class Faults:
    link_up: bool = True               # False: every datagram is dropped, both ways
    silent: bool = False               # ignore every datagram, send nothing but broadcasts
    busy: bool = False                 # reject PositionMove (accept byte 1)
    first_push_delay: float = 0.0      # s added before each new subscription's first push
    ftp_silent: bool = False           # accept TCP 21 and never send the greeting
    final_push: str = 'normal'         # next move's final push: normal, drop or delay
    final_push_delay: float = 0.0      # s, with final_push 'delay'

    def take_final_push(self) -> Optional[float]:
        """The next move's final push delay (None: dropped); the switch then resets."""
        mode, delay = self.final_push, self.final_push_delay
        self.final_push, self.final_push_delay = 'normal', 0.0
        if mode == 'drop':
            return None
        return delay if mode == 'delay' else 0.0

    def set(self, name: str, args: Dict[str, Any]) -> None:
        """Apply one `fault` request (stray_datagram is an action, done by the caller)."""
        if name == 'final_push':
            mode = args.get('mode', 'drop')
            if mode not in ('drop', 'delay', 'normal'):
                raise FaultError(f"final_push mode {mode!r} must be 'drop', 'delay' or 'normal'")
            self.final_push = mode
            self.final_push_delay = _seconds(args, 'delay', 0.0) if mode == 'delay' else 0.0
        elif name == 'silent':
            self.silent = _flag(args, 'on')
        elif name == 'busy':
            self.busy = _flag(args, 'on')
        elif name == 'first_push_delay':
            self.first_push_delay = _seconds(args, 'delay', 0.0)
        elif name == 'ftp':
            mode = args.get('mode')
            if mode not in ('silent', 'normal'):
                raise FaultError(f"ftp mode {mode!r} must be 'silent' or 'normal'")
            self.ftp_silent = mode == 'silent'
        elif name != 'stray_datagram':
            raise FaultError(f'fault name {name!r} is not one of {", ".join(FAULT_NAMES)}')

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _flag(args: Dict[str, Any], key: str) -> bool:
    value = args.get(key, True)
    if not isinstance(value, bool):
        raise FaultError(f'{key} {value!r} must be true or false')
    return value


def _seconds(args: Dict[str, Any], key: str, default: float) -> float:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
        raise FaultError(f'{key} {value!r} must be a number of seconds in [0, 3600]')
    return float(value)
