"""The commands the driver executes: limits, validation and their JSON payloads.

Plain Python (no ROS): the node asks these functions whether a command is valid and
what to write in CommandResult.payload_json. Units are REP 103 / SI throughout
(m, m/s, rad/s) except where the SDK's own units are part of the contract (move yaw
and yaw_speed in degrees, as in robot_interfaces/action/Move).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

# chassis.drive_speed limits (SDK docs): x, y in [-3.5, 3.5] m/s, z in [-600, 600] deg/s.
MAX_LINEAR_SPEED = 3.5
MAX_ANGULAR_SPEED = math.radians(600.0)
# What drive_speed sends (SDK util.py CHASSIS_SPD_*_CHECKER): x, y rounded to 0.01 m/s,
# z to whole deg/s, so a smaller non-zero speed would silently go out as 0.
LINEAR_SPEED_STEP = 0.01
ANGULAR_SPEED_STEP = math.radians(1.0)

# chassis.move limits (SDK docs).
MOVE_XY_LIMIT = 5.0            # m
MOVE_YAW_LIMIT = 1800.0        # deg
MOVE_XY_SPEED_RANGE = (0.5, 2.0)      # m/s
MOVE_YAW_SPEED_RANGE = (10.0, 540.0)  # deg/s
MOVE_DEFAULT_XY_SPEED = 0.5    # what the SDK uses when the goal says 0
MOVE_DEFAULT_YAW_SPEED = 30.0

# robot.set_robot_mode values (the manual's ModeChange): SetMode.Request.MODE_*, written
# out because the SDK's process (Python 3.8, no ROS) imports this module too;
# test_driver_commands holds them equal.
MODES = ('free', 'gimbal_lead', 'chassis_lead')

# Two cmd_vel commands closer than this (per component) are "the same command": a
# joystick resending its value must not produce one command_result per message.
VELOCITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Velocity:
    """A body velocity command: vx forward, vy left (m/s), wz counter-clockwise (rad/s)."""

    vx: float = 0.0
    vy: float = 0.0
    wz: float = 0.0

    def is_zero(self) -> bool:
        return self.close_to(Velocity())

    def close_to(self, other: 'Velocity', tolerance: float = VELOCITY_TOLERANCE) -> bool:
        return (abs(self.vx - other.vx) <= tolerance and abs(self.vy - other.vy) <= tolerance
                and abs(self.wz - other.wz) <= tolerance)


@dataclass(frozen=True)
class MoveRequest:
    """A validated relative move with the SDK defaults applied to zero speeds."""

    x: float          # m, forward
    y: float          # m, left
    yaw: float        # deg, counter-clockwise
    xy_speed: float   # m/s
    yaw_speed: float  # deg/s

    @property
    def distance(self) -> float:
        return math.hypot(self.x, self.y)

    def expected_duration(self) -> float:
        """Seconds the move takes at its speeds (translation and rotation run together)."""
        return max(self.distance / self.xy_speed, abs(self.yaw) / self.yaw_speed)


def check_velocity(vx: float, vy: float, wz: float) -> Optional[str]:
    """Return why a cmd_vel is unusable (naming the field), or None when it is finite."""
    for field, value in (('linear.x', vx), ('linear.y', vy), ('angular.z', wz)):
        if not math.isfinite(value):
            return f'{field} is {value}: velocities must be finite numbers'
    return None


def clamp_velocity(command: Velocity) -> Tuple[Velocity, List[str]]:
    """Clamp to the EP's drive_speed limits and raise a non-zero speed the SDK would round
    to 0 to its smallest step; also return a note per changed field."""
    notes: List[str] = []

    def fit(field: str, value: float, limit: float, step: float, unit: str) -> float:
        if abs(value) > limit:
            clamped = math.copysign(limit, value)
            notes.append(f'{field} clamped from {value:g} to {clamped:g} {unit}')
            return clamped
        if abs(value) > VELOCITY_TOLERANCE and round(value / step) == 0:
            raised = math.copysign(step, value)
            notes.append(f'{field} raised from {value:g} to {raised:.4g} {unit}: the SDK '
                         f'sends steps of {step:.4g} {unit} and would send 0')
            return raised
        return value

    return Velocity(fit('linear.x', command.vx, MAX_LINEAR_SPEED, LINEAR_SPEED_STEP, 'm/s'),
                    fit('linear.y', command.vy, MAX_LINEAR_SPEED, LINEAR_SPEED_STEP, 'm/s'),
                    fit('angular.z', command.wz, MAX_ANGULAR_SPEED, ANGULAR_SPEED_STEP,
                        'rad/s')), notes


def check_move(x: float, y: float, yaw: float, xy_speed: float,
               yaw_speed: float) -> Optional[str]:
    """Return why a Move goal is outside the SDK's ranges (naming the field), or None."""
    values: Dict[str, float] = {'x': x, 'y': y, 'yaw': yaw, 'xy_speed': xy_speed,
                                'yaw_speed': yaw_speed}
    for field, value in values.items():
        if not math.isfinite(value):
            return f'{field} is {value}: must be a finite number'
    for field, limit, unit in (('x', MOVE_XY_LIMIT, 'm'), ('y', MOVE_XY_LIMIT, 'm'),
                               ('yaw', MOVE_YAW_LIMIT, 'deg')):
        if abs(values[field]) > limit:
            return f'{field} = {values[field]:g} {unit} is outside [-{limit:g}, {limit:g}] {unit}'
    for field, (low, high), unit in (('xy_speed', MOVE_XY_SPEED_RANGE, 'm/s'),
                                     ('yaw_speed', MOVE_YAW_SPEED_RANGE, 'deg/s')):
        value = values[field]
        if value != 0.0 and not low <= value <= high:
            return (f'{field} = {value:g} {unit} is outside [{low:g}, {high:g}] {unit} '
                    f'(0 means the SDK default)')
    return None


def move_request(x: float, y: float, yaw: float, xy_speed: float,
                 yaw_speed: float) -> MoveRequest:
    """Build the request the backend executes: zero speeds become the SDK defaults."""
    return MoveRequest(x, y, yaw, xy_speed or MOVE_DEFAULT_XY_SPEED,
                       yaw_speed or MOVE_DEFAULT_YAW_SPEED)


def check_mode(mode: str) -> Optional[str]:
    if mode not in MODES:
        return f"mode {mode!r} is not one of {', '.join(MODES)}"
    return None


def _number(value: float):
    # JSON has no NaN/Infinity; the logger stores payload_json as JSON, so say it in text.
    return value if math.isfinite(value) else str(value)


def to_json(payload: dict) -> str:
    return json.dumps({k: (_number(v) if isinstance(v, float) else v)
                       for k, v in payload.items()}, allow_nan=False, ensure_ascii=False)


def velocity_payload(vx: float, vy: float, wz: float, **extra) -> str:
    """docs/design.md's {"linear": .., "angular": ..} plus the mecanum base's lateral speed."""
    return to_json({'linear': float(vx), 'lateral': float(vy), 'angular': float(wz), **extra})


def move_payload(x: float, y: float, yaw: float, xy_speed: float, yaw_speed: float) -> str:
    """The goal as the client sent it (units: m, deg, m/s, deg/s)."""
    return to_json({'x': float(x), 'y': float(y), 'yaw': float(yaw),
                    'xy_speed': float(xy_speed), 'yaw_speed': float(yaw_speed)})


def mode_payload(mode: str) -> str:
    return to_json({'mode': mode})
