"""pytest fixtures: a private MariaDB per test run, fresh databases, ROS processes."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from private_mariadb import APP_USER, MIGRATION_USER, Credentials, PrivateMariaDB
from tests.support.processes import NodeProcess, REPO_ROOT, start_node
from tests.support.ros_client import RosTestClient

SQL_DIR = REPO_ROOT / 'sql'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@dataclass
class TestDatabase:
    """One freshly created database on the private server, with both users' credentials."""

    server: PrivateMariaDB
    name: str
    app: Credentials
    migrator: Credentials

    def config(self, migrator: bool = False):
        from db_logger.connection import DatabaseConfig
        creds = self.migrator if migrator else self.app
        return DatabaseConfig(creds.host, creds.port, self.name, creds.user, creds.password())

    def connect(self, migrator: bool = False):
        """An autocommit connection in UTC (the same settings the logger uses)."""
        from db_logger.connection import connect
        conn = connect(self.config(migrator))
        conn.autocommit(True)
        return conn

    def query(self, sql: str, args=None) -> list:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def migrate(self) -> None:
        """Apply every migration in sql/, as the migration tool does."""
        from db_logger.migrate import Migrator
        conn = self.connect(migrator=True)
        try:
            Migrator(conn, SQL_DIR).apply_pending()
        finally:
            conn.close()

    def logger_params(self) -> List[str]:
        """--ros-args -p items that point db_logger at this database."""
        return ['-p', f'db.host:={self.app.host}', '-p', f'db.port:={self.app.port}',
                '-p', f'db.name:={self.name}', '-p', f'db.user:={self.app.user}',
                '-p', f'db.password_file:={self.app.password_file}']


@pytest.fixture(scope='session')
def mariadb(tmp_path_factory) -> Iterator[PrivateMariaDB]:
    """A private MariaDB server for the whole test run (own datadir, loopback port)."""
    server = PrivateMariaDB(tmp_path_factory.mktemp('mariadb'), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def empty_db(mariadb) -> Iterator[TestDatabase]:
    """A new database with the application and migration users, no schema yet."""
    name = 'test_' + uuid.uuid4().hex[:12]
    mariadb.create_database(name)
    yield TestDatabase(mariadb, name, mariadb.credentials(APP_USER, name),
                       mariadb.credentials(MIGRATION_USER, name))
    mariadb.drop_database(name)


@pytest.fixture
def fresh_db(empty_db) -> TestDatabase:
    """A new database with every migration applied."""
    empty_db.migrate()
    return empty_db


@pytest.fixture
def ros_client() -> Iterator[RosTestClient]:
    client = RosTestClient('test_client_' + uuid.uuid4().hex[:6])
    yield client
    client.close()


@pytest.fixture
def nodes(tmp_path) -> Iterator[Callable[..., NodeProcess]]:
    """Factory: start an installed executable; every one started is stopped at teardown."""
    started: List[NodeProcess] = []

    def start(package: str, name: str, *ros_args: str, env=None, tag: str = '') -> NodeProcess:
        proc = start_node(package, name, tmp_path / 'logs', ros_args, env=env, tag=tag)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed test, attach the tail of every node log it wrote to the report."""
    outcome = yield
    report = outcome.get_result()
    tmp_path = getattr(item, 'funcargs', {}).get('tmp_path')
    if report.failed and tmp_path is not None:
        for log in sorted((Path(tmp_path) / 'logs').glob('*.log')):
            report.sections.append((f'node log {log.name}',
                                    log.read_text(errors='replace')[-4000:]))
