"""A private MariaDB server for development and tests: never the system service.

Its data lives in a directory of ours (default .local/mariadb under the current
directory, or $ROBOT_DB_DIR; the repository git-ignores .local); it
listens on 127.0.0.1 (port 7858 by default, as in the manual) and on a socket in
that directory. `start` also creates the database, a least-privilege application
user (SELECT/INSERT/UPDATE/DELETE) and a migration user (DDL on that database
only), whose generated passwords are kept in files beside the data, mode 0600.

    ros2 run robot_db_testing private_mariadb start [--migrate [--seed]] | stop | status | env
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from robot_db_testing.processes import executable

DEFAULT_DIR = Path('.local') / 'mariadb'
APP_USER = 'robot_user'
MIGRATION_USER = 'robot_migrator'
DATABASE = 'robot_capstone'


class MariaDBError(RuntimeError):
    """The private server could not be set up; the message says why."""


def _find_binary(name: str) -> str:
    for candidate in (shutil.which(name), f'/usr/sbin/{name}', f'/usr/bin/{name}'):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MariaDBError(f'{name} not found: install mariadb-server (scripts/setup.sh does)')


@dataclass
class Credentials:
    host: str
    port: int
    user: str
    password_file: Path
    database: str

    def password(self) -> str:
        return self.password_file.read_text().strip()


class PrivateMariaDB:
    """One MariaDB server process over a data directory of its own."""

    def __init__(self, base_dir: Path = DEFAULT_DIR, port: int = 7858,
                 buffer_pool: str = '64M'):
        self.base_dir = Path(base_dir).absolute()  # mysqld is given these paths
        self.port = port
        self.buffer_pool = buffer_pool  # small for tests; MySQL 8's default is 128M
        self.datadir = self.base_dir / 'data'
        self.socket = self.base_dir / 'mysqld.sock'
        self.pid_file = self.base_dir / 'mysqld.pid'
        self.log_file = self.base_dir / 'mysqld.log'
        # temporary tables here, not in the shared /tmp: with two installs at once, one
        # failed there ("Error on delete of '/tmp/#sql-temptable-...'")
        self.tmpdir = self.base_dir / 'tmp'
        self._process: subprocess.Popen | None = None  # set when this object started it

    # -- server lifecycle -------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return self.pid() is not None and self._admin_ok()

    def start(self, timeout: float = 30.0) -> None:
        if self.running():
            return
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / 'mysql').exists():
            self._install_datadir()
        user = ['--user=root'] if os.geteuid() == 0 else []
        # Own config only (--no-defaults): nothing from /etc/mysql, no system service.
        argv = [_find_binary('mariadbd'), '--no-defaults', *user,
                f'--datadir={self.datadir}', f'--tmpdir={self.tmpdir}', f'--socket={self.socket}',
                f'--pid-file={self.pid_file}', f'--log-error={self.log_file}',
                '--bind-address=127.0.0.1', f'--port={self.port}',
                '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci',
                '--default-time-zone=+00:00', '--skip-log-bin',
                f'--innodb-buffer-pool-size={self.buffer_pool}', '--innodb-log-file-size=48M',
                '--max-connections=200']
        with open(os.devnull, 'wb') as devnull:
            self._process = subprocess.Popen(argv, stdout=devnull, stderr=devnull,
                                             start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is not None and self._admin_ok():
                return
            time.sleep(0.1)
        tail = self.log_file.read_text(errors='replace')[-600:] if self.log_file.exists() else ''
        raise MariaDBError(
            f'mariadbd did not start on port {self.port} in {timeout:.0f} s: {tail}')

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if self._process is not None and self._process.pid == pid:
            # our own child: wait() reaps it (a zombie would still answer kill(pid, 0))
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def _install_datadir(self) -> None:
        user = os.environ.get('USER') or ('root' if os.geteuid() == 0 else str(os.geteuid()))
        argv = [_find_binary('mariadb-install-db'), '--no-defaults', f'--datadir={self.datadir}',
                '--auth-root-authentication-method=socket',
                f'--auth-root-socket-user={user}', '--skip-test-db',
                f'--tmpdir={self.tmpdir}']  # passed on to the bootstrapping server
        if os.geteuid() == 0:
            argv.append('--user=root')
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise MariaDBError(f'mariadb-install-db failed: {result.stderr.strip()[-400:]}')

    # -- administration over the socket ----------------------------------------

    def admin_sql(self, sql: str) -> str:
        """Run SQL as the server's root over the private socket; return its output."""
        result = subprocess.run(
            [_find_binary('mariadb'), '--no-defaults', f'--socket={self.socket}', '-uroot',
             '--batch', '--skip-column-names', '-e', sql],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise MariaDBError(f'admin SQL failed: {result.stderr.strip()}')
        return result.stdout

    def _admin_ok(self) -> bool:
        try:
            self.admin_sql('SELECT 1')
            return True
        except MariaDBError:
            return False

    def _password_file(self, user: str) -> Path:
        path = self.base_dir / f'{user}.password'
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(18) + '\n')
        return path

    def create_database(self, database: str = DATABASE) -> None:
        """Create database, application and migration users (idempotent)."""
        app_pw = self._password_file(APP_USER).read_text().strip()
        mig_pw = self._password_file(MIGRATION_USER).read_text().strip()
        statements = [
            f'CREATE DATABASE IF NOT EXISTS `{database}` '
            'CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci']
        for host in ('127.0.0.1', 'localhost'):
            statements += [
                f"CREATE USER IF NOT EXISTS '{APP_USER}'@'{host}' IDENTIFIED BY '{app_pw}'",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{database}`.* "
                f"TO '{APP_USER}'@'{host}'",
                f"CREATE USER IF NOT EXISTS '{MIGRATION_USER}'@'{host}' IDENTIFIED BY '{mig_pw}'",
                f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{MIGRATION_USER}'@'{host}'",
            ]
        self.admin_sql('; '.join(statements))

    def drop_database(self, database: str) -> None:
        self.admin_sql(f'DROP DATABASE IF EXISTS `{database}`')

    def credentials(self, user: str = APP_USER, database: str = DATABASE) -> Credentials:
        return Credentials('127.0.0.1', self.port, user, self._password_file(user), database)


def migrate(creds: Credentials, seed: bool = False, **run) -> subprocess.CompletedProcess:
    """Apply the migrations (and the seed data) with db_logger's installed `migrate` tool,
    as a user would: found through the ament index, so this package needs no import of
    db_logger (whose tests depend on this package)."""
    try:
        tool = executable('db_logger', 'migrate')
    except (LookupError, FileNotFoundError) as exc:
        raise MariaDBError(f'db_logger is not built or not sourced: {exc}') from None
    return subprocess.run([str(tool), '--host', creds.host, '--port', str(creds.port),
                           '--user', creds.user, '--password-file', str(creds.password_file),
                           '--database', creds.database, *(['--seed'] if seed else [])],
                          **run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('action', choices=['start', 'stop', 'status', 'env'])
    parser.add_argument('--dir', type=Path,
                        default=Path(os.environ.get('ROBOT_DB_DIR', DEFAULT_DIR)),
                        help='data directory (default: $ROBOT_DB_DIR, else ./.local/mariadb)')
    parser.add_argument('--port', type=int, default=int(os.environ.get('ROBOT_DB_PORT', 7858)))
    parser.add_argument('--database', default=DATABASE)
    parser.add_argument('--migrate', action='store_true', help='apply migrations after start')
    parser.add_argument('--seed', action='store_true', help='with --migrate: add test_admin')
    args = parser.parse_args(argv)
    db = PrivateMariaDB(args.dir, args.port)
    try:
        if args.action == 'start':
            db.start()
            db.create_database(args.database)
            print(f'private MariaDB running: 127.0.0.1:{db.port}, socket {db.socket}, '
                  f'data {db.datadir}')
            if not args.migrate:
                return 0
            return migrate(db.credentials(MIGRATION_USER, args.database), args.seed).returncode
        if args.action == 'stop':
            db.stop()
            print('private MariaDB stopped')
            return 0
        if args.action == 'status':
            up = db.running()
            print(f'private MariaDB {"running (pid %d)" % db.pid() if up else "stopped"}, '
                  f'port {db.port}, data {db.datadir}')
            return 0 if up else 3
        creds = db.credentials()
        print(f'export ROBOT_DB_HOST={creds.host} ROBOT_DB_PORT={creds.port} '
              f'ROBOT_DB_NAME={args.database} ROBOT_DB_USER={creds.user} '
              f'ROBOT_DB_PASSWORD_FILE={creds.password_file}')
        return 0
    except MariaDBError as exc:
        print(f'private_mariadb: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
