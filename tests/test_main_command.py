"""scripts/run.sh, the README's main command, run as a new user runs it.

From an empty database (a data directory of the test's own, a free port), several
times in a row: the first run on a new machine is the one users see. And with
`ros2 launch` on PATH (a stand-in, tests/support/bin/ros2: the CLI is not installable
here), run.sh must stop the launch and return by itself. Each run ends with the
session's trajectory in the database, its plots (PNG) and an MCAP file of it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy
import psutil
import pytest
from matplotlib import colors
from matplotlib.image import imread
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from db_logger.connection import connect, DatabaseConfig
from db_logger.session_plots import TRAJECTORY_COLOUR
from robot_db_testing.private_mariadb import PrivateMariaDB
from robot_db_testing.database import free_port
from robot_db_testing.processes import ros_env, unexpected_stderr_lines
from tests.support import REPO_ROOT

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


@contextlib.contextmanager
def main_command(db_dir: Path, port: int, extra_env=None
                 ) -> Iterator[subprocess.CompletedProcess]:
    """run.sh's result, with the database it leaves up still there until the block ends."""
    tag = uuid.uuid4().hex
    # ROS_HOME: the logger's journal and the nodes' logs go there, not to ~/.ros, where
    # another pipeline of this user may hold the journal
    env = ros_env({'ROBOT_DB_DIR': db_dir, 'ROBOT_DB_PORT': port, 'RUN_SH_TEST_TAG': tag,
                   'ROS_HOME': db_dir.parent / f'{db_dir.name}-ros-home', **(extra_env or {})})
    env.pop('ROBOT_DB_PASSWORD', None)
    try:
        yield subprocess.run(['bash', str(RUN_SH)], cwd=REPO_ROOT, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=RUN_TIMEOUT_S)
    finally:
        # the database run.sh leaves up is ended first; anything else tagged is a leak
        subprocess.run([sys.executable, '-m', 'robot_db_testing.private_mariadb', 'stop',
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


def ns(value: datetime) -> int:
    """A naive UTC DATETIME from the database as ns since the epoch."""
    return (value - datetime(1970, 1, 1)) // timedelta(microseconds=1) * 1000


def session_odom(db_dir: Path, port: int, session_id: int):
    """((start_ns, end_ns), [(stamp_ns, x, y)]) of the session, from the database."""
    creds = PrivateMariaDB(db_dir, port).credentials()
    conn = connect(DatabaseConfig(creds.host, creds.port, creds.database, creds.user,
                                  creds.password()))
    try:
        with conn.cursor() as cur:
            cur.execute('SELECT start_time, end_time FROM Sessions WHERE session_id = %s',
                        (session_id,))
            start, end = cur.fetchone()
            cur.execute('SELECT stamp, x, y FROM OdomSamples WHERE session_id = %s '
                        'ORDER BY stamp', (session_id,))
            return (ns(start), ns(end)), [(ns(t), x, y) for t, x, y in cur.fetchall()]
    finally:
        conn.close()


def mcap_odom(path: Path):
    """[(stamp_ns, x, y)] of the file's odom topic, read by mcap + mcap-ros2-support."""
    found = []
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == 'ros2'
        for _schema, channel, _message, msg in reader.iter_decoded_messages():
            if channel.topic.endswith('/odom'):
                position = msg.pose.pose.position
                found.append((msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
                              position.x, position.y))
    return found


def moved(odom) -> float:
    return math.hypot(odom[-1][1] - odom[0][1], odom[-1][2] - odom[0][2])


def check_session_outputs(result: subprocess.CompletedProcess, db_dir: Path, port: int) -> None:
    """The scenario's session: its trajectory in the database, two plots, an MCAP of it."""
    session_id = int(re.search(r'session (\d+) started', result.stdout).group(1))
    out = REPO_ROOT / re.search(r"plots and MCAP are in (\S+)/", result.stdout).group(1)
    assert out.parent == REPO_ROOT / '.local' / 'runs', out
    (start, end), odom = session_odom(db_dir, port, session_id)
    # 1 m at 0.5 m/s: 2 s of 20 Hz odometry at least
    assert len(odom) >= 30, len(odom)
    assert moved(odom) == pytest.approx(1.0, abs=0.1), odom[:: max(1, len(odom) // 10)]
    assert re.search(rf'^odom: {len(odom)} stored of ~\d+ expected', result.stdout, re.M), \
        result.stdout[-2000:]
    plots = [Path(p) for p in re.findall(r'^plot: (\S+)$', result.stdout, re.M)]
    assert sorted(p.name for p in plots) == [f'session_{session_id}_{name}.png'
                                             for name in ('timeline', 'trajectory')]
    for plot in plots:
        image = imread(REPO_ROOT / plot)[:, :, :3]
        assert plot.parent == out.relative_to(REPO_ROOT) and image.shape[0] >= 500
        drawn = numpy.any(image < 0.9, axis=2).mean()  # not a blank canvas
        assert drawn > 0.01, (plot, drawn)
    # the 1 m path is drawn: a line some 400 px long (the legend's sample is ~60 px)
    trajectory = imread(out / f'session_{session_id}_trajectory.png')
    path = numpy.all(numpy.abs(trajectory[:, :, :3] - colors.to_rgb(TRAJECTORY_COLOUR)) < 0.02,
                     axis=2).sum()
    assert path > 300, path
    mcap = out / 'session.mcap'
    assert f'export: session {session_id} -> {mcap.relative_to(REPO_ROOT)} (' in result.stdout
    exported = mcap_odom(mcap)
    assert len(exported) == len(odom)
    assert all(start <= stamp <= end for stamp, _, _ in exported), (start, end, exported)
    assert moved(exported) == pytest.approx(moved(odom), abs=1e-3)
    shutil.rmtree(out)  # kept only when a check failed


@pytest.mark.slow
def test_first_run_on_an_empty_database_passes_every_time(tmp_path):
    for run in range(FRESH_RUNS):
        db_dir = tmp_path / f'db{run}'  # nothing there: a new machine's first run
        port = free_port()
        with main_command(db_dir, port) as result:
            check_session_printed(result)
            check_session_outputs(result, db_dir, port)


@pytest.mark.slow
def test_with_ros2_launch_on_path_run_sh_stops_the_launch_and_returns(tmp_path):
    record = tmp_path / 'ros2-standin.log'
    path = f'{STANDIN_BIN}{os.pathsep}{os.environ["PATH"]}'
    port = free_port()
    with main_command(tmp_path / 'db', port,
                      {'PATH': path, 'ROS2_STANDIN_RECORD': record}) as result:
        check_session_printed(result)
        check_session_outputs(result, tmp_path / 'db', port)
    # the launch ran (not the fallback), heard SIGINT, and needed nothing harsher
    assert record.read_text() == 'launch started; SIGINT ignored: False\n'
    assert 'stopping the pipeline (SIGINT' in result.stdout
    assert 'SIGTERM' not in result.stdout and 'SIGKILL' not in result.stdout, result.stdout
