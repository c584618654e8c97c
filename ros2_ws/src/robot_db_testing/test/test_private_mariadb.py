"""The private MariaDB and the database fixtures: least privilege, loopback only, and the
command line run.sh and the README use."""

import os
import stat
import subprocess
import sys

import pymysql
import pytest

from robot_db_testing.database import free_port
from robot_db_testing.private_mariadb import PrivateMariaDB


def test_the_application_user_may_write_rows_but_not_the_schema(empty_db):
    with empty_db.connect(migrator=True).cursor() as cur:
        cur.execute('CREATE TABLE T (id INT PRIMARY KEY)')
    app = empty_db.connect()
    with app.cursor() as cur:
        cur.execute('INSERT INTO T VALUES (1)')
        cur.execute('SELECT id FROM T')
        assert cur.fetchall() == ((1,),)
        with pytest.raises(pymysql.err.OperationalError) as refused:
            cur.execute('DROP TABLE T')
    assert refused.value.args[0] == 1142  # command denied to user
    app.close()


def test_credentials_are_kept_in_files_only_their_owner_reads(empty_db):
    for creds in (empty_db.app, empty_db.migrator):
        assert stat.S_IMODE(creds.password_file.stat().st_mode) == 0o600
        assert len(creds.password()) >= 20


def test_the_server_listens_on_loopback_in_utc(empty_db):
    assert empty_db.query('SELECT @@bind_address, @@time_zone, @@character_set_server') == [
        ('127.0.0.1', '+00:00', 'utf8mb4')]


def test_fresh_db_has_the_schema_migrate_applies(fresh_db):
    tables = {name for (name,) in fresh_db.query('SHOW TABLES')}
    assert {'Users', 'Robots', 'Sessions', 'CommandLogs', 'EventLogs'} <= tables


def private_mariadb(*args, env=None):
    return subprocess.run([sys.executable, '-m', 'robot_db_testing.private_mariadb', *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_command_line_starts_reports_and_stops_its_server(tmp_path):
    where = ['--dir', str(tmp_path / 'db'), '--port', str(free_port())]
    try:
        started = private_mariadb('start', *where)
        assert started.returncode == 0, started.stderr
        status = private_mariadb('status', *where)
        assert (status.returncode, 'running' in status.stdout) == (0, True)
        exports = private_mariadb('env', *where).stdout
        assert 'ROBOT_DB_USER=robot_user' in exports
        assert f'ROBOT_DB_PASSWORD_FILE={tmp_path / "db" / "robot_user.password"}' in exports
    finally:
        stopped = private_mariadb('stop', *where)
    assert stopped.returncode == 0, stopped.stderr
    status = private_mariadb('status', *where)
    assert (status.returncode, 'stopped' in status.stdout) == (3, True)


def test_migrate_without_db_logger_says_what_is_missing(tmp_path):
    # a workspace where db_logger is not built: its prefix is not on the ament path
    paths = os.environ['AMENT_PREFIX_PATH'].split(os.pathsep)
    env = dict(os.environ, AMENT_PREFIX_PATH=os.pathsep.join(
        p for p in paths if os.path.basename(p) != 'db_logger'))
    server = PrivateMariaDB(tmp_path / 'db', free_port())
    try:
        result = private_mariadb('start', '--dir', str(server.base_dir), '--port',
                                 str(server.port), '--migrate', env=env)
    finally:
        server.stop()
    assert result.returncode == 1
    assert 'db_logger is not built or not sourced' in result.stderr
