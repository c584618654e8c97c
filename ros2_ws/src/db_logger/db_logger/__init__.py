"""Database writer for the robot graph: journal, SQL store, sessions, migrations."""
