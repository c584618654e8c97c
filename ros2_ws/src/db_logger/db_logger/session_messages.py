"""Stored rows back into the messages the driver published (replay and export share it).

What the tables keep comes back exactly (to their precision: FLOAT columns are float32,
telemetry stamps microseconds, command and event stamps milliseconds); what they do not
keep comes back as rm_driver publishes it by default: its frame ids, zero covariances
("unknown", REP 145), a BatteryState with only percentage (and voltage when known).
BatteryState.power_supply_status is not stored, so it comes back UNKNOWN.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile
from sensor_msgs.msg import BatteryState, Imu

from db_logger.session_samples import Row
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus, WheelSpeeds
from robot_interfaces.qos import RECORD_HISTORY_DEPTH, record_qos, telemetry_qos

# rm_driver's default odom_frame, base_frame and imu_frame parameters
ODOM_FRAME, BASE_FRAME, IMU_FRAME = 'odom', 'base_link', 'imu_link'
TYPES = {'status': RobotStatus, 'battery': BatteryState, 'odom': Odometry, 'imu': Imu,
         'wheel_speeds': WheelSpeeds, 'command_result': CommandResult, 'event': RobotEvent}
RECORD_STREAMS = ('status', 'command_result', 'event')


def type_name(stream: str) -> str:
    """'nav_msgs/msg/Odometry' for 'odom'."""
    msg_type = TYPES[stream]
    return f'{msg_type.__module__.split(".")[0]}/msg/{msg_type.__name__}'


def stream_qos(stream: str, history_depth: int = RECORD_HISTORY_DEPTH) -> QoSProfile:
    """The driver's QoS of that stream (robot_interfaces.qos)."""
    return record_qos(history_depth) if stream in RECORD_STREAMS else telemetry_qos()


def default_namespace(serial: str) -> str:
    """/replay/<serial> as a valid ROS name: SIM-robot -> /replay/SIM_robot.

    A name token must not start with a digit, so 3JKCK980030E3K -> /replay/sn_3JKCK980030E3K.
    """
    token = re.sub(r'[^A-Za-z0-9_]', '_', serial) or 'unknown'
    return '/replay/' + ('sn_' + token if token[0].isdigit() else token)


def stamp_msg(stamp_ns: int) -> Time:
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def _known(value: Optional[float]) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class MessageFactory:
    """Builds each stream's message from its Row for one robot."""

    serial: str
    model_type: str

    def build(self, row: Row):
        msg = self._builders()[row.stream](*row.values)
        msg.header.stamp = stamp_msg(row.stamp_ns)
        return msg

    def _builders(self) -> Dict[str, Callable]:
        return {'status': self.status, 'battery': battery, 'odom': odometry, 'imu': imu,
                'wheel_speeds': wheel_speeds, 'command_result': self.command_result,
                'event': self.event}

    def status(self, status: str, battery_percent, ip_address) -> RobotStatus:
        return RobotStatus(robot_serial=self.serial, model_type=self.model_type, status=status,
                           ip_address=ip_address or '', battery_percent=_known(battery_percent))

    def command_result(self, msg_uuid: str, command_type: str, payload, result: str,
                       message) -> CommandResult:
        return CommandResult(robot_serial=self.serial, command_id=msg_uuid,
                             command_type=command_type, payload_json=payload or '',
                             result=result, message=message or '')

    def event(self, msg_uuid: str, event_type: str, message) -> RobotEvent:
        return RobotEvent(robot_serial=self.serial, event_id=msg_uuid, event_type=event_type,
                          message=message or '')


def odometry(x, y, yaw, vx, vy, wz) -> Odometry:
    msg = Odometry()
    msg.header.frame_id = ODOM_FRAME
    msg.child_frame_id = BASE_FRAME
    msg.pose.pose.position.x = float(x)
    msg.pose.pose.position.y = float(y)
    # planar pose: the quaternion of a yaw about z, as the driver builds it
    msg.pose.pose.orientation.z = math.sin(yaw / 2.0)
    msg.pose.pose.orientation.w = math.cos(yaw / 2.0)
    msg.twist.twist.linear.x = float(vx)
    msg.twist.twist.linear.y = float(vy)
    msg.twist.twist.angular.z = float(wz)
    return msg


def imu(qx, qy, qz, qw, gx, gy, gz, ax, ay, az) -> Imu:
    msg = Imu()
    msg.header.frame_id = IMU_FRAME
    o, g, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    o.x, o.y, o.z, o.w = float(qx), float(qy), float(qz), float(qw)
    g.x, g.y, g.z = float(gx), float(gy), float(gz)
    a.x, a.y, a.z = float(ax), float(ay), float(az)
    return msg


def wheel_speeds(front_right, front_left, rear_left, rear_right) -> WheelSpeeds:
    msg = WheelSpeeds(front_right_rpm=float(front_right), front_left_rpm=float(front_left),
                      rear_left_rpm=float(rear_left), rear_right_rpm=float(rear_right))
    msg.header.frame_id = BASE_FRAME
    return msg


def battery(percent, voltage) -> BatteryState:
    msg = BatteryState()
    msg.percentage = _known(percent) / 100.0
    msg.voltage = _known(voltage)
    msg.temperature = msg.current = msg.charge = math.nan
    msg.capacity = msg.design_capacity = math.nan
    msg.present = True
    msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LIPO
    msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_UNKNOWN
    return msg
