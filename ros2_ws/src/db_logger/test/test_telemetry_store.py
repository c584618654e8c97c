"""Telemetry rows through LogStore against a real MariaDB (no ROS graph needed)."""

from datetime import datetime

import pytest

from db_logger.rows import StatusRow
from db_logger.sessions import SessionStore
from db_logger.db_errors import DatabaseUnavailable
from db_logger.decoding import Batch
from db_logger.store import LogStore
from db_logger.telemetry import Sample, TelemetrySettings
from db_logger.telemetry_decoding import sql_time_us
from db_logger.telemetry_store import micros, telemetry_coverage
from logger_database import database_config, kill_connections

T0_US = micros(datetime(2026, 1, 12, 6, 0, 0))
PERIOD_US = 50000  # 20 Hz


def odom(i, serial='SN1', x=None):
    t = T0_US + i * PERIOD_US
    return Sample('odom', serial, t, sql_time_us(t), (x if x is not None else i / 10, 0.5, 0.25,
                                                      0.1, 0.0, -0.2))


def status(i, serial='SN1'):
    t = T0_US + i * PERIOD_US
    return Sample('status', serial, t, sql_time_us(t), ('Idle', 80.0, '192.0.2.7'))


def open_store(db, record='session', **max_rate):
    store = LogStore(database_config(db), telemetry=TelemetrySettings(record, max_rate))
    store.open()
    return store


@pytest.fixture
def session(fresh_db):
    """Session of SN1 from sample 20 to sample 60 (inclusive stamps)."""
    fresh_db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")
    fresh_db.query("INSERT INTO Robots (serial, model_type, status) "
                   "VALUES ('SN1', 'EP01', 'Idle')")
    fresh_db.query("INSERT INTO Sessions (user_id, robot_id, start_time, end_time) "
                   "SELECT 'test_admin', robot_id, %s, %s FROM Robots",
                   (odom(20).stamp, odom(60).stamp))
    return fresh_db.query('SELECT session_id FROM Sessions')[0][0]


def stored(db, table='OdomSamples'):
    return db.query(f'SELECT stamp, session_id FROM {table} ORDER BY stamp')


def test_session_mode_keeps_only_samples_inside_the_robots_session(fresh_db, session):
    store = open_store(fresh_db)
    store.write(Batch(samples=[odom(i) for i in range(100)] + [status(i) for i in (10, 30)]))
    rows = stored(fresh_db)
    assert [r[0] for r in rows] == [datetime.fromisoformat(odom(i).stamp) for i in range(20, 61)]
    assert {r[1] for r in rows} == {session}
    assert stored(fresh_db, 'StatusSamples') == [(datetime.fromisoformat(status(30).stamp),
                                                  session)]
    x, y, yaw = fresh_db.query('SELECT x, y, yaw FROM OdomSamples ORDER BY stamp LIMIT 1')[0]
    assert (x, y, yaw) == pytest.approx((2.0, 0.5, 0.25))


@pytest.mark.parametrize('record, count', [('all', 100), ('off', 0)])
def test_all_and_off(fresh_db, session, record, count):
    store = open_store(fresh_db, record)
    store.write(Batch(samples=[odom(i) for i in range(100)]))
    rows = stored(fresh_db)
    assert len(rows) == count
    assert [sid for _, sid in rows] == [session if 20 <= i <= 60 else None
                                        for i in range(100)][:count]


def test_a_batch_written_twice_is_stored_and_counted_once(fresh_db, session):
    batch = Batch(samples=[odom(i) for i in range(30, 40)])
    open_store(fresh_db).write(batch)
    open_store(fresh_db).write(batch)  # a restarted writer reading the journal again
    assert len(stored(fresh_db)) == 10
    assert fresh_db.query('SELECT received, expected FROM TelemetryCoverage') == [(10, 10)]


def test_an_outage_mid_stream_loses_and_doubles_nothing(fresh_db, session):
    store = open_store(fresh_db)
    store.write(Batch(samples=[odom(i) for i in range(20, 35)]))
    kill_connections(fresh_db)
    second = Batch(samples=[odom(i) for i in range(35, 50)])
    with pytest.raises(DatabaseUnavailable):
        store.write(second)
    store.open()
    store.write(second)
    assert len(stored(fresh_db)) == 30
    assert fresh_db.query('SELECT received, expected FROM TelemetryCoverage') == [(30, 30)]


def test_rate_limit_keeps_evenly_spaced_samples_across_a_restart(fresh_db, session):
    open_store(fresh_db, 'all', odom=5.0).write(Batch(samples=[odom(i) for i in range(50)]))
    open_store(fresh_db, 'all', odom=5.0).write(Batch(samples=[odom(i) for i in range(45, 100)]))
    stamps = [micros(r[0]) for r in stored(fresh_db)]
    assert len(stamps) == 25  # 5 s at 5 Hz
    assert {b - a for a, b in zip(stamps, stamps[1:])} == {200000}
    # coverage counts what arrived, not what the limit kept
    assert fresh_db.query('SELECT received FROM TelemetryCoverage') == [(41,)]


def test_coverage_counts_what_did_not_arrive(fresh_db, session):
    lost = {25, 26, 40, 41, 42}
    store = open_store(fresh_db)
    store.write(Batch(samples=[odom(i) for i in range(0, 45) if i not in lost]))
    store.write(Batch(samples=[odom(i) for i in range(45, 100) if i not in lost]))
    conn = fresh_db.connect()
    try:
        by_stream = {c.stream: c for c in telemetry_coverage(conn, session)}
    finally:
        conn.close()
    assert (by_stream['odom'].expected, by_stream['odom'].received,
            by_stream['odom'].stored) == (41, 36, 36)
    # nothing arrived: no period, no claim
    assert (by_stream['imu'].expected, by_stream['imu'].received) == (None, 0)


def test_session_edges_count_as_missing(fresh_db, session):
    open_store(fresh_db).write(Batch(samples=[odom(i) for i in range(30, 50)]))
    conn = fresh_db.connect()
    try:
        odom_coverage = telemetry_coverage(conn, session)[0]
    finally:
        conn.close()
    assert (odom_coverage.expected, odom_coverage.received) == (41, 20)


def test_samples_of_a_session_started_later_get_its_id(fresh_db):
    fresh_db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")
    store = open_store(fresh_db, 'all')
    report = StatusRow('SN1', 'EP01', 'Idle', '', 80.0, odom(0).stamp[:-3], odom(0).stamp[:-3])
    store.write(Batch(statuses=[report], samples=[status(0), odom(0)]))
    sessions = SessionStore(database_config(fresh_db))
    started = sessions.start('test_admin', 'SN1', '',
                             lambda: datetime.fromisoformat(odom(5).stamp))
    assert started.success, started.message
    store.write(Batch(samples=[odom(i) for i in range(1, 10)]))
    assert [sid for _, sid in stored(fresh_db)] == [None] * 5 + [started.session_id] * 5
    sessions.close()
