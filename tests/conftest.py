# The workspace's fixtures (robot_db_testing) and the emulated robot's, for the
# repository-level tests; each package's test/conftest.py takes what it needs itself.
pytest_plugins = ['robot_db_testing.fixtures', 'tests.support.emulated_robot']
