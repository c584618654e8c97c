"""Messages lost before the logger received them: counted, filed, reported.

Real DDS between this test process and the db_logger process, a real MariaDB. The
loss is made the way it happens in a lab: the logger falls behind (here: stopped
with SIGSTOP) while a publisher whose KEEP_LAST history is shallow goes on
publishing, so DDS drops what the logger has not acknowledged.
"""

import os
import signal
import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile
from robot_interfaces.msg import CommandResult
from robot_interfaces.qos import record_qos
from robot_interfaces.srv import StartSession

from fake_robot import FakeRobot
from db_logger.session_report import intake_losses, report
from robot_db_testing.ros_client import wait_until

SHALLOW = 10  # the publisher's and the logger's history depth
BURST = 5000  # far beyond what socket and shared-memory buffers hold for a stopped reader


def scalar(db, sql, args=None):
    return db.query(sql, args)[0][0]


def latest_intake_values(arrays):
    for array in reversed(list(arrays)):
        for status in array.status:
            if status.name.endswith(': intake'):
                return {v.key: v.value for v in status.values}
    return {}


def test_what_dds_dropped_while_the_logger_lagged_is_counted_per_session(
        fresh_db, start_logger, ros_client):
    fresh_db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")
    logger = start_logger(fresh_db, '-p', f'history_depth:={SHALLOW}')
    diagnostics = ros_client.collect(DiagnosticArray, '/diagnostics', QoSProfile(depth=50))
    robot = FakeRobot(ros_client.node, '/ep09', 'SN-LOSS', result_qos=record_qos(SHALLOW))
    robot.status('Idle')
    published = [robot.result(command_type='Velocity').command_id]
    assert wait_until(lambda: scalar(fresh_db, 'SELECT COUNT(*) FROM CommandLogs') == 1, 20)
    started = ros_client.call(StartSession, '/session/start', StartSession.Request(
        user_id='test_admin', robot_serial='SN-LOSS', note=''))
    assert started.success, started.message
    # nothing lost so far, and the logger says so
    assert wait_until(lambda: latest_intake_values(diagnostics).get('lost_before_receipt')
                      == '0', 10)

    os.kill(logger.pid, signal.SIGSTOP)
    try:
        published += [robot.result(command_type='Velocity').command_id for _ in range(BURST)]
        time.sleep(0.5)
    finally:
        os.kill(logger.pid, signal.SIGCONT)
    published.append(robot.result(command_type='Velocity').command_id)  # ends any gap

    def accounted():
        stored = scalar(fresh_db, 'SELECT COUNT(*) FROM CommandLogs')
        lost = scalar(fresh_db, 'SELECT COALESCE(SUM(lost), 0) FROM IntakeLosses')
        return stored + lost == len(published)
    assert wait_until(accounted, 30), (
        scalar(fresh_db, 'SELECT COUNT(*) FROM CommandLogs'),
        fresh_db.query('SELECT stream, lost FROM IntakeLosses'), len(published))

    stored = {row[0] for row in fresh_db.query('SELECT msg_uuid FROM CommandLogs')}
    assert stored <= set(published)
    lost = scalar(fresh_db, 'SELECT SUM(lost) FROM IntakeLosses')
    assert 0 < lost < BURST
    # filed under the robot and its open session
    assert fresh_db.query('SELECT DISTINCT r.serial, l.stream, l.session_id FROM IntakeLosses l '
                          'JOIN Robots r USING (robot_id)') == [
        ('SN-LOSS', 'command_result', started.session_id)]
    # what /diagnostics says is what the database holds
    assert wait_until(lambda: latest_intake_values(diagnostics).get('lost_before_receipt')
                      == str(lost), 10), latest_intake_values(diagnostics)
    assert latest_intake_values(diagnostics)['/ep09/command_result lost'] == str(lost)
    # and the session report shows it
    conn = fresh_db.connect()
    try:
        assert intake_losses(conn, started.session_id) == {'command_result': lost}
        text = report(conn, started.session_id)
    finally:
        conn.close()
    assert f'command_result: {lost}\ntotal: {lost}' in text
    assert logger.alive()


def test_two_publishers_on_one_topic_are_counted_apart_never_as_losses(
        fresh_db, start_logger, ros_client):
    # Kilted's rclpy tells publishers apart by gid; Jazzy's gives none, and the intake must
    # not read one publisher's numbers after the other's as a gap
    logger = start_logger(fresh_db)
    diagnostics = ros_client.collect(DiagnosticArray, '/diagnostics', QoSProfile(depth=50))
    first = FakeRobot(ros_client.node, '/ep08', 'SN-TWO')
    first.status('Idle')
    published = [first.result().command_id for _ in range(20)]
    assert wait_until(lambda: scalar(fresh_db, 'SELECT COUNT(*) FROM CommandLogs') == 20, 20)
    second = ros_client.node.create_publisher(CommandResult, '/ep08/command_result',
                                              record_qos())
    assert wait_until(lambda: ros_client.node.count_subscribers('/ep08/command_result') >= 1
                      and second.get_subscription_count() >= 1, 10)
    for n in range(30):
        robot = first if n % 3 else None
        if robot:
            published.append(robot.result().command_id)
        else:
            msg = CommandResult(robot_serial='SN-TWO', command_id=f'second-{n}',
                                command_type='Move', payload_json='{}', result='Success')
            msg.header.stamp = ros_client.node.get_clock().now().to_msg()
            second.publish(msg)
            published.append(msg.command_id)
    assert wait_until(lambda: scalar(fresh_db, 'SELECT COUNT(*) FROM CommandLogs')
                      == len(published), 20)
    # two diagnostics periods after the last message: nothing was counted as lost
    stamps = len(diagnostics)
    assert wait_until(lambda: len(diagnostics) >= stamps + 2, 10)
    assert latest_intake_values(diagnostics)['lost_before_receipt'] == '0'
    assert scalar(fresh_db, 'SELECT COUNT(*) FROM IntakeLosses') == 0
    assert logger.alive()
