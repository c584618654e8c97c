"""The emulated chassis in the SDK's frame and units, over rm_driver's SimChassis (the
project's one kinematic model, REP 103 inside): x forward, y right, z down, so a
positive yaw or z speed turns clockwise seen from above; m, m/s, deg, deg/s.

Also the data each subscription pushes, packed the way the SDK's subject classes
decode it (chassis.py, battery.py)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Optional, Tuple

from rm_driver.commands import MoveRequest as SimMoveRequest
from rm_driver.commands import Velocity
from rm_driver.sim_chassis import GRAVITY, SimChassis

from rm_emulator.messages import MoveRequest

WHEEL_ANGLE_FULL_TURN = 32768       # esc angle: 0-32767 maps to 0-360 deg


@dataclass
class MoveProgress:
    """A PositionMove the robot is running, relative to where it started."""

    request: MoveRequest
    start: Tuple[float, float, float]       # x, y, yaw_deg (SDK frame) at the start
    duration: float                         # s at the asked speeds


class EmulatedChassis:
    """Pose, speeds, wheels and battery of the emulated EP, advanced by the caller."""

    def __init__(self, battery_percent: float = 100.0) -> None:
        self._sim = SimChassis(battery_percent, battery_drain_rate=0.0)
        self._move: Optional[MoveProgress] = None
        self._wheel_angle = [0.0] * 4           # deg, per wheel
        self._esc_counter = 0

    # State in the SDK frame.

    @property
    def pose(self) -> Tuple[float, float, float]:
        """x, y (m, y right) and yaw (deg, clockwise) since power-on."""
        # + 0.0 turns the negated zeros into plain ones.
        return self._sim.x, -self._sim.y + 0.0, -math.degrees(self._sim.yaw) + 0.0

    @property
    def body_velocity(self) -> Tuple[float, float, float]:
        """vx, vy (m/s, y right) and the turn rate (deg/s, clockwise)."""
        vx, vy, wz = self._sim.body_velocity()
        return vx, -vy + 0.0, -math.degrees(wz) + 0.0

    @property
    def battery_percent(self) -> float:
        return self._sim.battery_percent

    @battery_percent.setter
    def battery_percent(self, value: float) -> None:
        self._sim.battery_percent = min(100.0, max(0.0, float(value)))

    @property
    def move(self) -> Optional[MoveProgress]:
        return self._move

    # Commands.

    def drive(self, x: float, y: float, z: float) -> None:
        """ChassisSpeedMode: hold a body velocity; ends any move where it is."""
        self._move = None
        self._sim.drive(Velocity(x, -y, -math.radians(z)))

    def start_move(self, request: MoveRequest) -> MoveProgress:
        sim_request = SimMoveRequest(request.x, -request.y, -request.z,
                                     request.xy_speed, request.z_speed)
        self._sim.start_move(sim_request)
        self._move = MoveProgress(request, self.pose, sim_request.expected_duration())
        return self._move

    def move_displacement(self) -> Tuple[float, float, float]:
        """Where the running (or last) move has got to, in its start frame."""
        if self._move is None:
            return 0.0, 0.0, 0.0
        x0, y0, yaw0 = self._move.start
        x, y, yaw = self.pose
        heading = math.radians(yaw0)
        dx, dy = x - x0, y - y0
        # Rotate the world displacement into the start frame (y right, clockwise yaw).
        forward = dx * math.cos(heading) + dy * math.sin(heading)
        right = -dx * math.sin(heading) + dy * math.cos(heading)
        return forward, right, _wrap_deg(yaw - yaw0)

    def move_percent(self) -> int:
        """Progress of the running move, 0-99: only the final push may say 100."""
        left = self._sim.move_time_left()
        if self._move is None or left is None or self._move.duration <= 0.0:
            return 99
        return max(0, min(99, int(100.0 * (1.0 - left / self._move.duration))))

    def move_time_left(self) -> Optional[float]:
        return self._sim.move_time_left()

    def finish_move(self) -> Optional[MoveProgress]:
        """Forget the move that just completed; return it."""
        move, self._move = self._move, None
        return move

    def advance(self, dt: float) -> bool:
        """Integrate dt seconds; True when a move reached its target in this step."""
        if dt <= 0.0:
            return False
        completed = self._sim.advance(dt)
        for i, rpm in enumerate(self._wheel_rpm()):
            self._wheel_angle[i] = (self._wheel_angle[i] + rpm * 6.0 * dt) % 360.0
        return completed

    # Subscription payloads (struct layouts of the SDK's decoders).

    def position_data(self) -> bytes:
        # PositionSubject: '<fff' x, y in m; z in 0.1 deg (CHASSIS_POS_Z_SUB_CHECKER scale 10).
        x, y, yaw = self.pose
        return struct.pack('<fff', x, y, yaw * 10.0)

    def attitude_data(self) -> bytes:
        # AttiInfoSubject: '<fff' yaw, pitch, roll in deg; yaw wrapped to (-180, 180].
        yaw = self.pose[2]
        return struct.pack('<fff', _wrap_deg(yaw), 0.0, 0.0)

    def velocity_data(self) -> bytes:
        # VelocitySubject: '<ffffff' world (power-on frame) then body, m/s; z unused.
        vx, vy, _ = self.body_velocity
        heading = math.radians(self.pose[2])
        gx = vx * math.cos(heading) - vy * math.sin(heading)
        gy = vx * math.sin(heading) + vy * math.cos(heading)
        return struct.pack('<ffffff', gx, gy, 0.0, vx, vy, 0.0)

    def imu_data(self, elapsed: float) -> bytes:
        """ImuSubject: acc in g (mean over `elapsed` s since the last sample), gyro in
        deg/s, SDK axes (z down: at rest acc z reads -1 g)."""
        sample = self._sim.imu(elapsed)
        return struct.pack('<ffffff', sample.ax / GRAVITY, -sample.ay / GRAVITY, -1.0,
                           0.0, 0.0, self.body_velocity[2])

    def esc_data(self) -> bytes:
        # EscSubject '<hhhhhhhhIIIIBBBB': rpm (front right, front left, rear left, rear
        # right; the left motors are mirrored, so forward reads negative), angle, count, state.
        fr, fl, rl, rr = self._wheel_rpm()
        speeds = [round(fr), round(-fl), round(-rl), round(rr)]
        mirrored = [1, -1, -1, 1]
        angles = [int((sign * angle % 360.0) / 360.0 * WHEEL_ANGLE_FULL_TURN)
                  % WHEEL_ANGLE_FULL_TURN for sign, angle in zip(mirrored, self._wheel_angle)]
        self._esc_counter = (self._esc_counter + 1) & 0xFFFFFFFF
        return struct.pack('<hhhhhhhhIIIIBBBB', *speeds, *angles,
                           *([self._esc_counter] * 4), 0, 0, 0, 0)

    def battery_data(self) -> bytes:
        # BatterySubject '<HhiBB': adc mV, temperature 0.1 degC, current mA, percent, spare.
        percent = round(self.battery_percent)
        millivolts = 10000 + 16 * percent
        return struct.pack('<HhiBB', millivolts, 350, -1200, percent, 0)

    def _wheel_rpm(self) -> Tuple[float, float, float, float]:
        wheels = self._sim.wheels()
        return wheels.front_right, wheels.front_left, wheels.rear_left, wheels.rear_right


def _wrap_deg(angle: float) -> float:
    """An angle in deg wrapped to [-180, 180)."""
    return (angle + 180.0) % 360.0 - 180.0
