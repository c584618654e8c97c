"""Database connection settings and the one way this package opens a connection."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pymysql

PASSWORD_ENV = 'ROBOT_DB_PASSWORD'


@dataclass(frozen=True)
class DatabaseConfig:
    host: str
    port: int
    name: str
    user: str
    password: str

    def describe(self) -> str:
        """Where we connect, without the password."""
        return f'{self.user}@{self.host}:{self.port}/{self.name}'


def password_from(password_file: str) -> str:
    """The password from password_file when given, else from $ROBOT_DB_PASSWORD.

    There is no default: a missing password is an error naming both sources.
    """
    if password_file:
        path = Path(password_file).expanduser()
        try:
            return path.read_text(encoding='utf-8').strip()
        except OSError as exc:
            raise ValueError(f'db.password_file {str(path)!r} cannot be read: '
                             f'{exc.strerror}') from exc
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        raise ValueError(f'no database password: set db.password_file or ${PASSWORD_ENV}')
    return password


def connect(config: DatabaseConfig, timeout: float = 5.0) -> pymysql.connections.Connection:
    """Open a connection in UTC and utf8mb4; ConnectionError names where and why."""
    try:
        return pymysql.connect(
            host=config.host, port=config.port, user=config.user, password=config.password,
            database=config.name, charset='utf8mb4', autocommit=False,
            connect_timeout=timeout, read_timeout=30, write_timeout=30,
            # stamps are UTC; the server's own zone must not shift them
            init_command="SET time_zone = '+00:00'")
    except pymysql.MySQLError as exc:
        code, text = (exc.args + ('',))[:2] if len(exc.args) >= 1 else ('', str(exc))
        raise ConnectionError(f'cannot connect to {config.describe()}: ({code}) {text}') from exc


class KeptConnection:
    """One connection kept open between calls (opened by the subclass, when it needs
    one), closed quietly: its link may be gone already."""

    def __init__(self, config: DatabaseConfig,
                 opener: Callable[[DatabaseConfig], object] = connect) -> None:
        self.config = config
        self._opener = opener
        self._conn = None

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except pymysql.MySQLError:
                pass  # the link is already gone
            self._conn = None


def add_connection_arguments(parser: argparse.ArgumentParser, default_user: str) -> None:
    """--host --port --user --password-file --database, defaulting to $ROBOT_DB_*."""
    env = os.environ.get
    parser.add_argument('--host', default=env('ROBOT_DB_HOST', '127.0.0.1'))
    parser.add_argument('--port', type=int, default=int(env('ROBOT_DB_PORT', '7858')))
    parser.add_argument('--user', default=default_user)
    parser.add_argument('--password-file', default=env('ROBOT_DB_PASSWORD_FILE', ''),
                        help=f'file holding the password; else ${PASSWORD_ENV}')
    parser.add_argument('--database', default=env('ROBOT_DB_NAME', 'robot_capstone'))


def config_from_arguments(args: argparse.Namespace) -> DatabaseConfig:
    return DatabaseConfig(args.host, args.port, args.database, args.user,
                          password_from(args.password_file))
