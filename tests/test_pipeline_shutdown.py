"""Stopping the whole pipeline (db_logger with its writer process, a sim driver) by every
signal combination users and tools produce: once, twice, SIGTERM, SIGINT then SIGTERM,
and a terminal's Ctrl-C under `ros2 launch` (every process of the group gets SIGINT and
the launcher forwards another). Every process ends, with status 0, and stderr holds
nothing but the nodes' ordinary log lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from robot_db_testing.processes import (BURST_EXIT_CODES, gone, ros_env, signal_burst,
                                        unexpected_stderr_lines)
from robot_db_testing.ros_client import wait_until
from tests.support.pipeline import params_file_for, STARTED, SUPERVISOR

STOP_TIMEOUT_S = 30


def tree_pids(pid: int) -> list:
    """pid and every descendant (the writer process included)."""
    try:
        root = psutil.Process(pid)
        return [pid] + [child.pid for child in root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def ctrl_c_under_launch(supervisor: subprocess.Popen, nodes: list) -> None:
    # `ros2 launch` keeps its nodes in its process group: Ctrl-C reaches each node
    # directly and the launcher forwards SIGINT again.
    for pid in nodes:
        os.kill(pid, signal.SIGINT)
    supervisor.send_signal(signal.SIGINT)


COMBINATIONS = {
    'sigint': lambda sup, nodes: sup.send_signal(signal.SIGINT),
    'sigint_twice': lambda sup, nodes: (sup.send_signal(signal.SIGINT), time.sleep(0.05),
                                        sup.send_signal(signal.SIGINT)),
    'sigterm': lambda sup, nodes: sup.send_signal(signal.SIGTERM),
    'sigint_then_sigterm': lambda sup, nodes: (sup.send_signal(signal.SIGINT), time.sleep(0.05),
                                               sup.send_signal(signal.SIGTERM)),
    'sigint_to_the_group': lambda sup, nodes: os.killpg(sup.pid, signal.SIGINT),
    'ctrl_c_under_launch': ctrl_c_under_launch,
    # a terminal's Ctrl-C held down under launch: thousands of SIGINT and SIGTERM to
    # the launcher and every node, back to back
    'burst_under_launch': lambda sup, nodes: signal_burst([sup.pid] + nodes),
}


@pytest.mark.parametrize('combination', sorted(COMBINATIONS))
def test_every_signal_combination_stops_everything_cleanly(combination, tmp_path, fresh_db):
    stderr_path = tmp_path / 'stderr.log'
    stdout_path = tmp_path / 'stdout.log'
    with open(stdout_path, 'wb') as out, open(stderr_path, 'wb') as err:
        supervisor = subprocess.Popen(
            [sys.executable, str(SUPERVISOR), '--stop-timeout', '15',
             f'params_file:={params_file_for(fresh_db, tmp_path)}',
             f'db_host:={fresh_db.app.host}', f'db_port:={fresh_db.app.port}',
             'robots:=ep01=SIGTEST01'],
            stdout=out, stderr=err, env=ros_env(), start_new_session=True)
    pids = []
    try:
        assert wait_until(lambda: len(STARTED.findall(stdout_path.read_text())) >= 2, 20.0), \
            stdout_path.read_text()
        nodes = [int(pid) for _, pid in STARTED.findall(stdout_path.read_text())]
        # the robot is recorded: the writer process is up and working
        assert wait_until(lambda: fresh_db.query(
            'SELECT 1 FROM Robots WHERE serial = %s', ('SIGTEST01',)), 30.0, period=0.5), \
            stderr_path.read_text()[-3000:]
        pids = [pid for node in nodes for pid in tree_pids(node)]
        assert len(pids) >= 3, 'logger, its writer process and the driver'

        COMBINATIONS[combination](supervisor, nodes)

        exit_codes = BURST_EXIT_CODES if combination.startswith('burst') else (0,)
        assert supervisor.wait(STOP_TIMEOUT_S) in exit_codes, stderr_path.read_text()[-3000:]
        assert wait_until(lambda: all(gone(pid) for pid in pids), 5.0), \
            [psutil.Process(p).cmdline() for p in pids if not gone(p)]
        stdout = stdout_path.read_text()
        for label in ('/db_logger', '/ep01/rm_driver'):
            status = re.search(rf'{label} stopped \(status (-?\d+)\)', stdout)
            assert status and int(status.group(1)) in exit_codes, stdout
        # the supervisor's progress goes to stdout: its stderr lines are all complaints
        unexpected = unexpected_stderr_lines(stderr_path.read_text())
        assert not unexpected, '\n'.join(unexpected[:40])
    finally:
        for pid in [supervisor.pid] + pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        supervisor.wait(10)
