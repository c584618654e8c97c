"""The schema on a fresh MariaDB, through the migrate tool as users run it."""

import subprocess
from pathlib import Path

import pymysql
import pytest

from db_logger import rows
from db_logger.migrate import Migrator, split_statements
from logger_database import SQL_DIR
from robot_db_testing.processes import executable


def run_migrate(db, *extra, password_file=None, sql_dir=SQL_DIR):
    creds = db.migrator
    argv = [str(executable('db_logger', 'migrate')), '--host', creds.host,
            '--port', str(creds.port), '--user', creds.user,
            '--password-file', str(password_file or creds.password_file),
            '--database', db.name, '--sql-dir', str(sql_dir), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def version(db):
    return db.query('SELECT MAX(version) FROM schema_migrations')[0][0]


def test_migrations_apply_and_reapply_is_a_noop(empty_db):
    first = run_migrate(empty_db)
    assert first.returncode == 0, first.stderr
    assert 'applied 001_initial_schema.sql' in first.stdout
    assert 'applied 002_telemetry.sql' in first.stdout
    assert 'applied 003_intake_losses.sql' in first.stdout
    tables = {r[0] for r in empty_db.query('SHOW TABLES')}
    assert {'Users', 'Robots', 'Sessions', 'EventLogs', 'CommandLogs', 'OdomSamples',
            'ImuSamples', 'WheelSamples', 'BatterySamples', 'StatusSamples',
            'TelemetryCoverage', 'IntakeLosses', 'schema_migrations'} <= tables
    assert version(empty_db) == 3

    second = run_migrate(empty_db)
    assert second.returncode == 0, second.stderr
    assert '(0 applied)' in second.stdout
    assert empty_db.query('SELECT COUNT(*) FROM schema_migrations')[0][0] == 3


def test_sql_files_applied_by_hand_equal_the_tool(empty_db, fresh_db):
    # fresh_db went through the tool; apply the same files statement by statement
    conn = empty_db.connect(migrator=True)
    with conn.cursor() as cur:
        for path in sorted(SQL_DIR.glob('*.sql')):
            for statement in split_statements(path.read_text()):
                cur.execute(statement)
    conn.close()

    def schema(db):
        rows = db.query('SELECT table_name, column_name, column_type, is_nullable, column_key '
                        'FROM information_schema.columns WHERE table_schema = DATABASE() '
                        'ORDER BY table_name, ordinal_position')
        return rows
    assert schema(empty_db) == schema(fresh_db)
    assert version(empty_db) == version(fresh_db) == 3


def test_session_for_unknown_user_is_rejected_by_foreign_key(fresh_db):
    fresh_db.query("INSERT INTO Robots (serial, model_type) VALUES ('SN1', 'EP01')")
    with pytest.raises(pymysql.err.IntegrityError) as err:
        fresh_db.query("INSERT INTO Sessions (user_id, robot_id) "
                       "SELECT 'nobody', robot_id FROM Robots WHERE serial = 'SN1'")
    assert err.value.args[0] == 1452  # foreign key constraint fails
    assert fresh_db.query('SELECT COUNT(*) FROM Sessions')[0][0] == 0


def test_one_open_session_per_robot_is_a_database_rule(fresh_db):
    fresh_db.query("INSERT INTO Users (user_id, name) VALUES ('u1', 'U')")
    fresh_db.query("INSERT INTO Robots (serial, model_type) VALUES ('SN1', 'EP01')")
    fresh_db.query("INSERT INTO Sessions (user_id, robot_id) VALUES ('u1', 1)")
    with pytest.raises(pymysql.err.IntegrityError):
        fresh_db.query("INSERT INTO Sessions (user_id, robot_id) VALUES ('u1', 1)")
    fresh_db.query('UPDATE Sessions SET end_time = CURRENT_TIMESTAMP(3)')
    fresh_db.query("INSERT INTO Sessions (user_id, robot_id) VALUES ('u1', 1)")
    assert fresh_db.query('SELECT COUNT(*) FROM Sessions')[0][0] == 2


def test_korean_and_emoji_round_trip_unchanged(fresh_db):
    name = '테스트관리자 🤖🔋'
    message = '충돌 발생: 전방 장갑 👊 — "quoted" \'single\' ; -- not a comment'
    fresh_db.query('INSERT INTO Users (user_id, name) VALUES (%s, %s)', ('student2026', name))
    fresh_db.query("INSERT INTO Robots (serial, model_type) VALUES ('SN1', 'EP01')")
    fresh_db.query("INSERT INTO EventLogs (msg_uuid, robot_id, event_type, message, stamp, "
                   "received_at) VALUES ('e1', 1, 'Collision', %s, '2026-01-12 06:01:04.125', "
                   "'2026-01-12 06:01:04.130')", (message,))
    assert fresh_db.query("SELECT name FROM Users WHERE user_id = 'student2026'")[0][0] == name
    row = fresh_db.query("SELECT message, stamp FROM EventLogs WHERE msg_uuid = 'e1'")[0]
    assert row[0] == message
    assert row[1].microsecond == 125000  # millisecond precision kept


def test_duplicate_message_id_is_stored_once(fresh_db):
    fresh_db.query("INSERT INTO Robots (serial, model_type) VALUES ('SN1', 'EP01')")
    insert = ('INSERT IGNORE INTO CommandLogs (msg_uuid, robot_id, command_type, payload, '
              "result, stamp, received_at) VALUES ('c-1', 1, 'Move', %s, 'Success', "
              "'2026-01-12 06:01:12', '2026-01-12 06:01:12')")
    fresh_db.query(insert, ('{"x": 1.0}',))
    fresh_db.query(insert, ('{"x": 1.0}',))
    assert fresh_db.query("SELECT COUNT(*) FROM CommandLogs WHERE msg_uuid = 'c-1'")[0][0] == 1
    with pytest.raises(pymysql.err.IntegrityError):
        fresh_db.query(insert.replace('INSERT IGNORE', 'INSERT'), ('{"x": 1.0}',))


def test_the_widths_rows_cut_to_are_the_schemas(fresh_db):
    """rows.py fits each field to its column: every width it uses is the live schema's."""
    def column(name):
        table, field = name.split('.')
        found = fresh_db.query(
            'SELECT DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH '
            'FROM information_schema.COLUMNS '
            'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s',
            (table, field))
        assert len(found) == 1, f'{name} is not in the schema'
        return found[0]

    for name, chars in rows.COLUMN_CHARS.items():
        data_type, max_chars, _ = column(name)
        assert (data_type, max_chars) == ('varchar', chars), name
    for name in rows.TEXT_COLUMNS:
        data_type, _, max_bytes = column(name)
        assert (data_type, max_bytes) == ('text', rows.TEXT_BYTES), name


def test_seed_adds_the_manuals_test_admin(empty_db):
    result = run_migrate(empty_db, '--seed')
    assert result.returncode == 0, result.stderr
    assert empty_db.query("SELECT name, role FROM Users WHERE user_id = 'test_admin'") == \
        [('테스트관리자', 'Admin')]


def test_wrong_credentials_give_one_line_and_nonzero_exit(empty_db, tmp_path):
    wrong = tmp_path / 'wrong.password'
    wrong.write_text('not-the-password\n')
    result = run_migrate(empty_db, password_file=wrong)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Access denied' in lines[0] and 'cannot connect' in lines[0]


def test_server_down_gives_one_line_and_nonzero_exit(empty_db):
    creds = empty_db.migrator
    argv = [str(executable('db_logger', 'migrate')), '--host', '127.0.0.1', '--port', '1',
            '--user', creds.user, '--password-file', str(creds.password_file),
            '--database', empty_db.name]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and '127.0.0.1:1' in lines[0] and '2003' in lines[0]


def test_broken_migration_leaves_the_last_good_version(empty_db, tmp_path):
    sql_dir = tmp_path / 'sql'
    sql_dir.mkdir()
    (sql_dir / '001_initial_schema.sql').write_text((SQL_DIR / '001_initial_schema.sql')
                                                    .read_text())
    (sql_dir / '002_broken.sql').write_text(
        'CREATE TABLE IF NOT EXISTS SensorLogs (id BIGINT PRIMARY KEY);\n'
        'ALTER TABLE NoSuchTable ADD COLUMN x INT;\n'
        "INSERT INTO schema_migrations (version, name) VALUES (2, 'broken');\n")
    result = run_migrate(empty_db, sql_dir=sql_dir)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert '002_broken.sql failed at statement 2 of 3' in lines[0]
    assert "NoSuchTable" in lines[0] and 'left at version 1' in lines[0]
    assert version(empty_db) == 1
    tables = {r[0] for r in empty_db.query('SHOW TABLES')}
    assert 'SensorLogs' not in tables and 'CommandLogs' in tables


def test_migration_files_are_numbered_without_gaps(tmp_path):
    (tmp_path / '001_a.sql').write_text('SELECT 1;')
    (tmp_path / '003_c.sql').write_text('SELECT 1;')
    from db_logger.migrate import discover, MigrationError
    with pytest.raises(MigrationError, match='without gaps'):
        discover(tmp_path)


def test_statement_splitter_respects_quotes_and_comments():
    sql = ("-- a comment; with a semicolon\nCREATE TABLE t (c VARCHAR(5) COMMENT 'a;b''c');\n"
           "INSERT INTO t VALUES ('x;y'); # trailing; comment\n")
    assert split_statements(sql) == [
        "CREATE TABLE t (c VARCHAR(5) COMMENT 'a;b''c')", "INSERT INTO t VALUES ('x;y')"]


def test_migrator_reports_pending_versions(empty_db):
    conn = empty_db.connect(migrator=True)
    try:
        migrator = Migrator(conn, Path(SQL_DIR))
        assert migrator.current_version() == 0
        assert [m.version for m in migrator.pending()] == [1, 2, 3]
        migrator.apply_pending()
        assert migrator.pending() == []
    finally:
        conn.close()
