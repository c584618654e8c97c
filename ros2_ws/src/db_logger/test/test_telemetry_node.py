"""Telemetry through db_logger as a process: real DDS, a real MariaDB, a sim driver."""

import math
import signal
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from robot_interfaces.msg import WheelSpeeds
from robot_interfaces.srv import EndSession, StartSession

from logger_database import kill_connections
from db_logger.decoding import KIND_STATUS, parse
from db_logger.journal import Journal
from db_logger.telemetry_decoding import KIND_ODOM, parse_sample, sql_time_us
from db_logger.telemetry_store import micros
from robot_db_testing.processes import gone
from robot_db_testing.ros_client import wait_until

SAMPLE_TABLES = ('OdomSamples', 'ImuSamples', 'WheelSamples', 'BatterySamples')
PERIOD_NS = 50_000_000  # the test publisher's 20 Hz grid


def count(db, table, where='1'):
    return db.query(f'SELECT COUNT(*) FROM {table} WHERE {where}')[0][0]


def settled(db, sql, timeout=30.0):
    """The query's value once it stopped changing for 1.5 s (bounded)."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = db.query(sql)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 1.5:
            break
        time.sleep(0.2)
    return last


class FakeTelemetry:
    """odom on a 20 Hz grid of stamps, with the driver's sensor-data QoS, from the test."""

    def __init__(self, node, namespace: str, start_ns: int):
        self.node = node
        self.odom = node.create_publisher(Odometry, f'{namespace}/odom', qos_profile_sensor_data)
        self.wheels = node.create_publisher(WheelSpeeds, f'{namespace}/wheel_speeds',
                                            qos_profile_sensor_data)
        self.next_ns = start_ns
        self.published = []  # stamps in ns

    def run(self, n: int, skip=lambda i: False, pace=0.01) -> None:
        """n grid points from next_ns; skipped points are not published (lost on purpose)."""
        for i in range(n):
            stamp = self.next_ns
            self.next_ns += PERIOD_NS
            if skip(i):
                continue
            msg = Odometry()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
            msg.pose.pose.position.x = len(self.published) * 0.01
            self.odom.publish(msg)
            self.published.append(stamp)
            time.sleep(pace)


def wait_subscribed(publisher, timeout=15.0):
    """The publisher has matched the logger's reader. Make the publisher before the logger
    subscribes: a reader made later knows the publisher once the publisher knows it, while
    a publisher made after the reader knows it at once and the reader only later (best
    effort drops what is sent meanwhile)."""
    assert wait_until(lambda: publisher.get_subscription_count() > 0, timeout)


def call(ros_client, srv, name, request):
    response = ros_client.call(srv, name, request)
    assert response.success, response.message
    return response


def add_admin(db):
    db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")


def now_ns(ros_client):
    return ros_client.node.get_clock().now().nanoseconds


