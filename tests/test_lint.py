"""Every Python file of the project passes flake8 (ROS 2's 99-column line)."""

import subprocess
import sys

from tests.support import REPO_ROOT


def test_flake8_is_clean():
    result = subprocess.run([sys.executable, '-m', 'flake8'], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
