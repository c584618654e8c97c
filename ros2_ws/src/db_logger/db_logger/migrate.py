"""Apply the schema migrations (sql/NNN_name.sql) in order; a no-op when up to date.

Each file ends by recording its version in schema_migrations, so applying the
files by hand in name order equals running this tool. MySQL commits DDL at once,
so a migration that fails half-way cannot be rolled back by a transaction: the
tool drops the tables that migration created, leaving the database at the last
good version, and names the file, the statement and the server's message.

    ros2 run db_logger migrate --host 127.0.0.1 --port 7858 --user robot_migrator \
        --password-file ~/.robot_db_password --database robot_capstone [--seed]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pymysql

from db_logger.connection import add_connection_arguments, config_from_arguments, connect
from db_logger.schema import schema_version

MIGRATION_NAME = re.compile(r'^(\d{3})_([A-Za-z0-9_]+)\.sql$')


class MigrationError(RuntimeError):
    """A migration could not be applied; the message is the one line to show."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> List[str]:
        return split_statements(self.path.read_text(encoding='utf-8'))


def split_statements(sql: str) -> List[str]:
    """Split SQL text on semicolons outside quotes and comments."""
    statements, current, i, quote = [], [], 0, ''
    while i < len(sql):
        ch = sql[i]
        if quote:
            current.append(ch)
            if ch == quote:
                # a doubled quote is an escaped quote, not the end of the string
                if i + 1 < len(sql) and sql[i + 1] == quote:
                    current.append(sql[i + 1])
                    i += 1
                else:
                    quote = ''
            elif ch == '\\' and i + 1 < len(sql):
                current.append(sql[i + 1])
                i += 1
        elif ch in ('"', "'", '`'):
            quote = ch
            current.append(ch)
        elif sql.startswith('--', i) or ch == '#':
            end = sql.find('\n', i)
            i = len(sql) if end < 0 else end
            continue
        elif ch == ';':
            statements.append(''.join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append(''.join(current).strip())
    return [s for s in statements if s]


def discover(sql_dir: Path) -> List[Migration]:
    """The migrations in sql_dir, by version; refuses gaps and duplicates."""
    found = []
    for path in sorted(Path(sql_dir).glob('*.sql')):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f'{path.name}: migration files are named NNN_name.sql')
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f'{sql_dir}: versions must run 1, 2, 3... without gaps; '
                             f'found {versions}')
    return found


def default_sql_dir() -> Path:
    """The installed share/db_logger/sql, or the repo's sql/ when run from source."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('db_logger')) / 'sql'
        if installed.is_dir():
            return installed
    except (ImportError, LookupError, ValueError):
        pass
    return Path(__file__).resolve().parents[1] / 'sql'


class Migrator:
    """Applies pending migrations over one connection."""

    def __init__(self, conn: pymysql.connections.Connection, sql_dir: Path):
        self.conn = conn
        self.migrations = discover(sql_dir)

    def current_version(self) -> int:
        return schema_version(self.conn)

    def pending(self) -> List[Migration]:
        current = self.current_version()
        return [m for m in self.migrations if m.version > current]

    def apply_pending(self, log=lambda line: None) -> List[Migration]:
        applied = []
        for migration in self.pending():
            self._apply(migration)
            log(f'applied {migration.path.name}')
            applied.append(migration)
        return applied

    def _tables(self) -> set:
        with self.conn.cursor() as cur:
            cur.execute('SELECT table_name FROM information_schema.tables '
                        'WHERE table_schema = DATABASE()')
            return {row[0] for row in cur.fetchall()}

    def _apply(self, migration: Migration) -> None:
        before = self._tables()
        statements = migration.statements()
        for number, statement in enumerate(statements, start=1):
            try:
                with self.conn.cursor() as cur:
                    cur.execute(statement)
                self.conn.commit()
            except pymysql.MySQLError as exc:
                self.conn.rollback()
                self._drop_tables(self._tables() - before)
                code, text = (exc.args + ('',))[:2] if exc.args else ('', str(exc))
                raise MigrationError(
                    f'{migration.path.name} failed at statement {number} of '
                    f'{len(statements)} ({statement.split(chr(10))[0][:60]}...): '
                    f'({code}) {text}; database left at version {self.current_version()}'
                ) from exc
        if self.current_version() < migration.version:
            self._drop_tables(self._tables() - before)
            raise MigrationError(f'{migration.path.name} did not record version '
                                 f'{migration.version} in schema_migrations')

    def _drop_tables(self, tables: set) -> None:
        if not tables:
            return
        with self.conn.cursor() as cur:
            cur.execute('SET FOREIGN_KEY_CHECKS = 0')
            for table in tables:
                cur.execute(f'DROP TABLE IF EXISTS `{table}`')
            cur.execute('SET FOREIGN_KEY_CHECKS = 1')
        self.conn.commit()


def apply_seed(conn: pymysql.connections.Connection, seed_dir: Path) -> List[str]:
    """Run the optional seed files (sql/seed/*.sql), which must be idempotent."""
    done = []
    for path in sorted(Path(seed_dir).glob('*.sql')):
        with conn.cursor() as cur:
            for statement in split_statements(path.read_text(encoding='utf-8')):
                cur.execute(statement)
        conn.commit()
        done.append(path.name)
    return done


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='migrate', description='Apply pending schema migrations (sql/NNN_name.sql).')
    add_connection_arguments(parser, os.environ.get('ROBOT_DB_MIGRATION_USER', 'robot_migrator'))
    parser.add_argument('--sql-dir', type=Path, default=None,
                        help='directory of NNN_name.sql files (default: the installed ones)')
    parser.add_argument('--seed', action='store_true',
                        help='also apply sql/seed/*.sql (the test_admin user)')
    parser.add_argument('--status', action='store_true', help='print versions, change nothing')
    # ROS tools pass --ros-args when started by launch; nothing here uses them.
    args, _unknown = parser.parse_known_args(argv)
    sql_dir = args.sql_dir or default_sql_dir()
    try:
        config = config_from_arguments(args)
        conn = connect(config)
        try:
            migrator = Migrator(conn, sql_dir)
            current = migrator.current_version()
            if args.status:
                print(f'migrate: {config.describe()} at version {current}, '
                      f'{len(migrator.pending())} pending')
                return 0
            applied = migrator.apply_pending(log=lambda line: print(f'migrate: {line}'))
            if args.seed:
                for name in apply_seed(conn, sql_dir / 'seed'):
                    print(f'migrate: seeded {name}')
            print(f'migrate: {config.describe()} at version {migrator.current_version()} '
                  f'({len(applied)} applied)')
            return 0
        finally:
            conn.close()
    except (MigrationError, ConnectionError, ValueError) as exc:
        print(f'migrate: {exc}', file=sys.stderr)
        return 1
    except pymysql.MySQLError as exc:
        print(f'migrate: database error: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
