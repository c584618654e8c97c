"""A recorded session for the replay, export and plot tests, from a real sim driver.

The test client subscribes to everything the driver publishes (the reference), drives a
session (a 0.5 m move, which ends in a Goal event, and an injected collision), and
stores what arrived inside the session the way db_logger's recorder does (same tables,
columns and precision: FLOAT values, microsecond sample stamps, millisecond log stamps).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, List

from nav_msgs.msg import Odometry
from rclpy.action import ActionClient
from rclpy.qos import DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import BatteryState, Imu
from std_srvs.srv import Trigger

from private_mariadb import APP_USER, MIGRATION_USER
from robot_interfaces.action import Move
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus, WheelSpeeds
from tests.support.fixtures import TestDatabase
from tests.support.processes import start_node
from tests.support.ros_client import RosTestClient, wait_until

RECORD_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)
STREAM_TYPES = {'status': RobotStatus, 'battery': BatteryState, 'odom': Odometry, 'imu': Imu,
                'wheel_speeds': WheelSpeeds, 'command_result': CommandResult,
                'event': RobotEvent}
RECORDS = ('status', 'command_result', 'event')
_EPOCH = datetime(1970, 1, 1)


def qos_of(stream: str) -> QoSProfile:
    return RECORD_QOS if stream in RECORDS else qos_profile_sensor_data


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def stored_stamp_ns(stream: str, msg) -> int:
    """The stamp as the tables keep it: microseconds for samples, milliseconds for logs."""
    unit = 1_000_000 if stream in ('command_result', 'event') else 1000
    return stamp_ns(msg) // unit * unit


def sql_time(ns: int) -> str:
    return (_EPOCH + timedelta(microseconds=ns // 1000)).strftime('%Y-%m-%d %H:%M:%S.%f')


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


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _none_if_nan(value: float):
    return None if math.isnan(value) else value


# stream -> (INSERT statement, the row's values from a message)
_INSERTS = {
    'odom': ('INSERT INTO OdomSamples (robot_id, stamp, session_id, x, y, yaw, vx, vy, wz) '
             'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)',
             lambda m: (m.pose.pose.position.x, m.pose.pose.position.y,
                        _yaw(m.pose.pose.orientation), m.twist.twist.linear.x,
                        m.twist.twist.linear.y, m.twist.twist.angular.z)),
    'imu': ('INSERT INTO ImuSamples (robot_id, stamp, session_id, qx, qy, qz, qw, gx, gy, gz, '
            'ax, ay, az) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
            lambda m: (m.orientation.x, m.orientation.y, m.orientation.z, m.orientation.w,
                       m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z,
                       m.linear_acceleration.x, m.linear_acceleration.y,
                       m.linear_acceleration.z)),
    'wheel_speeds': ('INSERT INTO WheelSamples (robot_id, stamp, session_id, front_right_rpm, '
                     'front_left_rpm, rear_left_rpm, rear_right_rpm) '
                     'VALUES (%s, %s, %s, %s, %s, %s, %s)',
                     lambda m: (m.front_right_rpm, m.front_left_rpm, m.rear_left_rpm,
                                m.rear_right_rpm)),
    'battery': ('INSERT INTO BatterySamples (robot_id, stamp, session_id, percent, voltage) '
                'VALUES (%s, %s, %s, %s, %s)',
                lambda m: (_none_if_nan(m.percentage * 100.0), _none_if_nan(m.voltage))),
    'status': ('INSERT INTO StatusSamples (robot_id, stamp, session_id, status, '
               'battery_percent, ip_address) VALUES (%s, %s, %s, %s, %s, %s)',
               lambda m: (m.status, _none_if_nan(m.battery_percent), m.ip_address)),
    'command_result': ('INSERT INTO CommandLogs (robot_id, stamp, session_id, msg_uuid, '
                       'command_type, payload, result, message, received_at) '
                       'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(3))',
                       lambda m: (m.command_id, m.command_type, m.payload_json, m.result,
                                  m.message)),
    'event': ('INSERT INTO EventLogs (robot_id, stamp, session_id, msg_uuid, event_type, '
              'message, received_at) VALUES (%s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(3))',
              lambda m: (m.event_id, m.event_type, m.message)),
}


@dataclass
class RecordedSession:
    """The database holding the session, and what the driver published inside it."""

    db: TestDatabase
    session_id: int
    serial: str
    start_ns: int
    end_ns: int
    published: Dict[str, List] = field(default_factory=dict)  # stream -> msgs, stamp order


class DriverSession:
    """Drives a sim driver through a session and stores it (see the module docstring)."""

    def __init__(self, client: RosTestClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.received = {stream: client.collect(msg_type, f'{namespace}/{stream}',
                                                qos_of(stream))
                         for stream, msg_type in STREAM_TYPES.items()}

    def run(self, db: TestDatabase) -> RecordedSession:
        assert wait_until(lambda: self.received['status'] and self.received['odom'], 20), \
            'the sim driver published no status and odom in 20 s'
        serial = self.received['status'][-1].robot_serial
        start_ns = (time.time_ns() // 1_000_000 + 1) * 1_000_000  # DATETIME(3) holds it
        time.sleep(0.3)
        self._move(0.5, 0.5)
        assert self.client.call(Trigger, f'{self.namespace}/sim/inject_collision',
                                Trigger.Request()).success
        assert wait_until(lambda: {'Goal', 'Collision'} <= {
            e.event_type for e in self.received['event']}, 10)
        time.sleep(0.5)
        end_ns = time.time_ns() // 1_000_000 * 1_000_000
        published = {stream: sorted((m for m in list(msgs)
                                     if start_ns <= stored_stamp_ns(stream, m) <= end_ns),
                                    key=stamp_ns)
                     for stream, msgs in self.received.items()}
        session_id = self._store(db, serial, start_ns, end_ns, published)
        return RecordedSession(db, session_id, serial, start_ns, end_ns, published)

    def _move(self, x: float, speed: float) -> None:
        action = ActionClient(self.client.node, Move, f'{self.namespace}/move')
        assert action.wait_for_server(timeout_sec=10.0)
        future = self.client.on_spin_thread(
            lambda: action.send_goal_async(Move.Goal(x=x, xy_speed=speed)))
        assert wait_until(future.done, 10.0) and future.result().accepted
        result = self.client.on_spin_thread(future.result().get_result_async)
        assert wait_until(result.done, 15.0)

    @staticmethod
    def _store(db: TestDatabase, serial: str, start_ns: int, end_ns: int,
               published: Dict[str, List]) -> int:
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("INSERT IGNORE INTO Users (user_id, name, role) "
                            "VALUES ('test_admin', 'Admin', 'Admin')")
                cur.execute("INSERT INTO Robots (serial, model_type) VALUES (%s, 'EP01')",
                            (serial,))
                robot_id = cur.lastrowid
                cur.execute("INSERT INTO Sessions (user_id, robot_id, start_time, end_time) "
                            "VALUES ('test_admin', %s, %s, %s)",
                            (robot_id, sql_time(start_ns), sql_time(end_ns)))
                session_id = cur.lastrowid
                for stream, msgs in published.items():
                    sql, values = _INSERTS[stream]
                    cur.executemany(sql, [(robot_id, sql_time(stored_stamp_ns(stream, m)),
                                           session_id, *values(m)) for m in msgs])
            return session_id
        finally:
            conn.close()


def record_session(mariadb, tmp_path_factory):
    """Body of a module-scoped fixture: a fresh database, a sim driver, one session."""
    name = 'test_' + uuid.uuid4().hex[:12]
    mariadb.create_database(name)
    db = TestDatabase(mariadb, name, mariadb.credentials(APP_USER, name),
                      mariadb.credentials(MIGRATION_USER, name))
    db.migrate()
    namespace = '/ep_' + uuid.uuid4().hex[:8]
    client = RosTestClient('recording_' + uuid.uuid4().hex[:6])
    driver = start_node('rm_driver', 'rm_driver', tmp_path_factory.mktemp('driver_logs'),
                        ['-r', f'__ns:={namespace}', '-p', 'backend:=sim'])
    try:
        yield DriverSession(client, namespace).run(db)
    finally:
        driver.stop()
        client.close()
        mariadb.drop_database(name)