def test_sim_driver_telemetry_is_recorded_in_its_session_only(fresh_db, start_logger, nodes,
                                                              ros_client):
    add_admin(fresh_db)
    start_logger(fresh_db)
    # best effort like the logger's reader, deeper than the driver's 5: this thread may lag
    heard = ros_client.collect(Odometry, '/ep01/odom', QoSProfile(
        depth=100, reliability=ReliabilityPolicy.BEST_EFFORT))
    nodes('rm_driver', 'rm_driver', '-r', '__ns:=/ep01', '-p', 'backend:=sim')
    assert wait_until(lambda: count(fresh_db, 'Robots', "status_stamp IS NOT NULL") == 1, 20.0)
    assert wait_until(lambda: len(heard) > 0, 20.0)  # our reader matched before the session
    time.sleep(1.0)  # samples outside the session
    started = call(ros_client, StartSession, '/session/start',
                   StartSession.Request(user_id='test_admin', robot_serial='SIM-ep01'))
    started_us = time.time_ns() // 1000
    time.sleep(2.0)
    call(ros_client, EndSession, '/session/end', EndSession.Request(session_id=0,
                                                                    robot_serial='SIM-ep01'))
    ended_us = time.time_ns() // 1000
    time.sleep(1.0)
    start, end = fresh_db.query('SELECT start_time, end_time FROM Sessions')[0]
    start_us, end_us = micros(start), micros(end)
    rows = settled(fresh_db, 'SELECT stamp, session_id, x, y, yaw, vx FROM OdomSamples '
                             'ORDER BY stamp')
    assert rows and {r[1] for r in rows} == {started.session_id}
    # a session's times are taken before its row commits, so a sample stamped in between
    # may be judged outside it at the start and inside it at the end (reported, issue 11):
    # never further out than the service's answer
    assert all(start_us <= micros(r[0]) < ended_us for r in rows)
    for table in SAMPLE_TABLES + ('StatusSamples',):
        assert count(fresh_db, table, f'session_id = {started.session_id}') > 0, table
        assert count(fresh_db, table, 'session_id IS NULL') == 0, table
    # what the driver published (heard beside the logger) inside the session is stored,
    # value for value, but for the start's race above
    by_stamp = {micros(r[0]): r for r in rows}
    inside = [m for m in list(heard) if start_us <= _us(m) <= end_us]
    assert len(inside) >= 5  # the test's own best-effort reader may miss some
    for msg in inside:
        row = by_stamp.get(_us(msg))
        if row is None:
            assert _us(msg) < started_us, f'{_us(msg)} heard but not stored'
            continue
        q = msg.pose.pose.orientation
        yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y ** 2 + q.z ** 2))
        assert row[2:] == pytest.approx((msg.pose.pose.position.x, msg.pose.pose.position.y,
                                         yaw, msg.twist.twist.linear.x), abs=1e-5)
    battery = fresh_db.query('SELECT percent, voltage FROM BatterySamples LIMIT 1')[0]
    assert 0 < battery[0] <= 100 and battery[1] is None


def _record_stamp(record):
    if record.kind == KIND_STATUS:
        fields = parse(record.payload, KIND_STATUS)
        return fields.sec * 1000000 + fields.nanosec // 1000
    return parse_sample(record.kind, record.payload, record.received).stamp_us


def journalled_odom(journal_dir):
    """The odom stamps (us) the logger has taken so far: what its journal holds."""
    return {_record_stamp(r) for r in Journal(journal_dir, appender=False).on_disk()
            if r.kind == KIND_ODOM}


