"""The workspace's pytest fixtures: a private MariaDB per test run, fresh databases,
installed executables as processes, a test client node.

A package's tests take them with `pytest_plugins = ['robot_db_testing.fixtures']` in
their test/conftest.py (and <test_depend>robot_db_testing</test_depend>).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from robot_db_testing.database import free_port, TestDatabase
from robot_db_testing.private_mariadb import APP_USER, MIGRATION_USER, PrivateMariaDB
from robot_db_testing.processes import NodeProcess, start_node
from robot_db_testing.ros_client import RosTestClient


def pytest_configure(config) -> None:
    config.addinivalue_line(
        'markers', 'slow: a test that runs for more than ~20 s (outage and restart scenarios)')


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
