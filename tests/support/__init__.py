"""Test support shared by every package's tests: processes, ROS env, private MariaDB."""
