"""A private MariaDB and the pytest fixtures of the robot-db workspace's tests."""
