"""db_logger as a process: real DDS from this test process, a real MariaDB."""

import json
import math
import re
import time

import psutil

from diagnostic_msgs.msg import DiagnosticArray
from robot_interfaces.srv import AddUser, EndSession, StartSession

from db_logger.rows import utc_from_epoch
from fake_robot import SteadyPublisher
from logger_database import kill_connections
from robot_db_testing.ros_client import wait_until


def rows(db, sql, args=None):
    return db.query(sql, args)


def wait_count(db, sql, expected, timeout=15.0, args=None):
    """Poll until the COUNT(*) query returns expected; return the last count."""
    last = [None]

    def check():
        last[0] = db.query(sql, args)[0][0]
        return last[0] == expected
    wait_until(check, timeout, period=0.1)
    return last[0]


def assert_stored_once(db, ids):
    """Every id in CommandLogs exactly once, nothing else (waits for the backlog)."""
    published = set(ids)
    assert wait_count(db, 'SELECT COUNT(*) FROM CommandLogs', len(published),
                      timeout=30.0) == len(published)
    stored = [r[0] for r in rows(db, 'SELECT msg_uuid FROM CommandLogs')]
    assert set(stored) == published and len(stored) == len(published)


def add_admin(db):
    db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', '테스트관리자', "
             "'Admin')")


def test_status_registers_the_robot_and_follows_its_changes(fresh_db, start_logger,
                                                            robot_factory):
    logger = start_logger(fresh_db)
    robot = robot_factory('/ep01', '3JKCK980030E3K')
    robot.status('Idle', battery=90.0)
    assert wait_count(fresh_db, "SELECT COUNT(*) FROM Robots WHERE serial = '3JKCK980030E3K'",
                      1) == 1
    robot.status('Active', battery=89.0)
    assert wait_until(lambda: rows(fresh_db, 'SELECT status, battery_percent FROM Robots') ==
                      [('Active', 89.0)], 10.0)
    robot.status('Idle', battery=math.nan)
    assert wait_until(lambda: rows(fresh_db, 'SELECT status, battery_percent, model_type, '
                                             'ip_address FROM Robots') ==
                      [('Idle', None, 'EP01', '192.0.2.7')], 10.0)
    assert logger.alive()


def test_commands_and_events_land_in_the_open_session(fresh_db, start_logger, robot_factory,
                                                      ros_client):
    add_admin(fresh_db)
    start_logger(fresh_db)
    robot = robot_factory('/ep01', 'SN-EP01')
    robot.status('Idle')
    before = robot.result(command_type='Velocity')
    wait_count(fresh_db, 'SELECT COUNT(*) FROM CommandLogs', 1)

    started = ros_client.call(StartSession, '/session/start', StartSession.Request(
        user_id='test_admin', robot_serial='SN-EP01', note='실험 🚀'))
    assert started.success, started.message
    during = robot.result()
    goal = robot.event(event_type='Goal', message='도착')
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM EventLogs', 1) == 1
    ended = ros_client.call(EndSession, '/session/end',
                            EndSession.Request(session_id=0, robot_serial='SN-EP01'))
    assert ended.success and ended.session_id == started.session_id, ended.message
    after = robot.result()
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM CommandLogs', 3) == 3

    by_id = dict(rows(fresh_db, 'SELECT msg_uuid, session_id FROM CommandLogs'))
    assert by_id == {before.command_id: None, during.command_id: started.session_id,
                     after.command_id: None}
    event_row = rows(fresh_db, 'SELECT msg_uuid, session_id, event_type, message, robot_id '
                               'FROM EventLogs')[0]
    assert event_row[:4] == (goal.event_id, started.session_id, 'Goal', '도착')
    robot_id = rows(fresh_db, "SELECT robot_id FROM Robots WHERE serial = 'SN-EP01'")[0][0]
    assert event_row[4] == robot_id
    payload, stamp, received, created = rows(
        fresh_db, 'SELECT payload, stamp, received_at, created_at FROM CommandLogs '
                  'WHERE msg_uuid = %s', (during.command_id,))[0]
    assert json.loads(payload) == {'x': 1.0, 'xy_speed': 0.5}
    assert stamp == utc_from_epoch(during.header.stamp.sec + during.header.stamp.nanosec * 1e-9)
    assert stamp <= received <= created
    assert rows(fresh_db, 'SELECT note, end_time IS NOT NULL FROM Sessions') == [('실험 🚀', 1)]


