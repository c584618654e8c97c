"""The logger's view of a robot_db_testing TestDatabase: its DatabaseConfig, its schema,
its connections."""

from pathlib import Path

from db_logger.connection import DatabaseConfig

# the package's sql/ (the migrations `migrate` installs)
SQL_DIR = Path(__file__).resolve().parents[1] / 'sql'


def database_config(db, migrator: bool = False) -> DatabaseConfig:
    creds = db.migrator if migrator else db.app
    return DatabaseConfig(creds.host, creds.port, db.name, creds.user, creds.password())


def kill_connections(db) -> int:
    """KILL every other connection to db (a user may kill its own); return how many."""
    ids = db.query('SELECT id FROM information_schema.PROCESSLIST WHERE db = %s '
                   'AND id <> CONNECTION_ID()', (db.name,))
    for (connection_id,) in ids:
        db.query(f'KILL CONNECTION {int(connection_id)}')
    return len(ids)
