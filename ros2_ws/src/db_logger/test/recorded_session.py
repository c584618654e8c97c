"""A session recorded by the real pipeline, for the replay, export and plot tests.

A sim driver publishes; db_logger (the installed executable, against a fresh MariaDB
database) records it; the test client hears every stream beside the logger. The session
is started, driven (a 0.5 m move, which ends in a Goal event, and an injected collision)
and ended through the logger's services. What the driver published inside the session,
as heard beside the logger, is the reference the replayed and exported session is held to.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, List, Set

from nav_msgs.msg import Odometry
from rclpy.action import ActionClient
from rclpy.qos import QoSProfile
from sensor_msgs.msg import BatteryState, Imu
from std_srvs.srv import Trigger

from db_logger.journal import Journal
from robot_db_testing.private_mariadb import APP_USER, MIGRATION_USER
from robot_interfaces.action import Move
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus, WheelSpeeds
from robot_interfaces.qos import record_qos, telemetry_qos
from robot_interfaces.srv import EndSession, StartSession
from robot_db_testing.database import TestDatabase
from robot_db_testing.processes import start_node
from robot_db_testing.ros_client import RosTestClient, wait_until

RECORD_QOS = record_qos()
# the driver's telemetry QoS (a reliable reader would not match its best-effort writers),
# deep enough that this test's spin thread never falls a whole history behind
HEARD_SENSOR_QOS = telemetry_qos(1000)
STREAM_TYPES = {'status': RobotStatus, 'battery': BatteryState, 'odom': Odometry, 'imu': Imu,
                'wheel_speeds': WheelSpeeds, 'command_result': CommandResult,
                'event': RobotEvent}
RECORDS = ('status', 'command_result', 'event')
SAMPLE_TABLES = {'status': 'StatusSamples', 'battery': 'BatterySamples',
                 'odom': 'OdomSamples', 'imu': 'ImuSamples', 'wheel_speeds': 'WheelSamples',
                 'command_result': 'CommandLogs', 'event': 'EventLogs'}
_EPOCH = datetime(1970, 1, 1)


def qos_of(stream: str) -> QoSProfile:
    return RECORD_QOS if stream in RECORDS else HEARD_SENSOR_QOS


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def stored_stamp_ns(stream: str, msg) -> int:
    """The stamp as the tables keep it: microseconds for samples, milliseconds for logs."""
    unit = 1_000_000 if stream in ('command_result', 'event') else 1000
    return stamp_ns(msg) // unit * unit


def ns_of(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1) * 1000


def close(replayed: float, published: float) -> bool:
    """Equal within float32 precision (the tables' FLOAT columns), NaN equal to NaN."""
    if math.isnan(published):
        return math.isnan(replayed)
    return math.isclose(replayed, published, rel_tol=2e-7, abs_tol=2e-6)


def db_args(db) -> list:
    """The tools' connection arguments for db."""
    creds = db.app
    return ['--host', creds.host, '--port', str(creds.port), '--user', creds.user,
            '--password-file', str(creds.password_file), '--database', db.name]


@dataclass
class RecordedSession:
    """The database holding the session, and what the driver published inside it."""

    db: TestDatabase
    session_id: int
    serial: str
    start_ns: int
    end_ns: int
    # stream -> the driver's messages the logger stored in the session, in stamp order
    published: Dict[str, List] = field(default_factory=dict)


class DriverSession:
    """Drives a sim driver through a session recorded by db_logger (module docstring)."""

    def __init__(self, client: RosTestClient, namespace: str, logger, journal_dir) -> None:
        self.client = client
        self.namespace = namespace
        self.logger = logger
        self.journal_dir = journal_dir
        self.heard = {stream: client.collect(msg_type, f'{namespace}/{stream}', qos_of(stream))
                      for stream, msg_type in STREAM_TYPES.items()}

    def run(self, db: TestDatabase) -> RecordedSession:
        assert wait_until(lambda: self.heard['status'] and self.heard['odom'], 20), \
            'the sim driver published no status and odom in 20 s'
        for stream in STREAM_TYPES:  # the logger reads every stream before the session
            assert self.logger.wait_for_output(f'recording {self.namespace}/{stream} ', 20), \
                self.logger.output()[-3000:]
        serial = self.heard['status'][-1].robot_serial
        db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")
        started = self._call(StartSession, '/session/start', StartSession.Request(
            user_id='test_admin', robot_serial=serial))
        started_ns = time.time_ns()
        self._move(0.5, 0.5)
        assert self.client.call(Trigger, f'{self.namespace}/sim/inject_collision',
                                Trigger.Request()).success
        assert wait_until(lambda: {'Goal', 'Collision'} <= {
            e.event_type for e in self.heard['event']}, 10)
        time.sleep(0.5)
        self._call(EndSession, '/session/end', EndSession.Request(session_id=0,
                                                                  robot_serial=serial))
        ended_ns = time.time_ns()
        start, end = db.query('SELECT start_time, end_time FROM Sessions '
                              'WHERE session_id = %s', (started.session_id,))[0]
        start_ns, end_ns = ns_of(start), ns_of(end)
        stored = self._stored_stamps(db, started.session_id)
        published = {}
        for stream, msgs in self.heard.items():
            heard = {stored_stamp_ns(stream, m): m for m in list(msgs)}
            inside = {stamp for stamp in heard if start_ns <= stamp <= end_ns}
            # the logger stored what the driver published in the session, but at each edge
            # (docs/design.md, Telemetry): a sample stamped between a session's time and
            # its commit may be judged outside it (at the start) or inside it (at the end)
            assert stored[stream] <= set(heard), (stream, sorted(stored[stream] - set(heard)))
            assert all(started_ns > stamp for stamp in inside - stored[stream]), \
                (stream, start_ns, started_ns, sorted(inside - stored[stream]))
            assert all(end_ns < stamp < ended_ns for stamp in stored[stream] - inside), \
                (stream, end_ns, ended_ns, sorted(stored[stream] - inside))
            published[stream] = [heard[stamp] for stamp in sorted(stored[stream])]
        return RecordedSession(db, started.session_id, serial, start_ns, end_ns, published)

    def _call(self, srv, name: str, request):
        response = self.client.call(srv, name, request)
        assert response.success, response.message
        return response

    def _move(self, x: float, speed: float) -> None:
        action = ActionClient(self.client.node, Move, f'{self.namespace}/move')
        assert action.wait_for_server(timeout_sec=10.0)
        future = self.client.on_spin_thread(
            lambda: action.send_goal_async(Move.Goal(x=x, xy_speed=speed)))
        assert wait_until(future.done, 10.0) and future.result().accepted
        result = self.client.on_spin_thread(future.result().get_result_async)
        assert wait_until(result.done, 15.0)

    def _stored_stamps(self, db: TestDatabase, session_id: int) -> Dict[str, Set[int]]:
        """Per stream, the stamps the logger committed to the session, once it has
        committed everything it journalled (and the tables were unchanged for 1.5 s)."""
        sql = ' UNION ALL '.join(f"SELECT '{stream}', stamp FROM {table} WHERE session_id = "
                                 f'{int(session_id)}' for stream, table in SAMPLE_TABLES.items())
        rows, since = None, time.monotonic()
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            now = sorted(db.query(sql))
            if now != rows:
                rows, since = now, time.monotonic()
            elif time.monotonic() - since > 1.5:
                break
            time.sleep(0.2)
        journal = Journal(self.journal_dir, appender=False)
        last = max((record.seq for record in journal.on_disk()), default=0)
        assert wait_until(lambda: journal.acked >= last, 30.0), (journal.acked, last)
        rows = sorted(db.query(sql))
        stamps: Dict[str, Set[int]] = {stream: set() for stream in SAMPLE_TABLES}
        for stream, stamp in rows:
            stamps[stream].add(ns_of(stamp))
        return stamps


def record_session(mariadb, tmp_path_factory):
    """Body of a module-scoped fixture: a fresh database, db_logger, a sim driver, a session."""
    name = 'test_' + uuid.uuid4().hex[:12]
    mariadb.create_database(name)
    db = TestDatabase(mariadb, name, mariadb.credentials(APP_USER, name),
                      mariadb.credentials(MIGRATION_USER, name))
    db.migrate()
    logs = tmp_path_factory.mktemp('recording')
    namespace = '/ep_' + uuid.uuid4().hex[:8]
    client = RosTestClient('recording_' + uuid.uuid4().hex[:6])
    journal_dir = logs / 'journal'
    logger = start_node('db_logger', 'db_logger', logs,
                        [*db.logger_params(), '-p', f'journal_dir:={journal_dir}',
                         '-p', 'discovery_period:=0.5'])
    driver = start_node('rm_driver', 'rm_driver', logs,
                        ['-r', f'__ns:={namespace}', '-p', 'backend:=sim'])
    try:
        session = DriverSession(client, namespace, logger, journal_dir).run(db)
        # done recording: it would record the replays of these tests as another robot
        assert logger.stop() == 0, logger.output()[-3000:]
        yield session
    finally:
        driver.stop()
        logger.stop()
        client.close()
        mariadb.drop_database(name)