def _text(stamp_ns):
    return sql_time_us(stamp_ns // 1000)


def _us(msg):
    return msg.header.stamp.sec * 1000000 + msg.header.stamp.nanosec // 1000


@pytest.mark.parametrize('record', ['all', 'off'])
def test_record_all_and_off(fresh_db, start_logger, nodes, record):
    logger = start_logger(fresh_db, '-p', f'telemetry.record:={record}')
    nodes('rm_driver', 'rm_driver', '-r', '__ns:=/ep01', '-p', 'backend:=sim')
    assert wait_until(lambda: count(fresh_db, 'StatusSamples') > 0 if record == 'all'
                      else count(fresh_db, 'Robots', 'status_stamp IS NOT NULL') == 1, 20.0)
    time.sleep(2.0)
    if record == 'all':
        for table in SAMPLE_TABLES:
            assert count(fresh_db, table, 'session_id IS NULL') > 0, table
    else:
        assert sum(count(fresh_db, t) for t in SAMPLE_TABLES + ('StatusSamples',)) == 0
        assert 'recording /ep01/odom' not in logger.output()


def test_rate_limit_keeps_evenly_spaced_samples(fresh_db, start_logger, nodes):
    start_logger(fresh_db, '-p', 'telemetry.record:=all', '-p', 'telemetry.max_rate.odom:=5.0')
    nodes('rm_driver', 'rm_driver', '-r', '__ns:=/ep01', '-p', 'backend:=sim')
    assert wait_until(lambda: count(fresh_db, 'OdomSamples') >= 12, 30.0)
    stamps = [micros(r[0]) for r in fresh_db.query('SELECT stamp FROM OdomSamples ORDER BY stamp')]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    # every fourth 20 Hz sample, on a 200 ms grid from the first one kept: none more than
    # a quarter period (the stamps' own, jitter included) before its grid point. A late or
    # lost driver tick keeps a sample late without moving the grid, so the gap after it
    # is shorter than a step; a gap of more than a step restarts the grid.
    grid = stamps[0]
    for stamp in stamps[1:]:
        due = grid + 200000
        assert stamp >= due - 60000 // 4, (stamp - grid, gaps)
        grid = due if stamp < due + 200000 else stamp
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(200000, abs=20000), gaps
    imu = count(fresh_db, 'ImuSamples')
    assert imu >= 3 * len(stamps)  # not limited


def test_lost_samples_are_counted_per_session_and_in_diagnostics(fresh_db, start_logger,
                                                                 robot_factory, ros_client):
    add_admin(fresh_db)
    telemetry = FakeTelemetry(ros_client.node, '/ep01', 0)  # before the reader: see above
    start_logger(fresh_db)
    robot = robot_factory('/ep01', 'SN-EP01')
    robot.status('Idle')
    assert wait_until(lambda: count(fresh_db, 'Robots', 'status_stamp IS NOT NULL') == 1, 20.0)
    diagnostics = ros_client.collect(DiagnosticArray, '/diagnostics', 10)
    started = call(ros_client, StartSession, '/session/start',
                   StartSession.Request(user_id='test_admin', robot_serial='SN-EP01'))
    telemetry.next_ns = now_ns(ros_client) + 100_000_000
    wait_subscribed(telemetry.odom)
    telemetry.run(100, skip=lambda i: i % 5 == 3)  # 20 of 100 lost on purpose
    published = len(telemetry.published)
    assert wait_until(lambda: count(fresh_db, 'OdomSamples') == published, 20.0)
    call(ros_client, EndSession, '/session/end', EndSession.Request(
        session_id=started.session_id, robot_serial='SN-EP01'))
    expected = (telemetry.published[-1] - telemetry.published[0]) // PERIOD_NS + 1
    assert fresh_db.query("SELECT received, expected FROM TelemetryCoverage "
                          "WHERE stream = 'odom'") == [(published, expected)]
    assert expected - published == 20

    def shown():
        for array in list(diagnostics):
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if values.get('SN-EP01 odom', '').startswith(f'received {published} of '
                                                             f'{expected} expected'):
                    return status.level == status.WARN
        return False
    assert wait_until(shown, 10.0)


def test_a_robots_sensor_topics_are_subscribed_with_its_status(fresh_db, start_logger,
                                                               robot_factory):
    logger = start_logger(fresh_db, '-p', 'telemetry.record:=all')
    robot = robot_factory('/ep01', 'SN-EP01')  # status, command_result, event: no sensors yet
    robot.status('Idle')
    assert wait_until(lambda: count(fresh_db, 'Robots', 'status_stamp IS NOT NULL') == 1, 20.0)
    for name, msg_type in (('odom', 'Odometry'), ('imu', 'Imu'),
                           ('wheel_speeds', 'WheelSpeeds'), ('battery', 'BatteryState')):
        assert logger.wait_for_output(f'recording /ep01/{name} ({msg_type})', 10.0), \
            logger.output()


def test_killed_logger_and_database_outage_lose_and_double_nothing_received(
        fresh_db, start_logger, robot_factory, ros_client, tmp_path):
    journal_dir = tmp_path / 'journal'
    telemetry = FakeTelemetry(ros_client.node, '/ep01', now_ns(ros_client))  # before the reader
    logger = start_logger(fresh_db, '-p', 'telemetry.record:=all', journal=journal_dir)
    robot = robot_factory('/ep01', 'SN-EP01')
    robot.status('Idle')
    wait_subscribed(telemetry.odom)
    # and one sample at a time until the logger has stored one
    assert wait_until(lambda: telemetry.run(1) or count(fresh_db, 'OdomSamples') > 0, 20.0,
                      period=0.05)
    first = len(telemetry.published)
    telemetry.run(60, pace=0.005)
    before = {ns // 1000 for ns in telemetry.published[first:]}
    # on loopback, with a reader in place, best effort loses next to nothing; waited for,
    # since a loaded machine may leave the intake a few hundred ms behind
    assert wait_until(lambda: len(before & journalled_odom(journal_dir)) >= 55, 10.0)
    telemetry.run(20, pace=0.005)
    logger.popen.send_signal(signal.SIGKILL)  # mid-stream, without a word
    assert wait_until(lambda: gone(logger.pid), 10.0)
    journalled_when_killed = journalled_odom(journal_dir)
    telemetry.run(20, pace=0.005)  # nobody listens: lost on the wire, not after receipt
    logger = start_logger(fresh_db, '-p', 'telemetry.record:=all', journal=journal_dir,
                          tag='-again')
    # not the publisher's match count: the killed participant's reader lingers in it;
    # one sample at a time until the new reader has taken one
    assert logger.wait_for_output('recording /ep01/odom', 20.0)
    first_new = len(telemetry.published)
    robot.status('Idle')
    assert wait_until(lambda: telemetry.run(1) or count(
        fresh_db, 'OdomSamples', f"stamp >= '{_text(telemetry.published[first_new])}'") > 0,
        20.0, period=0.05)
    matched = len(telemetry.published)
    telemetry.run(40, pace=0.005)
    # the database drops the writer mid-stream (once it has connected again)
    assert wait_until(lambda: kill_connections(fresh_db) >= 1, 10.0)
    telemetry.run(40, pace=0.005)
    settled(fresh_db, 'SELECT (SELECT COUNT(*) FROM OdomSamples) + '
                      '(SELECT COUNT(*) FROM StatusSamples)')
    journal = Journal(journal_dir, appender=False)
    assert wait_until(lambda: journal.acked == max(r.seq for r in journal.on_disk()), 10.0)
    # what the node journalled in both runs (statuses redelivered to the new one included)
    # is what the tables hold: every sample once
    received = {(r.kind, _record_stamp(r)) for r in journal.on_disk()}
    rows = {(kind, micros(r[0])) for kind, table in ((KIND_ODOM, 'OdomSamples'),
                                                     (KIND_STATUS, 'StatusSamples'))
            for r in fresh_db.query(f'SELECT stamp FROM {table}')}
    assert received == rows
    assert count(fresh_db, 'OdomSamples') == len([k for k, _ in received if k == KIND_ODOM])
    stored = {stamp for kind, stamp in rows if kind == KIND_ODOM}
    assert stored <= {ns // 1000 for ns in telemetry.published}
    # what the killed logger had taken, committed or not, is in the database
    assert journalled_when_killed <= stored and len(stored & before) >= 55
    after = {ns // 1000 for ns in telemetry.published[matched:]}
    assert len(stored & after) >= 75
    assert logger.alive()


@pytest.mark.parametrize('param, value', [('telemetry.record', 'sometimes'),
                                          ('telemetry.max_rate.imu', '-1.0')])
def test_bad_telemetry_parameters_are_refused_naming_the_field(fresh_db, start_logger, param,
                                                               value):
    logger = start_logger(fresh_db, '-p', f'{param}:={value}', tag='-bad')
    assert wait_until(lambda: not logger.alive(), 20.0)
    assert logger.popen.returncode == 2
    assert param in logger.output() and 'Traceback' not in logger.output()
