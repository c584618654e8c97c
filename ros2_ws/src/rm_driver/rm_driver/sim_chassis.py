"""A kinematic mecanum base standing in for the RoboMaster EP: no ROS, no clock of
its own. The caller advances it by elapsed time; commanded speeds are reached at
once (no acceleration limit), so a 1 m move at 0.5 m/s takes 2 s."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from rm_driver.backend import ImuSample, OdomSample, WheelSample
from rm_driver.commands import MoveRequest, Velocity

GRAVITY = 9.80665
WHEEL_RADIUS = 0.05          # m, EP mecanum wheel
WHEEL_LEVER = 0.2            # m, half wheelbase + half track (lx + ly)
MAX_SUBSTEP = 0.01           # s: integration step, so arcs stay arcs
RAD_S_TO_RPM = 60.0 / (2.0 * math.pi)


@dataclass
class _Move:
    """A relative move in progress: a straight segment and a turn, run together."""

    ux: float                # unit direction of travel in the odom frame
    uy: float
    distance: float          # m to travel
    turn: float              # rad to turn, signed
    speed: float             # m/s
    turn_rate: float         # rad/s, positive
    travelled: float = 0.0
    turned: float = 0.0      # rad, absolute

    @property
    def done(self) -> bool:
        return self.travelled >= self.distance and self.turned >= abs(self.turn)


class SimChassis:
    """Pose, velocity and battery of a simulated EP chassis."""

    def __init__(self, battery_percent: float = 100.0, battery_drain_rate: float = 0.01) -> None:
        self.x = 0.0
        self.y = 0.0
        self.yaw = 0.0
        self.battery_percent = battery_percent
        self.battery_drain_rate = battery_drain_rate   # percent per second
        self._command = Velocity()                     # body frame, from cmd_vel
        self._move: Optional[_Move] = None
        self._world_v = (0.0, 0.0)                     # last step's velocity, odom frame
        self._wz = 0.0
        self._imu_v = (0.0, 0.0)                       # velocity at the last IMU sample

    @property
    def moving(self) -> bool:
        return self._move is not None or not self._command.is_zero()

    @property
    def move_active(self) -> bool:
        return self._move is not None

    def drive(self, command: Velocity) -> None:
        """Hold a body velocity until changed; a drive command ends any move."""
        self._move = None
        self._command = command

    def stop(self) -> None:
        self._move = None
        self._command = Velocity()
        self._world_v = (0.0, 0.0)
        self._wz = 0.0

    def start_move(self, request: MoveRequest) -> None:
        """Start a relative move in the robot's frame at the start (REP 103)."""
        self._command = Velocity()
        distance = request.distance
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        ux = (request.x * cos_yaw - request.y * sin_yaw) / distance if distance else 0.0
        uy = (request.x * sin_yaw + request.y * cos_yaw) / distance if distance else 0.0
        self._move = _Move(ux, uy, distance, math.radians(request.yaw), request.xy_speed,
                           math.radians(request.yaw_speed))

    def move_time_left(self) -> Optional[float]:
        """Seconds until the running move completes at its speeds; None without one."""
        move = self._move
        if move is None:
            return None
        left = 0.0
        if move.travelled < move.distance:
            left = (move.distance - move.travelled) / move.speed
        if move.turned < abs(move.turn):
            left = max(left, (abs(move.turn) - move.turned) / move.turn_rate)
        return left

    def cancel_move(self) -> bool:
        """Stop a move where it is; return whether one was running."""
        was_running = self._move is not None
        self.stop()
        return was_running

    def advance(self, dt: float) -> bool:
        """Integrate dt seconds; return True when a move completed during this step."""
        if dt <= 0.0:
            return False
        self.battery_percent = max(0.0, self.battery_percent - self.battery_drain_rate * dt)
        completed = False
        remaining = dt
        while remaining > 1e-12:
            step = min(MAX_SUBSTEP, remaining)
            remaining -= step
            if self._move is not None:
                completed = self._advance_move(step) or completed
            else:
                self._advance_drive(step)
        return completed

    def _advance_drive(self, dt: float) -> None:
        command = self._command
        mid_yaw = self.yaw + command.wz * dt / 2.0  # midpoint rule keeps arcs accurate
        vx = command.vx * math.cos(mid_yaw) - command.vy * math.sin(mid_yaw)
        vy = command.vx * math.sin(mid_yaw) + command.vy * math.cos(mid_yaw)
        self.x += vx * dt
        self.y += vy * dt
        self.yaw = _wrap(self.yaw + command.wz * dt)
        self._world_v = (vx, vy)
        self._wz = command.wz

    def _advance_move(self, dt: float) -> bool:
        move = self._move
        assert move is not None
        step = min(move.speed * dt, move.distance - move.travelled)
        turn = min(move.turn_rate * dt, abs(move.turn) - move.turned)
        move.travelled += step
        move.turned += turn
        self.x += move.ux * step
        self.y += move.uy * step
        signed_turn = math.copysign(turn, move.turn)
        self.yaw = _wrap(self.yaw + signed_turn)
        self._world_v = (move.ux * step / dt, move.uy * step / dt)
        self._wz = signed_turn / dt
        if move.done:
            self.stop()
            return True
        return False

    def body_velocity(self):
        vx, vy = self._world_v
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        return vx * cos_yaw + vy * sin_yaw, -vx * sin_yaw + vy * cos_yaw, self._wz

    def odom(self) -> OdomSample:
        vx, vy, wz = self.body_velocity()
        return OdomSample(self.x, self.y, self.yaw, vx, vy, wz)

    def imu(self, elapsed: float) -> ImuSample:
        """Acceleration is the mean over `elapsed` s since the previous IMU sample, as a
        filtered accelerometer would report it; gravity reads +g on z (REP 145)."""
        vx, vy = self._world_v
        ax = ay = 0.0
        if elapsed > 0.0:
            ax = (vx - self._imu_v[0]) / elapsed
            ay = (vy - self._imu_v[1]) / elapsed
        self._imu_v = (vx, vy)
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        return ImuSample(0.0, 0.0, self.yaw, ax * cos_yaw + ay * sin_yaw,
                         -ax * sin_yaw + ay * cos_yaw, GRAVITY, 0.0, 0.0, self._wz)

    def wheels(self) -> WheelSample:
        """Mecanum inverse kinematics (rollers at 45 deg), rpm positive forward."""
        vx, vy, wz = self.body_velocity()
        turn = WHEEL_LEVER * wz
        scale = RAD_S_TO_RPM / WHEEL_RADIUS
        return WheelSample(front_right=(vx + vy + turn) * scale,
                           front_left=(vx - vy - turn) * scale,
                           rear_left=(vx + vy - turn) * scale,
                           rear_right=(vx - vy + turn) * scale)


def _wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))
