# the workspace's fixtures: ros_client, nodes (installed executables as processes)
pytest_plugins = ['robot_db_testing.fixtures']
