"""LogStore and SessionStore against a real MariaDB (no ROS graph needed)."""

import threading
from datetime import datetime, timedelta

import pytest

from db_logger.rows import CommandRow, EventRow, sql_time, StatusRow
from db_logger.sessions import SessionStore
from db_logger.migrate import split_statements
from db_logger.decoding import Batch
from db_logger.publisher_losses import LossRow
from db_logger.schema import SchemaTooOld
from db_logger.store import LogStore
from logger_database import database_config, SQL_DIR
from robot_db_testing.ros_client import wait_until

T0 = datetime(2026, 1, 12, 6, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def text_at(seconds: float) -> str:
    """at(seconds) as rows hold times."""
    return sql_time(round((at(seconds) - datetime(1970, 1, 1)).total_seconds() * 1000))


def status(serial='SN1', state='Idle', t=0.0, battery=80.0):
    return StatusRow(serial, 'EP01', state, '192.0.2.7', battery, text_at(t), text_at(t + 0.01))


def text_us(seconds: float) -> str:
    """at(seconds) as DATETIME(6) text, as loss rows hold times."""
    return at(seconds).isoformat(' ', 'microseconds')


def command(uuid, serial='SN1', t=0.0, payload='{"x": 1.0}'):
    return CommandRow(uuid, serial, 'Move', payload, 'Success', 'done', text_at(t),
                      text_at(t + 0.01))


def event(uuid, serial='SN1', t=0.0):
    return EventRow(uuid, serial, 'Goal', 'reached', text_at(t), text_at(t + 0.01))


@pytest.fixture
def store(fresh_db):
    s = LogStore(database_config(fresh_db))
    s.open()
    yield s
    s.close()


@pytest.fixture
def sessions(fresh_db):
    fresh_db.query("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'T', 'Admin')")
    s = SessionStore(database_config(fresh_db))
    yield s
    s.close()


def robot(fresh_db, serial='SN1'):
    return fresh_db.query('SELECT model_type, status, battery_percent, status_stamp, last_seen '
                          'FROM Robots WHERE serial = %s', (serial,))[0]


def test_status_creates_the_robot_then_newer_status_wins(store, fresh_db):
    store.write(Batch(statuses=[status(state='Idle', t=0)]))
    assert robot(fresh_db)[:3] == ('EP01', 'Idle', 80.0)
    store.write(Batch(statuses=[status(state='Active', t=2, battery=79.0)]))
    assert robot(fresh_db)[1:3] == ('Active', 79.0)
    # an older message arriving late never overwrites a newer one, but is "seen"
    store.write(Batch(statuses=[status(state='Idle', t=1, battery=99.0)]))
    model, state, battery, stamp, _ = robot(fresh_db)
    assert (state, battery, stamp) == ('Active', 79.0, at(2))
    # within one batch the newest stamp wins whatever the order
    store.write(Batch(statuses=[status(state='Idle', t=5), status(state='Error', t=4)]))
    assert robot(fresh_db)[1] == 'Idle'
    assert fresh_db.query('SELECT COUNT(*) FROM Robots')[0][0] == 1


def test_logs_get_the_session_whose_interval_holds_their_stamp(store, sessions, fresh_db):
    store.write(Batch(statuses=[status(t=0)]))
    first = sessions.start('test_admin', 'SN1', 'run 1', lambda: at(10))
    assert first.success, first.message
    assert sessions.end(first.session_id, '', lambda: at(20)).success
    second = sessions.start('test_admin', 'SN1', '', lambda: at(30))
    store.write(Batch(commands=[command('before', t=5), command('during-1', t=15),
                                command('between', t=25), command('during-2', t=35)],
                      events=[event('ev-1', t=12), event('ev-out', t=21)]))
    rows = dict(fresh_db.query('SELECT msg_uuid, session_id FROM CommandLogs'))
    assert rows == {'before': None, 'during-1': first.session_id, 'between': None,
                    'during-2': second.session_id}
    assert dict(fresh_db.query('SELECT msg_uuid, session_id FROM EventLogs')) == \
        {'ev-1': first.session_id, 'ev-out': None}


def test_a_message_delivered_twice_is_one_row(store, fresh_db):
    batch = Batch(statuses=[status()], commands=[command('dup')], events=[event('dup-e')])
    store.write(batch)
    store.write(batch)
    store.write(Batch(commands=[command('dup', t=99, payload='{"other": true}')]))
    assert fresh_db.query('SELECT COUNT(*), MIN(payload) FROM CommandLogs') == \
        [(1, '{"x": 1.0}')]
    assert fresh_db.query('SELECT COUNT(*) FROM EventLogs')[0][0] == 1


def test_losses_land_in_their_session_once_however_often_replayed(store, sessions, fresh_db):
    store.write(Batch(statuses=[status(t=0)]))
    started = sessions.start('test_admin', 'SN1', '', lambda: at(10))
    assert started.success, started.message
    losses = [LossRow('SN1', 'command_result', text_us(9), 3),
              LossRow('SN1', 'command_result', text_us(11), 5),
              LossRow('SN1', 'odom', text_us(11), 7)]
    store.write(Batch(losses=losses))
    store.write(Batch(losses=losses[1:]))  # a journal replayed after a crash
    assert fresh_db.query('SELECT stream, session_id, lost FROM IntakeLosses '
                          'ORDER BY counted_at, stream') == [
        ('command_result', None, 3), ('command_result', started.session_id, 5),
        ('odom', started.session_id, 7)]


def test_logs_of_a_robot_that_never_reported_are_kept(store, fresh_db):
    store.write(Batch(commands=[command('c1', serial='GHOST')]))
    assert fresh_db.query("SELECT model_type, status, status_stamp FROM Robots "
                          "WHERE serial = 'GHOST'") == [('Unknown', 'Unknown', None)]
    assert fresh_db.query('SELECT COUNT(*) FROM CommandLogs')[0][0] == 1
    # its first status fills the row in
    store.write(Batch(statuses=[status(serial='GHOST', state='Idle', t=1)]))
    assert fresh_db.query("SELECT model_type, status FROM Robots WHERE serial = 'GHOST'") == \
        [('EP01', 'Idle')]


def test_a_schema_older_than_needed_is_refused(empty_db):
    store = LogStore(database_config(empty_db))
    with pytest.raises(SchemaTooOld, match='after version 0 up to 003_intake_losses.sql'):
        store.open()
    assert not store.connected


def test_a_schema_without_the_intake_loss_table_is_refused(empty_db):
    conn = empty_db.connect(migrator=True)
    try:
        with conn.cursor() as cur:
            for name in ('001_initial_schema.sql', '002_telemetry.sql'):
                for statement in split_statements((SQL_DIR / name).read_text()):
                    cur.execute(statement)
    finally:
        conn.close()
    store = LogStore(database_config(empty_db))
    with pytest.raises(SchemaTooOld, match='at version 2, .* up to 003_intake_losses.sql'):
        store.open()


def test_session_start_refusals_name_the_problem(store, sessions):
    store.write(Batch(statuses=[status(serial='SN1')]))
    assert sessions.start('nobody', 'SN1', '', lambda: at(1)).message == \
        "unknown user 'nobody' (add it with /user/add)"
    assert sessions.start('test_admin', 'SN404', '', lambda: at(1)).message == \
        "robot 'SN404' has not reported yet"
    assert sessions.start('', 'SN1', '', lambda: at(1)).message == 'user_id is empty'
    assert sessions.start('test_admin', 'SN1', 'n' * 256, lambda: at(1)).message == \
        'note is 256 characters; at most 255'
    clock_reads = []  # the time is read once, for the row: after every check, last
    opened = sessions.start('test_admin', 'SN1', '', lambda: clock_reads.append(1) or at(1))
    assert opened.success and opened.session_id > 0 and clock_reads == [1]
    again = sessions.start('test_admin', 'SN1', '', lambda: at(2))
    assert not again.success
    assert again.message == f"robot 'SN1' already in session {opened.session_id}"


def test_robot_known_only_from_logs_has_not_reported(store, sessions):
    store.write(Batch(events=[event('e1', serial='GHOST')]))
    outcome = sessions.start('test_admin', 'GHOST', '', lambda: at(1))
    assert not outcome.success and outcome.message == "robot 'GHOST' has not reported yet"


def test_session_end_by_id_or_by_robot_and_its_refusals(store, sessions, fresh_db):
    store.write(Batch(statuses=[status(serial='SN1'), status(serial='SN2')]))
    assert sessions.end(0, 'SN1', lambda: at(1)).message == "robot 'SN1' has no open session"
    assert sessions.end(0, 'SN404', lambda: at(1)).message == "unknown robot 'SN404'"
    assert sessions.end(0, '', lambda: at(1)).message.startswith(
        'give session_id, or robot_serial')
    assert sessions.end(999, '', lambda: at(1)).message == 'session 999 does not exist'
    one = sessions.start('test_admin', 'SN1', '', lambda: at(1)).session_id
    two = sessions.start('test_admin', 'SN2', '', lambda: at(1)).session_id
    assert sessions.end(one, 'SN2', lambda: at(2)).message == \
        f"session {one} belongs to robot 'SN1', not 'SN2'"
    ended = sessions.end(0, 'SN2', lambda: at(3))
    assert ended.success and ended.session_id == two
    assert sessions.end(one, '', lambda: at(4)).success
    assert sessions.end(one, '', lambda: at(5)).message == \
        f'session {one} already ended at 2026-01-12 06:00:04 UTC'
    assert fresh_db.query('SELECT session_id, end_time FROM Sessions ORDER BY session_id') == \
        [(one, at(4)), (two, at(3))]


def test_add_user_validates_and_upserts(sessions, fresh_db):
    assert sessions.add_user('student2026', '김학생 🎓', '').message == \
        "user 'student2026' added (Student)"
    assert sessions.add_user('student2026', '김학생', 'Admin').message == \
        "user 'student2026' updated (Admin)"
    assert sessions.add_user('x', 'X', 'Root').message == \
        "role 'Root' is not one of Admin, Student"
    assert sessions.add_user('', 'X', '').message == \
        'user_id must be 1-50 characters, got 0'
    assert sessions.add_user('u' * 51, 'X', '').message == \
        'user_id must be 1-50 characters, got 51'
    assert fresh_db.query("SELECT name, role FROM Users WHERE user_id = 'student2026'") == \
        [('김학생', 'Admin')]


def test_a_batch_chosen_as_a_deadlock_victim_runs_again(store, sessions, fresh_db):
    """A session's end locks its Sessions row, then its robot's row; a batch locks the robot's
    row (a status), then the session's (a command's foreign key): InnoDB rolls one back."""
    store.write(Batch(statuses=[status(t=0)]))
    started = sessions.start('test_admin', 'SN1', '', lambda: at(10))
    ending = fresh_db.connect()
    ending.autocommit(False)
    outcome = {}

    def write() -> None:
        try:
            outcome['rows'] = store.write(Batch(statuses=[status(t=11)],
                                                commands=[command('in-session', t=12)]))
        except Exception as exc:  # noqa: B902 - the test reports whatever it raised
            outcome['error'] = exc

    writer = threading.Thread(target=write)
    try:
        with ending.cursor() as cur:
            # heavier than the batch, so that InnoDB picks the batch as the victim
            cur.executemany("INSERT INTO Users (user_id, name, role) VALUES (%s, 'U', 'Student')",
                            [(f'user{n}',) for n in range(50)])
            cur.execute('SELECT end_time FROM Sessions WHERE session_id = %s FOR UPDATE',
                        (started.session_id,))
            writer.start()
            assert wait_until(lambda: fresh_db.query(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                "WHERE INFO LIKE 'INSERT INTO CommandLogs%%'")[0][0] == 1, 10.0)
            cur.execute("SELECT status FROM Robots WHERE serial = 'SN1' FOR UPDATE")
        ending.commit()
    finally:
        ending.close()
        writer.join(10.0)
    assert outcome == {'rows': 2}
    assert fresh_db.query('SELECT session_id FROM CommandLogs') == [(started.session_id,)]
    assert robot(fresh_db)[3] == at(11)


def test_a_session_end_chosen_as_a_deadlock_victim_runs_again(store, sessions, fresh_db):
    """The writer locks the robot's row (a status), then the session's (a command's foreign
    key); a session's end locks its Sessions row, then its robot's: InnoDB rolls one back."""
    store.write(Batch(statuses=[status(t=0)]))
    started = sessions.start('test_admin', 'SN1', '', lambda: at(10))
    writing = fresh_db.connect()
    writing.autocommit(False)
    outcome = {}

    def end() -> None:
        try:
            outcome['end'] = sessions.end(started.session_id, '', lambda: at(20))
        except Exception as exc:  # noqa: B902 - the test reports whatever it raised
            outcome['error'] = exc

    ender = threading.Thread(target=end)
    try:
        with writing.cursor() as cur:
            # heavier than the end, so that InnoDB picks the end as the victim
            cur.executemany("INSERT INTO Users (user_id, name, role) VALUES (%s, 'U', 'Student')",
                            [(f'user{n}',) for n in range(50)])
            cur.execute("UPDATE Robots SET status = 'Active' WHERE serial = 'SN1'")
            ender.start()
            assert wait_until(lambda: fresh_db.query(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                "WHERE INFO LIKE 'SELECT s.end_time, r.serial FROM Sessions%%'")[0][0] == 1, 10.0)
            cur.execute("INSERT INTO CommandLogs (msg_uuid, robot_id, session_id, command_type, "
                        "payload, result, message, stamp, received_at) SELECT 'in', robot_id, "
                        "%s, 'Move', '{}', 'Success', '', %s, %s FROM Robots",
                        (started.session_id, at(12), at(12)))
        writing.commit()
    finally:
        writing.close()
        ender.join(10.0)
    assert outcome.get('end') and outcome['end'].success, outcome
    assert robot(fresh_db)[1] == 'Active'
