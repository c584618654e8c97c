"""scripts/run_pipeline.py: the pipeline started, supervised and stopped without `ros2 launch`.

Real processes: the supervisor starts the installed node executables; a test client
listens to their status topics; the tests signal and kill by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

import run_pipeline
from robot_db_testing.processes import gone, ros_env
from robot_db_testing.ros_client import wait_until
from tests.support import REPO_ROOT
from tests.support.pipeline import start_pipeline, start_supervisor, started_children, SUPERVISOR


def statuses(ros_client, robots):
    from robot_interfaces.msg import RobotStatus
    from robot_interfaces.qos import record_qos
    return {robot: ros_client.collect(RobotStatus, f'/{robot}/status', record_qos(10))
            for robot in robots}


def run_quick(*arguments: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SUPERVISOR), *arguments], env=env or ros_env(),
                          capture_output=True, text=True, timeout=30)


# --- commands and bad input: no ROS process starts ----------------------------------

def test_dry_run_prints_the_launch_files_commands():
    result = run_quick('--dry-run', 'robots:=ep01=0123,ep02', 'db_host:=db.lab', 'db_port:=3306',
                       'log_level:=debug')
    assert result.returncode == 0, result.stderr
    logger, ep01, ep02 = result.stdout.splitlines()
    params = str(REPO_ROOT / 'config' / 'pipeline.yaml')
    assert logger.split()[1:] == [
        '--ros-args', '-r', '__node:=db_logger', '--params-file', params,
        '-p', 'db.host:="db.lab"', '-p', 'db.port:=3306', '--log-level', 'debug']
    assert logger.split()[0].endswith('install/db_logger/lib/db_logger/db_logger')
    # a serial made of digits stays a string (quoted YAML)
    assert ep01.split()[1:] == [
        '--ros-args', '-r', '__node:=rm_driver', '-r', '__ns:=/ep01', '--params-file', params,
        '-p', 'backend:="sim"', '-p', 'robot_serial:="0123"', '--log-level', 'debug']
    assert '-r __ns:=/ep02' in ep02 and 'robot_serial' not in ep02


def test_driver_only_has_no_logger_command():
    result = run_quick('--dry-run', 'logger:=false', 'backend:=sdk')
    assert result.returncode == 0, result.stderr
    [driver] = result.stdout.splitlines()
    assert '__ns:=/robot' in driver and 'backend:="sdk"' in driver


@pytest.mark.parametrize('arguments, named', [
    (['backend:=foo'], 'backend'),
    (['robots:='], 'robots'),
    (['robots:=ep01,ep01'], 'robots'),
    (['logger:=perhaps'], 'logger'),
    (['db_port:=http'], 'db_port'),
    (['colour:=red'], 'colour'),
    (['robots=ep01'], 'robots=ep01'),
])
def test_bad_arguments_exit_2_naming_the_argument_and_start_nothing(arguments, named):
    result = run_quick(*arguments)
    assert result.returncode == 2
    assert result.stderr.startswith(f'run_pipeline: error: {named}: '), result.stderr
    assert 'started' not in result.stdout


def test_an_unbuilt_workspace_is_named(tmp_path):
    result = run_quick('logger:=false', env=ros_env({'ROBOT_DB_INSTALL': tmp_path}))
    assert result.returncode == 2
    assert str(tmp_path / 'rm_driver') in result.stderr and 'setup.sh' in result.stderr


def test_child_environment_keeps_dds_local_and_the_domain():
    env = run_pipeline.child_environment({'ROS_DOMAIN_ID': '17', 'PATH': '/bin'})
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert env['ROS_DOMAIN_ID'] == '17'
    widened = run_pipeline.child_environment({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'})
    assert widened['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SUBNET'


# --- real nodes ---------------------------------------------------------------------

def test_drivers_run_until_ctrl_c_then_all_stop(tmp_path, ros_client):
    received = statuses(ros_client, ['ep01', 'ep02'])
    # The caller left discovery unset: the children must still get LOCALHOST.
    env = ros_env()
    del env['ROS_AUTOMATIC_DISCOVERY_RANGE']
    supervisor = start_supervisor(tmp_path, 'robots:=ep01=RUNTEST01,ep02', 'logger:=false',
                                  env=env)
    try:
        children = started_children(supervisor, 2)
        assert set(children) == {'/ep01/rm_driver', '/ep02/rm_driver'}
        for pid in children.values():
            child_env = psutil.Process(pid).environ()
            assert child_env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
            assert child_env['ROS_DOMAIN_ID'] == env['ROS_DOMAIN_ID']
        assert wait_until(lambda: all(received.values()), 20.0), supervisor.output()
        assert received['ep01'][0].robot_serial == 'RUNTEST01'
        assert received['ep02'][0].robot_serial

        supervisor.popen.send_signal(signal.SIGINT)
        assert supervisor.popen.wait(20) == 0, supervisor.output()
        assert all(gone(pid) for pid in children.values())
        assert 'SIGINT received' in supervisor.output()
    finally:
        supervisor.stop()


def test_sigterm_stops_every_node(tmp_path):
    supervisor = start_supervisor(tmp_path, 'robots:=ep01', 'logger:=false')
    try:
        children = started_children(supervisor, 1)
        assert not gone(children['/ep01/rm_driver'])
        supervisor.popen.send_signal(signal.SIGTERM)
        assert supervisor.popen.wait(20) == 0, supervisor.output()
        assert gone(children['/ep01/rm_driver'])
    finally:
        supervisor.stop()


def test_a_node_that_dies_stops_the_others_and_fails(tmp_path, ros_client):
    received = statuses(ros_client, ['ep01', 'ep02'])
    supervisor = start_supervisor(tmp_path, 'robots:=ep01,ep02', 'logger:=false')
    try:
        children = started_children(supervisor, 2)
        assert wait_until(lambda: all(received.values()), 20.0), supervisor.output()
        os.kill(children['/ep02/rm_driver'], signal.SIGKILL)
        assert supervisor.popen.wait(20) == 1, supervisor.output()
        assert '/ep02/rm_driver' in supervisor.output()
        assert 'exited unexpectedly' in supervisor.output()
        assert gone(children['/ep01/rm_driver'])
    finally:
        supervisor.stop()


def test_nodes_end_when_the_supervisor_is_killed(tmp_path):
    """SIGKILL leaves the supervisor no chance to clean up: its nodes must end anyway."""
    supervisor = start_supervisor(tmp_path, 'robots:=ep01', 'logger:=false')
    try:
        children = started_children(supervisor, 1)
        supervisor.kill()
        assert wait_until(lambda: gone(children['/ep01/rm_driver']), 15.0)
    finally:
        supervisor.stop()


def test_whole_pipeline_records_the_robot(tmp_path, fresh_db):
    """db_logger and a sim driver from one params file: the robot reaches the database."""
    supervisor = start_pipeline(fresh_db, tmp_path, 'robots:=ep01=PIPETEST01')
    try:
        children = started_children(supervisor, 2)
        assert set(children) == {'/db_logger', '/ep01/rm_driver'}
        assert wait_until(lambda: fresh_db.query(
            'SELECT serial FROM Robots WHERE serial = %s', ('PIPETEST01',)), 30.0, period=0.5), \
            supervisor.output()
        supervisor.popen.send_signal(signal.SIGINT)
        assert supervisor.popen.wait(20) == 0, supervisor.output()
        assert all(gone(pid) for pid in children.values())
    finally:
        supervisor.stop()