def test_session_services_answer_errors_with_a_reason(fresh_db, start_logger, robot_factory,
                                                      ros_client):
    add_admin(fresh_db)
    start_logger(fresh_db, '-p', 'session_start_wait:=0.5')
    robot_factory('/ep01', 'SN-EP01').status('Idle')
    wait_count(fresh_db, 'SELECT COUNT(*) FROM Robots', 1)

    def start(user, serial):
        return ros_client.call(StartSession, '/session/start',
                               StartSession.Request(user_id=user, robot_serial=serial))
    assert start('x', 'SN-EP01').message == "unknown user 'x' (add it with /user/add)"
    assert start('test_admin', 'y').message == \
        "robot 'y' has not reported yet (waited 0.5 s for its first status)"
    first = start('test_admin', 'SN-EP01')
    assert first.success
    second = start('test_admin', 'SN-EP01')
    assert (second.success, second.session_id) == (False, 0)
    assert second.message == f"robot 'SN-EP01' already in session {first.session_id}"

    def end(sid, serial=''):
        return ros_client.call(EndSession, '/session/end',
                               EndSession.Request(session_id=sid, robot_serial=serial))
    assert end(12345).message == 'session 12345 does not exist'
    assert end(first.session_id).success
    assert end(first.session_id).message.startswith(f'session {first.session_id} already ended')
    assert end(0, 'SN-EP01').message == "robot 'SN-EP01' has no open session"


def test_users_are_added_through_a_service(fresh_db, start_logger, ros_client):
    start_logger(fresh_db)
    added = ros_client.call(AddUser, '/user/add', AddUser.Request(
        user_id='student2026', name='김학생', role='Student'))
    assert added.success, added.message
    refused = ros_client.call(AddUser, '/user/add', AddUser.Request(
        user_id='x', name='X', role='Superuser'))
    assert not refused.success and 'role' in refused.message
    assert rows(fresh_db, 'SELECT user_id, name, role FROM Users') == \
        [('student2026', '김학생', 'Student')]


def test_a_robot_appearing_later_is_picked_up(fresh_db, start_logger, robot_factory):
    logger = start_logger(fresh_db)
    assert logger.wait_for_output('connected to', 15.0), logger.output()
    time.sleep(1.0)  # the logger has scanned the graph at least once without this robot
    late = robot_factory('/ep07', 'SN-LATE')
    late.status('Idle')
    late.event(event_type='Collision', message='armor 1 hit')
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM EventLogs', 1, timeout=10.0) == 1
    assert '/ep07/event' in logger.output()


def test_nothing_is_lost_or_doubled_when_the_database_goes_away(
        tmp_path, start_logger, robot_factory):
    # a server of its own, so stopping it leaves the other tests alone
    from robot_db_testing.database import free_port, TestDatabase
    from robot_db_testing.private_mariadb import PrivateMariaDB
    server = PrivateMariaDB(tmp_path / 'outage-db', free_port())
    server.start()
    try:
        server.create_database('outage')
        db = TestDatabase(server, 'outage', server.credentials('robot_user', 'outage'),
                          server.credentials('robot_migrator', 'outage'))
        db.migrate()

        logger = start_logger(db)
        robot = robot_factory('/ep01', 'SN-OUTAGE')
        robot.status('Active')
        with SteadyPublisher(robot, rate_hz=50) as steady:
            assert wait_until(lambda: len(steady.ids) > 50, 10.0)
            assert wait_count(db, 'SELECT COUNT(*) > 0 FROM CommandLogs', 1) == 1
            server.stop()
            time.sleep(4.0)  # ~200 messages arrive while the database is away
            server.start()
            time.sleep(1.0)
        assert_stored_once(db, steady.ids)
        output = logger.output()
        assert 'retrying in' in output
        assert output.count('connected to robot_user@') >= 2
    finally:
        server.stop()


def test_a_killed_logger_commits_its_journal_after_restart(fresh_db, start_logger,
                                                           robot_factory, tmp_path):
    first = start_logger(fresh_db, tag='-first')
    robot = robot_factory('/ep01', 'SN-KILL')
    robot.status('Active')
    with SteadyPublisher(robot, rate_hz=100) as steady:
        assert wait_count(fresh_db, 'SELECT COUNT(*) > 0 FROM CommandLogs', 1) == 1
        # hold the table so what arrives next stays in the journal, uncommitted
        blocker = fresh_db.connect(migrator=True)  # LOCK TABLES needs more than DML
        blocker.cursor().execute('LOCK TABLES CommandLogs WRITE')
        time.sleep(1.5)
        writer = psutil.Process(first.pid).children()
        assert len(writer) == 1  # the writer process
        first.kill()  # SIGKILL, mid-stream, with a journal backlog
        # the writer does not outlive its node
        assert wait_until(lambda: not writer[0].is_running()
                          or writer[0].status() == psutil.STATUS_ZOMBIE, 10.0)
        blocker.close()
        time.sleep(1.0)  # published meanwhile: held by the publisher's history
        second = start_logger(fresh_db, tag='-second')
        time.sleep(1.5)
    assert_stored_once(fresh_db, steady.ids)
    backlog = re.search(r'\((\d+) messages from before\)', second.output())
    assert backlog and int(backlog.group(1)) >= 50, second.output()


