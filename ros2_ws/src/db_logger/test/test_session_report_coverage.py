"""session_report's Telemetry section: per stream stored, expected and missing, never more
complete than the counts say."""

import subprocess
from datetime import datetime, timedelta

import pytest

from db_logger.session_report import coverage_line
from db_logger.telemetry_store import StreamCoverage
from robot_db_testing.processes import executable, ros_env

START = datetime(2026, 1, 12, 6, 0, 0)
SECONDS = 10


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def add_stream(db, session_id: int, robot_id: int, stream: str, table: str, period_s: float,
               received, stored, values: tuple) -> None:
    """received: sample times in s (TelemetryCoverage); stored: the rows the table keeps."""
    columns = {'OdomSamples': 'x, y, yaw, vx, vy, wz', 'ImuSamples':
               'qx, qy, qz, qw, gx, gy, gz, ax, ay, az', 'BatterySamples': 'percent, voltage'}
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.executemany(f'INSERT INTO {table} (robot_id, stamp, session_id, {columns[table]}) '
                            f'VALUES (%s, %s, %s{", %s" * len(values)})',
                            [(robot_id, at(t), session_id, *values) for t in stored])
            span = round((received[-1] - received[0]) / period_s) + 1
            cur.execute('INSERT INTO TelemetryCoverage (session_id, stream, robot_id, received, '
                        'expected, period_us, first_stamp, last_stamp) '
                        'VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
                        (session_id, stream, robot_id, len(received), span,
                         round(period_s * 1e6), at(received[0]), at(received[-1])))
    finally:
        conn.close()


def new_session(db, ended: bool) -> tuple:
    db.query("INSERT IGNORE INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")
    db.query("INSERT IGNORE INTO Robots (serial, model_type, status) "
             "VALUES ('SN1', 'EP01', 'Idle')")
    robot_id = db.query("SELECT robot_id FROM Robots WHERE serial = 'SN1'")[0][0]
    db.query('INSERT INTO Sessions (user_id, robot_id, start_time, end_time) '
             "VALUES ('test_admin', %s, %s, %s)",
             (robot_id, START, at(SECONDS) if ended else None))
    return db.query('SELECT MAX(session_id) FROM Sessions')[0][0], robot_id


def telemetry_section(db, session_id: int) -> list:
    creds = db.app
    result = subprocess.run([str(executable('db_logger', 'session_report')), '--session',
                             str(session_id), '--host', creds.host, '--port', str(creds.port),
                             '--user', creds.user, '--password-file', str(creds.password_file),
                             '--database', db.name], env=ros_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sections = [part.strip().split('\n') for part in result.stdout.split('\n\n')]
    titled = [s for s in sections if s[0].startswith(f'Telemetry -- session {session_id} ')]
    assert len(titled) == 1, result.stdout
    return titled[0]


def test_losses_rate_limits_and_silent_streams_are_each_said(fresh_db):
    session_id, robot_id = new_session(fresh_db, ended=True)
    ticks = [i / 20 for i in range(20 * SECONDS + 1)]  # 20 Hz over the whole session
    lost = ticks[:100] + ticks[109:]  # 9 odom samples never arrived
    add_stream(fresh_db, session_id, robot_id, 'odom', 'OdomSamples', 0.05, lost, lost,
               (0.1, 0.0, 0.0, 0.5, 0.0, 0.0))
    # every imu sample arrived; telemetry.max_rate kept one in four
    add_stream(fresh_db, session_id, robot_id, 'imu', 'ImuSamples', 0.05, ticks, ticks[::4],
               (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.8))
    # battery at 1 Hz only from the session's 5th second on: the first five never came
    battery = [5.0 + i for i in range(6)]
    add_stream(fresh_db, session_id, robot_id, 'battery', 'BatterySamples', 1.0, battery,
               battery, (80.0, None))
    section = telemetry_section(fresh_db, session_id)
    assert section[0].endswith("(expected: from each stream's rate over the session)")
    assert section[1:] == [
        'odom: 192 stored of ~201 expected (9 missing)',
        'imu: 51 stored of ~201 expected (none found missing; 201 received, 150 of them not '
        'stored under telemetry.max_rate)',
        'wheel_speeds: none received, so nothing is known of what was sent',
        'battery: 6 stored of ~11 expected (5 missing)']


def test_an_open_session_says_expected_runs_only_to_the_last_sample(fresh_db):
    session_id, robot_id = new_session(fresh_db, ended=False)
    ticks = [i / 20 for i in range(41)]  # 2 s of odom, then the stream stopped
    add_stream(fresh_db, session_id, robot_id, 'odom', 'OdomSamples', 0.05, ticks, ticks,
               (0.1, 0.0, 0.0, 0.5, 0.0, 0.0))
    section = telemetry_section(fresh_db, session_id)
    assert 'the session is open: expected from each stream\'s rate up to its last sample' \
        in section[0]
    assert section[1] == 'odom: 41 stored of ~41 expected (none found missing)'


@pytest.mark.parametrize('coverage, line', [
    (StreamCoverage('odom', None, 0, 0), 'odom: none received, so nothing is known of what '
                                         'was sent'),
    (StreamCoverage('imu', None, 0, 12), 'imu: 12 stored; arrivals were not counted, so what '
                                         'is missing is unknown'),
    (StreamCoverage('battery', 3, 3, 3), 'battery: 3 stored of ~3 expected (none found '
                                         'missing)'),
])
def test_no_line_claims_more_than_was_counted(coverage, line):
    assert coverage_line(coverage) == line
