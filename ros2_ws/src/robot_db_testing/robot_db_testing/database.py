"""A test's own database on the private server, with both users' credentials."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import List

import pymysql

from robot_db_testing.private_mariadb import Credentials, migrate, PrivateMariaDB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@dataclass
class TestDatabase:
    """One freshly created database on the private server, with both users' credentials."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    server: PrivateMariaDB
    name: str
    app: Credentials
    migrator: Credentials

    def connect(self, migrator: bool = False) -> pymysql.connections.Connection:
        """An autocommit connection in UTC (the time zone the logger's connections use)."""
        creds = self.migrator if migrator else self.app
        return pymysql.connect(host=creds.host, port=creds.port, user=creds.user,
                               password=creds.password(), database=self.name,
                               charset='utf8mb4', autocommit=True,
                               init_command="SET time_zone = '+00:00'")

    def query(self, sql: str, args=None) -> list:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def migrate(self) -> None:
        """Apply every migration with db_logger's `migrate` tool, as a user would."""
        result = migrate(self.migrator, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f'migrate failed:\n{result.stdout}{result.stderr}'

    def logger_params(self) -> List[str]:
        """--ros-args -p items that point db_logger at this database."""
        return ['-p', f'db.host:={self.app.host}', '-p', f'db.port:={self.app.port}',
                '-p', f'db.name:={self.name}', '-p', f'db.user:={self.app.user}',
                '-p', f'db.password_file:={self.app.password_file}']
