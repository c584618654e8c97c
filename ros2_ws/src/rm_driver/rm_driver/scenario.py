"""The manual's scenario as a ROS client: start a session, move 1 m, end the session.

    ros2 run rm_driver scenario [--robot /ep01] [--user-id test_admin]
                                [--distance 1.0] [--speed 0.5] [--timeout 10]
    (or the same as ROS parameters: --ros-args -p robot:=/ep01 -p user_id:=...)

Works against the simulator and real robots alike: the robot's serial comes from its
status topic. Prints one line per step; exits 0 on success, 1 with the reason on
stderr otherwise. The session is ended even when the move fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, List, Optional

import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future
from rclpy.utilities import remove_ros_args

from action_msgs.msg import GoalStatus
from robot_interfaces.action import Move
from robot_interfaces.msg import CommandResult, RobotStatus
from robot_interfaces.qos import record_qos
from robot_interfaces.srv import EndSession, StartSession

STEPS = 4


class ScenarioFailed(RuntimeError):
    """A step failed; str() says which and why."""


class Scenario:
    """Runs the steps on its own node and executor (no background threads)."""

    def __init__(self, node: Node, robot: str, user_id: str, distance: float, speed: float,
                 timeout: float) -> None:
        self.node = node
        self.robot = '/' + robot.strip('/')
        self.user_id = user_id
        self.distance = distance
        self.speed = speed
        self.timeout = timeout
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(node)
        self.statuses: List[RobotStatus] = []
        self.results: List[CommandResult] = []
        node.create_subscription(RobotStatus, f'{self.robot}/status', self.statuses.append,
                                 record_qos(1))
        node.create_subscription(CommandResult, f'{self.robot}/command_result',
                                 self.results.append, record_qos(100))

    def run(self) -> None:
        serial = self.robot_serial()
        session_id = self.start_session(serial)
        try:
            self.move()
        except ScenarioFailed as move_error:
            try:
                self.end_session(session_id, serial)
            except ScenarioFailed as end_error:
                raise ScenarioFailed(f'{move_error}; then {end_error}') from None
            raise
        self.end_session(session_id, serial)

    def step(self, number: int, text: str) -> None:
        print(f'[{number}/{STEPS}] {text}', flush=True)

    def spin_until(self, future: Future, timeout: float) -> bool:
        self.executor.spin_until_future_complete(future, timeout_sec=timeout)
        return future.done()

    def spin_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        return bool(predicate())

    def robot_serial(self) -> str:
        if not self.spin_for(lambda: self.statuses, self.timeout):
            raise ScenarioFailed(f'no status from robot {self.robot} within {self.timeout:g} s '
                                 f'(is its rm_driver running, with the same ROS_DOMAIN_ID?)')
        status = self.statuses[-1]
        if status.status in (RobotStatus.STATUS_DISCONNECTED, RobotStatus.STATUS_ERROR):
            raise ScenarioFailed(f'robot {status.robot_serial} is {status.status}')
        self.step(1, f'robot {self.robot}: serial {status.robot_serial}, status {status.status}')
        return status.robot_serial

    def call(self, srv_type: Any, name: str, request: Any) -> Any:
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=self.timeout):
                raise ScenarioFailed(f'service {name} not available after {self.timeout:g} s '
                                     f'(is db_logger running?)')
            future = client.call_async(request)
            if not self.spin_until(future, self.timeout):
                raise ScenarioFailed(f'service {name} did not answer within {self.timeout:g} s')
            return future.result()
        finally:
            self.node.destroy_client(client)

    def start_session(self, serial: str) -> int:
        response = self.call(StartSession, '/session/start', StartSession.Request(
            user_id=self.user_id, robot_serial=serial, note='rm_driver scenario'))
        if not response.success:
            raise ScenarioFailed(f'session refused: {response.message}')
        self.step(2, f'session {response.session_id} started for user {self.user_id} '
                     f'on {serial}')
        return response.session_id

    def move(self) -> None:
        client = ActionClient(self.node, Move, f'{self.robot}/move')
        if not client.wait_for_server(timeout_sec=self.timeout):
            raise ScenarioFailed(f'action {self.robot}/move not available after '
                                 f'{self.timeout:g} s')
        started = time.monotonic()
        goal_future = client.send_goal_async(Move.Goal(x=self.distance, xy_speed=self.speed))
        if not self.spin_until(goal_future, self.timeout):
            raise ScenarioFailed('the move goal got no answer')
        handle = goal_future.result()
        if not handle.accepted:
            raise ScenarioFailed(f'move rejected: {self.rejection_reason()}')
        limit = abs(self.distance) / max(self.speed, 0.5) * 2.0 + self.timeout
        result_future = handle.get_result_async()
        if not self.spin_until(result_future, limit):
            handle.cancel_goal_async()
            raise ScenarioFailed(f'move did not finish within {limit:.0f} s (canceled)')
        wrapped = result_future.result()
        result = wrapped.result
        if wrapped.status != GoalStatus.STATUS_SUCCEEDED or not result.success:
            raise ScenarioFailed(f'move failed: {result.message or wrapped.status}')
        self.step(3, f'moved {self.distance:g} m at {self.speed:g} m/s in '
                     f'{time.monotonic() - started:.1f} s (command {result.command_id})')

    def rejection_reason(self) -> str:
        def rejected() -> Optional[CommandResult]:
            return next((r for r in reversed(self.results)
                         if r.command_type == CommandResult.TYPE_MOVE
                         and r.result == CommandResult.RESULT_REJECTED), None)
        self.spin_for(lambda: rejected() is not None, 2.0)
        found = rejected()
        return found.message if found else f'see {self.robot}/command_result'

    def end_session(self, session_id: int, serial: str) -> None:
        response = self.call(EndSession, '/session/end',
                             EndSession.Request(session_id=session_id, robot_serial=serial))
        if not response.success:
            raise ScenarioFailed(f'ending session {session_id} failed: {response.message}')
        self.step(4, f'session {session_id} ended')


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='scenario', description=__doc__.split('\n')[0])
    parser.add_argument('--robot', help='robot namespace (default /robot)')
    parser.add_argument('--user-id', help='Users.user_id running the session (test_admin)')
    parser.add_argument('--distance', type=float, help='m to move forward (1.0)')
    parser.add_argument('--speed', type=float, help='m/s, 0.5-2 (0.5)')
    parser.add_argument('--timeout', type=float, help='s to wait for each service (10)')
    return parser.parse_args(argv)


def main(args: Optional[List[str]] = None) -> None:
    argv = remove_ros_args(args if args is not None else sys.argv)[1:]
    options = parse_args(argv)
    rclpy.init(args=args)
    node = Node('scenario')
    exit_code = 0
    try:
        def option(name: str, default: Any, given: Any) -> Any:
            value = node.declare_parameter(name, default).value
            return given if given is not None else value
        scenario = Scenario(node, option('robot', '/robot', options.robot),
                            option('user_id', 'test_admin', options.user_id),
                            option('distance', 1.0, options.distance),
                            option('speed', 0.5, options.speed),
                            option('timeout', 10.0, options.timeout))
        scenario.run()
        print('scenario succeeded', flush=True)
    except ScenarioFailed as error:
        print(f'scenario failed: {error}', file=sys.stderr, flush=True)
        exit_code = 1
    except KeyboardInterrupt:
        exit_code = 130
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    sys.exit(exit_code)


if __name__ == '__main__':
    main()
