"""Unit and frame conversions between the robomaster SDK and REP 103.

The SDK's chassis frame is x forward, y right, z down (so yaw is clockwise seen from
above); ROS is x forward, y left, z up. Going from one to the other is a half turn
about x: x stays, y and z change sign, roll stays, pitch and yaw change sign.
SDK payloads (see robomaster.chassis / battery / armor docs):
  sub_position  (x, y, z)                      m, m, deg
  sub_attitude  (yaw, pitch, roll)             deg
  sub_imu       (acc_x, acc_y, acc_z, gyro_x, gyro_y, gyro_z)   g, deg/s
  sub_velocity  (vgx, vgy, vgz, vbx, vby, vbz) m/s (g = power-on frame, b = body)
  sub_esc       (speed[4], angle[4], timestamp[4], state[4])    rpm, 0-32767, ...
                wheel order front right, front left, rear left, rear right; the
                left motors turn the other way, so their rpm is negated
  sub_battery_info  percent
  sub_hit_event (armor_id, hit_type)
"""

from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

from rm_driver.backend import ImuSample, WheelSample
from rm_driver.commands import MoveRequest, Velocity

GRAVITY = 9.80665


def position_to_rep103(payload: Sequence[float]) -> Tuple[float, float]:
    """sub_position (x, y, z) -> (x, y) in metres, y left."""
    return float(payload[0]), -float(payload[1])


def attitude_to_rep103(payload: Sequence[float]) -> Tuple[float, float, float]:
    """sub_attitude (yaw, pitch, roll) in deg -> (roll, pitch, yaw) in rad, REP 103."""
    yaw, pitch, roll = (float(v) for v in payload[:3])
    return math.radians(roll), -math.radians(pitch), -math.radians(yaw)


def imu_to_rep103(payload: Sequence[float], roll: float = 0.0, pitch: float = 0.0,
                  yaw: float = 0.0) -> ImuSample:
    """sub_imu (acc in g, gyro in deg/s) -> m/s^2 and rad/s in REP 103 axes."""
    ax, ay, az, gx, gy, gz = (float(v) for v in payload[:6])
    return ImuSample(roll, pitch, yaw, ax * GRAVITY, -ay * GRAVITY, -az * GRAVITY,
                     math.radians(gx), -math.radians(gy), -math.radians(gz))


def velocity_to_rep103(payload: Sequence[float]) -> Tuple[float, float]:
    """sub_velocity (vgx, vgy, vgz, vbx, vby, vbz) -> body (vx, vy) in m/s, y left."""
    return float(payload[3]), -float(payload[4])


def esc_to_wheels(payload: Sequence[Sequence[float]]) -> WheelSample:
    """sub_esc (speed[4], ...) -> rpm per wheel, positive when driving forward."""
    speed = [float(v) for v in payload[0]]
    return WheelSample(front_right=speed[0], front_left=-speed[1],
                       rear_left=-speed[2], rear_right=speed[3])


def drive_speed_args(command: Velocity) -> Dict[str, float]:
    """Velocity (REP 103, rad/s) -> chassis.drive_speed(x, y, z) (y right, z deg/s cw)."""
    return {'x': command.vx, 'y': -command.vy, 'z': -math.degrees(command.wz)}


def move_args(request: MoveRequest) -> Dict[str, float]:
    """MoveRequest (y left, yaw ccw) -> chassis.move(x, y, z, xy_speed, z_speed)."""
    return {'x': request.x, 'y': -request.y, 'z': -request.yaw,
            'xy_speed': request.xy_speed, 'z_speed': request.yaw_speed}
