"""The README's per-package test command: `colcon test --packages-select <pkg>` runs that
package's own test/ with its own fixtures (robot_db_testing), and reports its results the
way colcon does (a JUnit file)."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from robot_db_testing.processes import ros_env
from tests.support import REPO_ROOT

SRC = REPO_ROOT / 'ros2_ws' / 'src'
PACKAGES = sorted(p.parent.name for p in SRC.glob('*/package.xml'))
# what a package's tests may not reach for: the repository around it
REPOSITORY_IMPORT = re.compile(r'^\s*(from|import)\s+(tests|private_mariadb|run_pipeline)\b',
                               re.MULTILINE)


def test_no_package_test_imports_from_the_repository():
    offenders = [str(path.relative_to(REPO_ROOT)) for path in SRC.glob('*/test/*.py')
                 if REPOSITORY_IMPORT.search(path.read_text())]
    assert offenders == []


def test_the_repository_run_collects_every_packages_tests():
    # the root pytest.ini names each test/ (so their conftests load as the packages'
    # own, as under colcon test)
    ini = (REPO_ROOT / 'pytest.ini').read_text()
    assert [p for p in PACKAGES if (SRC / p / 'test').is_dir()
            and f'ros2_ws/src/{p}/test' not in ini] == []


def junit_cases(path: Path) -> list:
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    assert int(suite.get('failures')) == int(suite.get('errors')) == 0
    return suite.findall('testcase')


def test_colcon_test_runs_packages_on_their_own_fixtures(tmp_path):
    # Copies of the packages, outside the repository: no pytest.ini, conftest.py or
    # tests/ of the repository above them. The installed workspace is the sourced one.
    src = tmp_path / 'src'
    for package in ('db_logger', 'rm_driver'):
        shutil.copytree(SRC / package, src / package, symlinks=False,
                        ignore=shutil.ignore_patterns('__pycache__'))
    install = Path(os.environ['ROBOT_DB_INSTALL'])
    # migrations and a private MariaDB (db_logger), a driver process and a client (rm_driver)
    selection = 'publisher_losses or test_migrations or status_identifies_the_sim_robot'
    result = subprocess.run(
        ['colcon', '--log-base', str(tmp_path / 'log'), 'test', '--base-paths', str(src),
         '--build-base', str(tmp_path / 'build'), '--install-base', str(install),
         '--packages-select', 'db_logger', 'rm_driver', '--pytest-args', '-k', selection],
        cwd=tmp_path, env=ros_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

    # the package's own tests ran, and passed: JUnit class names are <package>.test.<module>
    logger_modules = {c.get('classname') for c in
                      junit_cases(tmp_path / 'build' / 'db_logger' / 'pytest.xml')}
    assert logger_modules == {'db_logger.test.test_migrations',
                              'db_logger.test.test_publisher_losses'}
    driver_cases = junit_cases(tmp_path / 'build' / 'rm_driver' / 'pytest.xml')
    assert [c.get('name') for c in driver_cases] == ['test_status_identifies_the_sim_robot']