def test_bad_input_is_stored_normalised_with_a_warning_naming_the_field(
        fresh_db, start_logger, robot_factory):
    logger = start_logger(fresh_db)
    robot = robot_factory('/ep01', 'SN-BAD')
    robot.status('Flying', battery=math.inf)
    not_json = robot.result(payload_json='linear=0.5, angular=NaN')
    nan_json = robot.result(payload_json='{"linear": NaN}')
    long_type = robot.result(command_type='X' * 80)
    sql = robot.result(message="'); DROP TABLE CommandLogs; -- 충돌 🤖")
    korean = robot.event(event_type='Collision', message='전방 장갑 피격 💥' * 5000)
    good_after = robot.result(command_type='Move')
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM CommandLogs', 5) == 5
    assert wait_count(fresh_db, 'SELECT COUNT(*) FROM EventLogs', 1) == 1

    def payload(msg):
        return json.loads(rows(fresh_db, 'SELECT payload FROM CommandLogs WHERE msg_uuid = %s',
                               (msg.command_id,))[0][0])
    assert payload(not_json) == {'raw': 'linear=0.5, angular=NaN'}
    assert payload(nan_json) == {'raw': '{"linear": NaN}'}
    assert rows(fresh_db, 'SELECT command_type FROM CommandLogs WHERE msg_uuid = %s',
                (long_type.command_id,))[0][0] == 'X' * 50
    assert rows(fresh_db, 'SELECT message FROM CommandLogs WHERE msg_uuid = %s',
                (sql.command_id,))[0][0] == "'); DROP TABLE CommandLogs; -- 충돌 🤖"
    stored_event = rows(fresh_db, 'SELECT message FROM EventLogs')[0][0]
    assert stored_event == korean.message[:len(stored_event)]
    assert len(stored_event.encode()) <= 65535
    assert rows(fresh_db, 'SELECT status, battery_percent FROM Robots') == [('Flying', None)]
    assert rows(fresh_db, 'SELECT COUNT(*) FROM CommandLogs WHERE msg_uuid = %s',
                (good_after.command_id,))[0][0] == 1
    assert wait_until(lambda: all(field in logger.output() for field in (
        'payload_json is not JSON', 'command_type is 80 characters', 'battery_percent inf',
        "status 'Flying'", 'message is')), 5.0), logger.output()
    assert logger.alive()


def test_health_is_published_on_diagnostics(fresh_db, start_logger, robot_factory, ros_client):
    received = ros_client.collect(DiagnosticArray, '/diagnostics', 10)
    start_logger(fresh_db)
    robot = robot_factory('/ep01', 'SN-DIAG')
    robot.status('Idle')
    for _ in range(3):
        robot.result()

    def committed(rows):
        for array in list(received):
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if values.get('rows_committed') == str(rows):
                    return values
        return None
    assert wait_until(lambda: committed(4) is not None, 15.0)
    values = committed(4)
    assert values['database_connected'] == 'true'
    assert values['journal_depth'] == '0'
    assert values['reconnects'] == '0'  # the first connection is no reconnection
    assert set(values) >= {'rows_per_second', 'last_error', 'database'}
    # the writer's connection killed: the next batch reconnects
    assert kill_connections(fresh_db) == 1
    robot.result()
    assert wait_until(lambda: committed(5) is not None, 15.0)
    assert committed(5)['reconnects'] == '1'


def test_a_schema_older_than_needed_stops_the_logger_naming_the_migration(
        empty_db, start_logger):
    logger = start_logger(empty_db)
    assert wait_until(lambda: not logger.alive(), 20.0), logger.output()
    assert logger.popen.returncode != 0
    assert 'up to 003_intake_losses.sql' in logger.output()


def test_bad_parameters_stop_the_logger_with_one_clear_line(fresh_db, start_logger):
    logger = start_logger(fresh_db, '-p', 'batch_size:=0', tag='-bad')
    assert wait_until(lambda: not logger.alive(), 20.0)
    assert logger.popen.returncode == 2
    assert 'batch_size' in logger.output() and 'Traceback' not in logger.output()
