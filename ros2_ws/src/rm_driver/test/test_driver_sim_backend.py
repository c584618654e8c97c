"""SimBackend's timers on an in-process node: driving adds no periodic work to the
telemetry ticks, and a move arms one timer, for its end."""

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from rm_driver.backend import TelemetryRates
from rm_driver.commands import Velocity, move_request
from rm_driver.sim_backend import SimBackend
from robot_db_testing.ros_client import wait_until


class RecordedEvents:
    """Any BackendEvents call is recorded as (name, args)."""

    def __init__(self) -> None:
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args))


@pytest.fixture
def node():
    context = Context()
    rclpy.init(context=context)
    node = Node('sim_backend_test', context=context, start_parameter_services=False)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def armed(node: Node) -> list:
    return [timer for timer in node.timers if not timer.is_canceled()]


def test_driving_arms_no_timer_beyond_the_telemetry_ones(node):
    backend = SimBackend(node, RecordedEvents(), 'SIM-test', '', TelemetryRates(), 100.0, 0.0)
    backend.start()
    telemetry = armed(node)
    assert len(telemetry) == 3   # 20 Hz odom + imu, 10 Hz wheel speeds, 1 Hz battery
    backend.drive(Velocity(0.5, 0.0, 0.3))
    assert armed(node) == telemetry
    backend.drive(Velocity())
    assert armed(node) == telemetry


def test_a_move_arms_one_timer_for_its_end_and_drops_it_when_done(node):
    events = RecordedEvents()
    backend = SimBackend(node, events, 'SIM-test', '', TelemetryRates(odom=1, imu=1,
                                                                      wheel_speeds=1), 100.0,
                         0.0)
    backend.start()
    telemetry = armed(node)
    done = []
    backend.start_move(move_request(0.1, 0.0, 0.0, 0.5, 0.0), lambda *r: done.append(r))
    move_end = [timer for timer in armed(node) if timer not in telemetry]
    assert len(move_end) == 1
    assert move_end[0].timer_period_ns == pytest.approx(0.2e9, rel=0.01)   # 0.1 m at 0.5 m/s
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        assert wait_until(lambda: done or executor.spin_once(timeout_sec=0.05), 10)
    finally:
        executor.shutdown(timeout_sec=1.0)
    assert done == [('succeeded', 'move completed')]
    assert armed(node) == telemetry
