"""Publishing what the database keeps: status, events and command results.

All three use robot_interfaces.qos.record_qos(history_depth), so a logger that starts
(or restarts) late still receives them, as far back as that depth.
"""

from __future__ import annotations

import math
import uuid

from rclpy.node import Node

from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus
from robot_interfaces.qos import record_qos


class RobotReporter:
    """Stamps (node clock, UTC wall time in practice), ids and publishes the records."""

    def __init__(self, node: Node, history_depth: int) -> None:
        self._node = node
        qos = record_qos(history_depth)
        self._status_pub = node.create_publisher(RobotStatus, 'status', qos)
        self._event_pub = node.create_publisher(RobotEvent, 'event', qos)
        self._result_pub = node.create_publisher(CommandResult, 'command_result', qos)
        self.serial = ''
        self.model_type = ''
        self.ip_address = ''

    def _stamp(self):
        return self._node.get_clock().now().to_msg()

    @property
    def ready(self) -> bool:
        """Records need the robot's serial; an sdk robot never reached has none yet."""
        return bool(self.serial)

    def status(self, status: str, battery_percent: float) -> None:
        if not self.ready:
            return
        msg = RobotStatus(robot_serial=self.serial, model_type=self.model_type, status=status,
                          ip_address=self.ip_address)
        msg.header.stamp = self._stamp()
        msg.battery_percent = float(battery_percent) if math.isfinite(battery_percent) \
            else math.nan
        self._status_pub.publish(msg)

    def event(self, event_type: str, message: str) -> str:
        event_id = str(uuid.uuid4())
        if self.ready:
            msg = RobotEvent(robot_serial=self.serial, event_id=event_id,
                             event_type=event_type, message=message)
            msg.header.stamp = self._stamp()
            self._event_pub.publish(msg)
        self._node.get_logger().info(f'event {event_type}: {message}')
        return event_id

    def result(self, command_type: str, payload_json: str, result: str, message: str,
               command_id: str = '') -> str:
        """Publish one command_result; return its command_id (fresh unless given)."""
        command_id = command_id or str(uuid.uuid4())
        if self.ready:
            msg = CommandResult(robot_serial=self.serial, command_id=command_id,
                                command_type=command_type, payload_json=payload_json,
                                result=result, message=message)
            msg.header.stamp = self._stamp()
            self._result_pub.publish(msg)
        text = f'{command_type} {result}: {message} {payload_json}'
        # rclpy fixes a call site's severity at its first call: one call site per level.
        if result == CommandResult.RESULT_SUCCESS:
            self._node.get_logger().info(text)
        else:
            self._node.get_logger().warning(text)
        return command_id
