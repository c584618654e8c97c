"""launch_testing: `launch/pipeline.launch.py` with the sim backend brings up every robot.

Runs where ROS 2 is fully installed (launch, launch_ros, launch_testing); skips itself
elsewhere (the PyPI wheels have no launch). The logger is left out (logger:=false):
it needs a database, and tests/test_run_pipeline.py covers the pipeline with one.
"""

import signal
import time
import unittest
from pathlib import Path

import pytest

launch_testing = pytest.importorskip('launch_testing')
pytest.importorskip('launch_ros')

import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import rclpy  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from robot_interfaces.msg import RobotStatus  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / 'launch' / 'pipeline.launch.py'
ROBOTS = ('ep01', 'ep02')
SERIAL = 'LAUNCHTEST01'


@pytest.mark.launch_test
def generate_test_description():
    pipeline = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={'backend': 'sim', 'robots': f'{ROBOTS[0]}={SERIAL},{ROBOTS[1]}',
                          'logger': 'false'}.items())
    return LaunchDescription([pipeline, launch_testing.actions.ReadyToTest()])


class TestStatusAppears(unittest.TestCase):

    def test_every_robot_publishes_its_status(self):
        context = rclpy.Context()
        rclpy.init(context=context)
        node = rclpy.create_node('launch_test_listener', context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        # The drivers' status QoS: reliable, transient local (DESIGN.md).
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
        received = {}
        for robot in ROBOTS:
            node.create_subscription(
                RobotStatus, f'/{robot}/status',
                lambda msg, robot=robot: received.setdefault(robot, msg), qos)
        try:
            deadline = time.monotonic() + 30.0
            while len(received) < len(ROBOTS) and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.1)
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown(context=context)
        self.assertEqual(sorted(received), sorted(ROBOTS), 'status topics heard within 30 s')
        self.assertEqual(received[ROBOTS[0]].robot_serial, SERIAL)


@launch_testing.post_shutdown_test()
class TestCleanShutdown(unittest.TestCase):

    def test_drivers_exit_cleanly_on_sigint(self, proc_info):
        launch_testing.asserts.assertExitCodes(
            proc_info, allowable_exit_codes=[launch_testing.asserts.EXIT_OK, -signal.SIGINT])
