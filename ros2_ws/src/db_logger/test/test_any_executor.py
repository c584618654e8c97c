"""DbLogger in this process, spun by an executor the way a host spins any node.

Nothing from db_logger's own main(): the node alone must find a robot that appears
later, record it and report on /diagnostics, and end its host when its writer dies.
"""

import os
import signal
import threading
import time
import uuid

import psutil
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, \
    SingleThreadedExecutor
from rclpy.parameter import Parameter

from db_logger.logger_node import DbLogger
from test_logger_node import wait_count
from robot_db_testing.ros_client import first, wait_until

try:
    from rclpy.experimental import EventsExecutor
except ImportError:  # Humble
    EventsExecutor = None


def _spin(executor, node) -> None:
    """rclpy.spin's shape, on the test's context."""
    try:
        rclpy.spin(node, executor=executor)
    except ExternalShutdownException:
        pass


def _spin_turns(executor, node) -> None:
    """The EventsExecutor as db_logger's main() turns it: its spin() deadlocks a call from
    another thread (rclpy 7.1.6 and 9.1.2), so no host can use that."""
    executor.add_node(node)
    try:
        while node.context.ok():
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass


EXECUTORS = {
    'single': (SingleThreadedExecutor, _spin),
    'multi': (MultiThreadedExecutor, _spin),
    'events': (EventsExecutor, _spin_turns),
}


@pytest.fixture(params=sorted(EXECUTORS))
def hosted_logger(request, fresh_db, tmp_path):
    """A DbLogger on its own context, spun from a thread by one kind of executor."""
    executor_type, spin = EXECUTORS[request.param]
    if executor_type is None:
        pytest.skip('no EventsExecutor in this rclpy')
    context = Context()
    rclpy.init(context=context)
    creds = fresh_db.app
    node = DbLogger(context=context, parameter_overrides=[
        Parameter('db.host', value=creds.host), Parameter('db.port', value=creds.port),
        Parameter('db.name', value=fresh_db.name), Parameter('db.user', value=creds.user),
        Parameter('db.password_file', value=str(creds.password_file)),
        Parameter('journal_dir', value=str(tmp_path / 'journal')),
        Parameter('discovery_period', value=0.5)])
    executor = executor_type(context=context)
    thread = threading.Thread(target=spin, args=(executor, node), daemon=True)
    thread.start()
    yield node, thread
    executor.shutdown(timeout_sec=5.0)
    node.destroy_node()
    context.try_shutdown()
    thread.join(10.0)
    assert not thread.is_alive()


def test_the_node_alone_records_a_robot_that_appears_later_and_reports_its_health(
        hosted_logger, fresh_db, robot_factory, ros_client):
    node, _ = hosted_logger
    health = ros_client.collect(DiagnosticArray, '/diagnostics', 10)
    time.sleep(1.0)  # the node has scanned the graph at least once without this robot
    namespace = '/late_' + uuid.uuid4().hex[:8]
    robot = robot_factory(namespace, 'SN-HOSTED')
    robot.status('Active', battery=71.0)
    assert wait_count(fresh_db, "SELECT COUNT(*) FROM Robots WHERE serial = 'SN-HOSTED' "
                                "AND status = 'Active'", 1) == 1
    robot.event(event_type='Collision', message='armor 2 hit')
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM EventLogs', 1) == 1

    def recording(array):
        return any(s.name == 'db_logger: database writer' and s.message == 'recording'
                   for s in array.status)
    assert wait_until(lambda: first(health, recording) is not None, 10.0)


def test_a_dead_writer_ends_whatever_spins_the_node_saying_why(hosted_logger):
    node, thread = hosted_logger
    assert wait_until(lambda: node.writer.stats.connected, 15.0)
    writers = [p for p in psutil.Process(os.getpid()).children()
               if 'db_logger.writer_process' in ' '.join(p.cmdline())
               and str(node.settings.journal_dir) in p.cmdline()]
    assert len(writers) == 1
    os.kill(writers[0].pid, signal.SIGKILL)
    thread.join(10.0)
    assert not thread.is_alive(), 'the executor still spins'
    assert node.failure == 'the writer process exited (-9)'


def test_the_executable_exits_3_naming_its_dead_writer(fresh_db, start_logger):
    logger = start_logger(fresh_db)
    assert logger.wait_for_output('connected to', 15.0), logger.output()
    writer = psutil.Process(logger.pid).children()
    assert len(writer) == 1, 'the writer process'
    writer[0].kill()
    assert logger.popen.wait(15) == 3, logger.output()
    assert 'db_logger: the writer process exited (-9)' in logger.output()
    assert 'Traceback' not in logger.output()
