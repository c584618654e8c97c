"""What a backend (sim or sdk) offers the node and what it reports back.

Samples are already in REP 103 / SI units (x forward, y left, z up; rad, rad/s, m/s^2):
each backend converts from its own conventions before it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Protocol

from rm_driver.commands import MoveRequest, Velocity

# Armour plate ids of sub_hit_event (SDK docs: 1 chassis back ... 6 gimbal right).
ARMOR_NAMES: Dict[int, str] = {1: 'bottom_back', 2: 'bottom_front', 3: 'bottom_left',
                               4: 'bottom_right', 5: 'top_left', 6: 'top_right'}

# How a move ended, as MoveDone reports it.
MOVE_SUCCEEDED = 'succeeded'
MOVE_FAILED = 'failed'
MOVE_CANCELED = 'canceled'


@dataclass
class OdomSample:
    x: float = 0.0      # m, in the odom frame
    y: float = 0.0
    yaw: float = 0.0    # rad, counter-clockwise
    vx: float = 0.0     # m/s, body frame
    vy: float = 0.0
    wz: float = 0.0     # rad/s


@dataclass
class ImuSample:
    roll: float = 0.0   # rad
    pitch: float = 0.0
    yaw: float = 0.0
    ax: float = 0.0     # m/s^2, gravity included (+9.81 on z at rest)
    ay: float = 0.0
    az: float = 0.0
    gx: float = 0.0     # rad/s
    gy: float = 0.0
    gz: float = 0.0


@dataclass
class WheelSample:
    """Wheel speeds in rpm, positive when the wheel drives the robot forward."""

    front_right: float = 0.0
    front_left: float = 0.0
    rear_left: float = 0.0
    rear_right: float = 0.0


@dataclass
class TelemetryRates:
    """Hz per stream; the SDK accepts 1, 5, 10, 20 or 50."""

    odom: int = 20
    imu: int = 20
    wheel_speeds: int = 10
    battery: int = 1


MoveDone = Callable[[str, str], None]
"""Called once when a move ends: (MOVE_SUCCEEDED | MOVE_FAILED | MOVE_CANCELED, message)."""


class BackendEvents(Protocol):
    """What the node hears from a backend, always on the node's own executor thread."""

    def on_connected(self, serial: str, ip_address: str, firmware: str = '') -> None: ...

    def on_link_lost(self, detail: str) -> None: ...

    def on_odom(self, sample: OdomSample) -> None: ...

    def on_imu(self, sample: ImuSample) -> None: ...

    def on_wheels(self, sample: WheelSample) -> None: ...

    def on_battery(self, percent: float) -> None: ...

    def on_collision(self, armor_id: int, hit_type: str) -> None: ...

    def on_fault(self, detail: str, latched: bool) -> None: ...

    def on_fault_cleared(self) -> None: ...


class ChassisBackend(Protocol):
    """The robot as the node drives it; commands are already validated and clamped."""

    def start(self) -> None: ...

    def drive(self, command: Velocity) -> None: ...

    def start_move(self, request: MoveRequest, on_done: MoveDone) -> None: ...

    def cancel_move(self) -> None: ...

    def set_mode(self, mode: str) -> Optional[str]:
        """Return None on success, else why it failed."""
        ...

    def set_rates(self, rates: TelemetryRates) -> None: ...

    def close(self) -> None: ...
