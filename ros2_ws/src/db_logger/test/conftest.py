"""Fixtures for db_logger process tests: the logger against a test database, publishers."""

from typing import Callable

import pytest

from fake_robot import FakeRobot

# the workspace's fixtures: mariadb, empty_db, fresh_db, ros_client, nodes
pytest_plugins = ['robot_db_testing.fixtures']


@pytest.fixture
def start_logger(nodes, tmp_path) -> Callable:
    """Start db_logger (installed executable) against a TestDatabase; journal in tmp_path."""
    def start(db, *params: str, tag: str = '', journal=None):
        journal = journal or tmp_path / 'journal'
        return nodes('db_logger', 'db_logger', *db.logger_params(),
                     '-p', f'journal_dir:={journal}', '-p', 'discovery_period:=0.5', *params,
                     tag=tag)
    return start


@pytest.fixture
def robot_factory(ros_client):
    return lambda namespace='/ep01', serial='SN-EP01': FakeRobot(ros_client.node, namespace,
                                                                 serial)
