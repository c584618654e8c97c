"""scripts/run.sh, the README's main command, run as a new user runs it.

From an empty database (a data directory of the test's own, a free port), several
times in a row: the first run on a new machine is the one users see. And with
`ros2 launch` on PATH (a stand-in, tests/support/bin/ros2: the CLI is not installable
here), run.sh must stop the launch and return by itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from tests.support.fixtures import free_port
from tests.support.processes import REPO_ROOT, ros_env, unexpected_stderr_lines

RUN_SH = REPO_ROOT / 'scripts' / 'run.sh'
STANDIN_BIN = REPO_ROOT / 'tests' / 'support' / 'bin'
RUN_TIMEOUT_S = 240  # setup is warm here; the scenario itself takes ~10 s
FRESH_RUNS = 3
# run_pipeline's (or the launch's) own lines about starting and stopping nodes
LAUNCHER_PROGRESS = re.compile(r'^run_pipeline: (started \S+ pid \d+$|\S+ stopped \(status 0\)$|'
                               r'SIG\w+ received; stopping every node$|backend )|'
                               r'^\[INFO\] \[launch\]')


def processes_tagged(tag: str) -> dict:
    """{process: command line} of every live process that inherited this run's tag."""
    found = {}
    for proc in psutil.process_iter(['pid']):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and \
                    proc.environ().get('RUN_SH_TEST_TAG') == tag:
                found[proc] = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # gone (or a zombie) meanwhile
    return found


def run_main_command(db_dir: Path, port: int, extra_env=None) -> subprocess.CompletedProcess:
    tag = uuid.uuid4().hex
    # ROS_HOME: the logger's journal and the nodes' logs go there, not to ~/.ros, where
    # another pipeline of this user may hold the journal
    env = ros_env({'ROBOT_DB_DIR': db_dir, 'ROBOT_DB_PORT': port, 'RUN_SH_TEST_TAG': tag,
                   'ROS_HOME': db_dir.parent / f'{db_dir.name}-ros-home', **(extra_env or {})})
    env.pop('ROBOT_DB_PASSWORD', None)
    try:
        return subprocess.run(['bash', str(RUN_SH)], cwd=REPO_ROOT, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
    finally:
        # the database run.sh leaves up is ended first; anything else tagged is a leak
        subprocess.run([sys.executable, str(REPO_ROOT / 'scripts' / 'private_mariadb.py'), 'stop',
                        '--dir', str(db_dir), '--port', str(port)],
                       env=env, capture_output=True, timeout=60)
        left = processes_tagged(tag)
        for proc in left:  # ours by tag: a failed run must not leak into other tests
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        assert not left, f'run.sh left processes behind: {list(left.values())}'


def check_session_printed(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert 'Traceback' not in output, output[-4000:]
    for table in ('Robots', 'Sessions', 'CommandLogs', 'EventLogs'):
        assert table in result.stdout, result.stdout[-4000:]
    assert 'Move' in result.stdout and 'Goal' in result.stdout, result.stdout[-4000:]
    # the pipeline's log (nodes' stderr and the launcher's progress) holds nothing alarming
    log = REPO_ROOT / re.search(r'log: (\S+)', result.stdout).group(1)
    unexpected = [line for line in unexpected_stderr_lines(log.read_text(errors='replace'))
                  if not LAUNCHER_PROGRESS.match(line)]
    assert not unexpected, '\n'.join(unexpected[:40])


@pytest.mark.slow
def test_first_run_on_an_empty_database_passes_every_time(tmp_path):
    for run in range(FRESH_RUNS):
        db_dir = tmp_path / f'db{run}'  # nothing there: a new machine's first run
        result = run_main_command(db_dir, free_port())
        check_session_printed(result)


@pytest.mark.slow
def test_with_ros2_launch_on_path_run_sh_stops_the_launch_and_returns(tmp_path):
    record = tmp_path / 'ros2-standin.log'
    path = f'{STANDIN_BIN}{os.pathsep}{os.environ["PATH"]}'
    result = run_main_command(tmp_path / 'db', free_port(),
                              {'PATH': path, 'ROS2_STANDIN_RECORD': record})
    check_session_printed(result)
    # the launch ran (not the fallback), heard SIGINT, and needed nothing harsher
    assert record.read_text() == 'launch started; SIGINT ignored: False\n'
    assert 'stopping the pipeline (SIGINT' in result.stdout
    assert 'SIGTERM' not in result.stdout and 'SIGKILL' not in result.stdout, result.stdout
