# Fixtures shared by every package's tests (real MariaDB, real processes, real DDS).
pytest_plugins = ['tests.support.fixtures', 'tests.support.emulated_robot']
