"""launch_testing: `launch/pipeline.launch.py` with the sim backend and the logger.

Runs where ROS 2 is fully installed (launch, launch_ros, launch_testing); skips itself
elsewhere (the PyPI wheels have no launch). A private MariaDB of the test's own (free
port, temporary directory, migrated) backs the logger; the launch brings up db_logger
and two drivers, each robot must publish its status and reach the Robots table, and
after the launch's own shutdown (SIGINT to every node) every process must have exited
0 with nothing on stderr but ordinary log lines.
"""

import atexit
import tempfile
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
from robot_db_testing.private_mariadb import APP_USER, MIGRATION_USER, PrivateMariaDB  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from robot_interfaces.msg import RobotStatus  # noqa: E402
from robot_interfaces.qos import record_qos  # noqa: E402

from robot_db_testing.database import free_port, TestDatabase  # noqa: E402
from tests.support.pipeline import params_file_for  # noqa: E402
from robot_db_testing.processes import unexpected_stderr_lines  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / 'launch' / 'pipeline.launch.py'
ROBOTS = ('ep01', 'ep02')
SERIAL = 'LAUNCHTEST01'


def migrated_database(workdir: Path) -> TestDatabase:
    """A private MariaDB for this test module, stopped when the test process exits."""
    server = PrivateMariaDB(workdir / 'mariadb', free_port())
    server.start()
    atexit.register(server.stop)
    server.create_database('launch_test')
    db = TestDatabase(server, 'launch_test', server.credentials(APP_USER, 'launch_test'),
                      server.credentials(MIGRATION_USER, 'launch_test'))
    db.migrate()
    return db


@pytest.mark.launch_test
def generate_test_description():
    workdir = Path(tempfile.mkdtemp(prefix='launch_test_'))
    db = migrated_database(workdir)
    pipeline = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={'backend': 'sim', 'robots': f'{ROBOTS[0]}={SERIAL},{ROBOTS[1]}',
                          'params_file': str(params_file_for(db, workdir)),
                          'db_host': db.app.host, 'db_port': str(db.app.port),
                          'logger': 'true'}.items())
    return LaunchDescription([pipeline, launch_testing.actions.ReadyToTest()]), {'db': db}


class TestPipelineRecords(unittest.TestCase):

    def test_every_robot_publishes_its_status_and_is_recorded(self, db):
        context = rclpy.Context()
        rclpy.init(context=context)
        node = rclpy.create_node('launch_test_listener', context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        qos = record_qos(10)  # the drivers' status QoS, a shallower history
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
        serials = {received[robot].robot_serial for robot in ROBOTS}
        deadline = time.monotonic() + 30.0
        recorded = set()
        while recorded != serials and time.monotonic() < deadline:
            recorded = {row[0] for row in db.query('SELECT serial FROM Robots')}
            time.sleep(0.5)
        self.assertEqual(recorded, serials, 'both robots in the Robots table within 30 s')


@launch_testing.post_shutdown_test()
class TestCleanShutdown(unittest.TestCase):

    def test_every_node_exits_0(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)  # EXIT_OK only

    def test_nothing_alarming_on_stderr(self, proc_output):
        stderr = b''.join(event.text for event in proc_output if event.from_stderr)
        unexpected = unexpected_stderr_lines(stderr.decode(errors='replace'))
        self.assertEqual(unexpected, [], 'stderr of the launched nodes')
