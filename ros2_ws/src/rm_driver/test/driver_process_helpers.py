"""Starting the installed driver in its own namespace and watching its topics."""

from __future__ import annotations

import json
import uuid
from typing import Callable, List

from nav_msgs.msg import Odometry
from rclpy.action import ActionClient
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import BatteryState

from robot_interfaces.action import Move
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus
from robot_interfaces.qos import record_qos
from robot_db_testing.ros_client import RosTestClient, wait_until

STARTUP_TIMEOUT = 20.0


class Driver:
    """One driver process (sim unless backend says otherwise) plus live lists of what it
    publishes."""

    def __init__(self, nodes: Callable, client: RosTestClient, *params: str,
                 backend: str = 'sim') -> None:
        self.namespace = 'ep_' + uuid.uuid4().hex[:8]
        self.client = client
        self.statuses: List[RobotStatus] = self.collect(RobotStatus, 'status')
        self.events: List[RobotEvent] = self.collect(RobotEvent, 'event')
        self.results: List[CommandResult] = self.collect(CommandResult, 'command_result')
        self.odoms: List[Odometry] = client.collect(Odometry, self.name('odom'),
                                                    qos_profile_sensor_data)
        args = ['-r', f'__ns:=/{self.namespace}', '-p', f'backend:={backend}']
        for param in params:
            args += ['-p', param]
        self.process = nodes('rm_driver', 'rm_driver', *args)
        if not wait_until(lambda: self.statuses and self.odoms, STARTUP_TIMEOUT):
            raise AssertionError(f'driver /{self.namespace} published no status and odom '
                                 f'within {STARTUP_TIMEOUT} s:\n{self.process.output()[-2000:]}')

    def name(self, relative: str) -> str:
        return f'/{self.namespace}/{relative}'

    def collect(self, msg_type, relative: str) -> List:
        return self.client.collect(msg_type, self.name(relative), record_qos(1000))

    def battery(self) -> List[BatteryState]:
        return self.client.collect(BatteryState, self.name('battery'), qos_profile_sensor_data)

    def events_of(self, event_type: str) -> List[RobotEvent]:
        return [e for e in list(self.events) if e.event_type == event_type]

    def results_of(self, command_type: str) -> List[CommandResult]:
        return [r for r in list(self.results) if r.command_type == command_type]

    def status_sequence(self) -> List[str]:
        """Statuses with consecutive repeats (the 1 Hz refresh) removed."""
        sequence: List[str] = []
        for status in list(self.statuses):
            if not sequence or sequence[-1] != status.status:
                sequence.append(status.status)
        return sequence

    def x(self) -> float:
        return self.odoms[-1].pose.pose.position.x

    def odom_count_after(self, count: int) -> Callable[[], bool]:
        start = len(self.odoms)
        return lambda: len(self.odoms) >= start + count

    def move_client(self) -> 'MoveClient':
        return MoveClient(self.client, self.name('move'))


class MoveClient:
    """The driver's move action; every call runs on the test client's executor thread
    (RosTestClient.on_spin_thread says why)."""

    def __init__(self, ros_client: RosTestClient, name: str) -> None:
        self._ros = ros_client
        # made on that thread too: Kilted's ActionClient joins the node's waitables before
        # it has its lock, and a spin in between ends the executor thread
        self.action = ros_client.on_spin_thread(lambda: ActionClient(ros_client.node, Move, name))
        assert self.action.wait_for_server(timeout_sec=10.0), 'move action server not found'

    def send_goal(self, feedback: List = None, **fields: float):
        """Send a Move goal; return its (accepted or not) goal handle."""
        callback = feedback.append if feedback is not None else None
        future = self._ros.on_spin_thread(
            lambda: self.action.send_goal_async(Move.Goal(**fields), feedback_callback=callback))
        assert wait_until(future.done, 10.0), 'no answer to the goal'
        return future.result()

    def result_async(self, handle):
        return self._ros.on_spin_thread(handle.get_result_async)

    def cancel_async(self, handle):
        return self._ros.on_spin_thread(handle.cancel_goal_async)


def payload(result: CommandResult) -> dict:
    return json.loads(result.payload_json)
