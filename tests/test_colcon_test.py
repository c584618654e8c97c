"""The README's per-package test command: `colcon test --packages-select <pkg>` runs that
package's own test/ and reports its results the way colcon does (a JUnit file)."""

import subprocess
import xml.etree.ElementTree as ElementTree

from tests.support.processes import INSTALL_DIR, REPO_ROOT, ros_env


def test_colcon_test_runs_one_packages_tests(tmp_path):
    result = subprocess.run(
        ['colcon', '--log-base', str(tmp_path / 'log'), 'test',
         '--base-paths', str(REPO_ROOT / 'ros2_ws' / 'src'),
         '--build-base', str(tmp_path / 'build'), '--install-base', str(INSTALL_DIR),
         '--packages-select', 'db_logger', '--pytest-args', '-k', 'publisher_losses'],
        cwd=tmp_path, env=ros_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    suite = ElementTree.parse(tmp_path / 'build' / 'db_logger' / 'pytest.xml').getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    cases = suite.findall('testcase')
    # the package's own tests ran (not the repository's), and passed
    assert len(cases) >= 5
    assert {c.get('classname').split('.')[0] for c in cases} == {'db_logger'}
    assert int(suite.get('failures')) == int(suite.get('errors')) == 0
