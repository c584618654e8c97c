"""ROS messages built from backend samples (REP 103 / SI units already)."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, Imu

from robot_interfaces.msg import WheelSpeeds
from rm_driver.backend import ImuSample, OdomSample, WheelSample


def quaternion_from_rpy(roll: float, pitch: float, yaw: float) -> Quaternion:
    """Fixed-axis roll, pitch, yaw (ZYX Tait-Bryan) to a unit quaternion."""
    cr, sr = math.cos(roll / 2.0), math.sin(roll / 2.0)
    cp, sp = math.cos(pitch / 2.0), math.sin(pitch / 2.0)
    cy, sy = math.cos(yaw / 2.0), math.sin(yaw / 2.0)
    return Quaternion(x=sr * cp * cy - cr * sp * sy, y=cr * sp * cy + sr * cp * sy,
                      z=cr * cp * sy - sr * sp * cy, w=cr * cp * cy + sr * sp * sy)


def odometry(sample: OdomSample, stamp: Time, odom_frame: str, base_frame: str) -> Odometry:
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose.position.x = sample.x
    msg.pose.pose.position.y = sample.y
    msg.pose.pose.orientation = quaternion_from_rpy(0.0, 0.0, sample.yaw)
    msg.twist.twist.linear.x = sample.vx   # twist is in child_frame_id (the base)
    msg.twist.twist.linear.y = sample.vy
    msg.twist.twist.angular.z = sample.wz
    return msg


def imu(sample: ImuSample, stamp: Time, frame: str) -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame
    msg.orientation = quaternion_from_rpy(sample.roll, sample.pitch, sample.yaw)
    msg.angular_velocity.x = sample.gx
    msg.angular_velocity.y = sample.gy
    msg.angular_velocity.z = sample.gz
    msg.linear_acceleration.x = sample.ax
    msg.linear_acceleration.y = sample.ay
    msg.linear_acceleration.z = sample.az
    return msg  # covariances stay 0: "unknown" (REP 145)


def battery(percent: float, stamp: Time, simulated: bool) -> BatteryState:
    msg = BatteryState()
    msg.header.stamp = stamp
    msg.percentage = percent / 100.0 if math.isfinite(percent) else math.nan
    # The SDK reports only the charge percentage.
    msg.voltage = math.nan
    msg.temperature = math.nan
    msg.current = math.nan
    msg.charge = math.nan
    msg.capacity = math.nan
    msg.design_capacity = math.nan
    msg.present = True
    msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LIPO
    msg.power_supply_status = (BatteryState.POWER_SUPPLY_STATUS_DISCHARGING if simulated
                               else BatteryState.POWER_SUPPLY_STATUS_UNKNOWN)
    return msg


def wheel_speeds(sample: WheelSample, stamp: Time, frame: str) -> WheelSpeeds:
    msg = WheelSpeeds()
    msg.header.stamp = stamp
    msg.header.frame_id = frame
    msg.front_right_rpm = float(sample.front_right)
    msg.front_left_rpm = float(sample.front_left)
    msg.rear_left_rpm = float(sample.rear_left)
    msg.rear_right_rpm = float(sample.rear_right)
    return msg
