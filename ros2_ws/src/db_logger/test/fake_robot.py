"""A robot as the logger sees it: what a driver publishes, with the driver's QoS, from the
test process."""

import threading
import time
import uuid
from typing import List

from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus
from robot_interfaces.qos import record_qos

LOG_QOS = record_qos()


class FakeRobot:
    """Publishes what a driver publishes, with the driver's QoS, from the test process."""

    def __init__(self, node, namespace: str, serial: str, result_qos=LOG_QOS):
        self.node = node
        self.serial = serial
        self.status_pub = node.create_publisher(RobotStatus, f'{namespace}/status', LOG_QOS)
        self.result_pub = node.create_publisher(CommandResult, f'{namespace}/command_result',
                                                result_qos)
        self.event_pub = node.create_publisher(RobotEvent, f'{namespace}/event', LOG_QOS)

    def _stamp(self, msg):
        msg.header.stamp = self.node.get_clock().now().to_msg()
        return msg

    def status(self, status='Idle', battery=87.5, **fields):
        msg = RobotStatus(robot_serial=self.serial, model_type='EP01', status=status,
                          ip_address='192.0.2.7', battery_percent=battery)
        for key, value in fields.items():
            setattr(msg, key, value)
        self.status_pub.publish(self._stamp(msg))
        return msg

    def result(self, **fields) -> CommandResult:
        msg = CommandResult(robot_serial=self.serial, command_id=str(uuid.uuid4()),
                            command_type='Move', payload_json='{"x": 1.0, "xy_speed": 0.5}',
                            result='Success', message='')
        for key, value in fields.items():
            setattr(msg, key, value)
        self.result_pub.publish(self._stamp(msg))
        return msg

    def event(self, **fields) -> RobotEvent:
        msg = RobotEvent(robot_serial=self.serial, event_id=str(uuid.uuid4()),
                         event_type='Goal', message='')
        for key, value in fields.items():
            setattr(msg, key, value)
        self.event_pub.publish(self._stamp(msg))
        return msg


class SteadyPublisher:
    """Publishes CommandResults at a fixed rate from a thread; remembers every id."""

    def __init__(self, robot: FakeRobot, rate_hz: float):
        self.robot = robot
        self.period = 1.0 / rate_hz
        self.ids: List[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set() and len(self.ids) < 100000:
            msg = self.robot.result(command_type='Velocity',
                                    payload_json=f'{{"n": {len(self.ids)}}}')
            self.ids.append(msg.command_id)
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
