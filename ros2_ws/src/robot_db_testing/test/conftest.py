# this package's own fixtures, as the other packages take them
pytest_plugins = ['robot_db_testing.fixtures']
