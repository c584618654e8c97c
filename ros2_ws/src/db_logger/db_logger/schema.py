"""Which schema version a database has, and the one this package needs."""

from __future__ import annotations

REQUIRED_SCHEMA_VERSION = 3
REQUIRED_MIGRATION = '003_intake_losses.sql'


class SchemaTooOld(RuntimeError):
    """The database's schema is older than this logger needs."""


def schema_version(conn) -> int:
    """The highest migration recorded in the database (0 before the first)."""
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'")
        if cur.fetchone()[0] == 0:
            return 0
        cur.execute('SELECT COALESCE(MAX(version), 0) FROM schema_migrations')
        return int(cur.fetchone()[0])


def check_schema(conn) -> None:
    found = schema_version(conn)
    if found < REQUIRED_SCHEMA_VERSION:
        raise SchemaTooOld(
            f'database schema is at version {found}, this logger needs '
            f'{REQUIRED_SCHEMA_VERSION}: apply the migrations after version {found} up to '
            f'{REQUIRED_MIGRATION} (ros2 run db_logger migrate)')
