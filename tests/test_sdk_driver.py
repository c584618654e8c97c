"""The installed rm_driver with backend:=sdk, end to end: the real robomaster SDK in its
own Python 3.8 process, the emulated EP on a private network, the test over DDS.
The manual's scenario (Idle, a 1 m move, its result and Goal, Idle) and a cut link."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from action_msgs.msg import GoalStatus

from robot_db_testing.processes import gone
from robot_db_testing.ros_client import wait_until
from tests.support import REPO_ROOT
from tests.support.emulated_robot import sdk_python

sys.path.insert(0, str(REPO_ROOT / 'ros2_ws' / 'src' / 'rm_driver' / 'test'))
from driver_process_helpers import Driver  # noqa: E402


def children(pid: int) -> list:
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_driver_on_the_real_sdk_moves_1_m_and_survives_a_cut_link(
        nodes, ros_client, emulated_robot):
    robot = emulated_robot('ap')
    sdk = ' '.join(robot.link.prefix('sdk') + [sdk_python()])
    driver = Driver(nodes, ros_client, 'conn_type:=ap', f'sdk.python:={sdk}',
                    'sdk.link_timeout:=1.5', 'sdk.reconnect_initial_delay:=0.2',
                    'sdk.reconnect_max_delay:=1.0', backend='sdk')
    assert wait_until(lambda: driver.statuses[-1].status == 'Idle', 30), \
        driver.process.output()[-3000:]
    status = driver.statuses[-1]
    assert (status.robot_serial, status.ip_address) == (robot.serial, robot.link.robot_address)
    assert driver.process.wait_for_output('(firmware ', 5)

    client = driver.move_client()
    handle = client.send_goal([], x=1.0, xy_speed=0.5)
    assert handle.accepted
    result = client.result_async(handle)
    assert wait_until(result.done, 20)
    wrapped = result.result()
    assert wrapped.status == GoalStatus.STATUS_SUCCEEDED and wrapped.result.success
    assert robot.state()['pose'][0] == pytest.approx(1.0, abs=0.01)   # the robot moved 1 m
    assert wait_until(lambda: driver.x() == pytest.approx(1.0, abs=0.02), 5)
    assert wait_until(lambda: driver.events_of('Goal'), 5)
    moves = driver.results_of('Move')
    assert [(m.result, m.command_id) for m in moves] == [('Success', wrapped.result.command_id)]
    assert wait_until(lambda: driver.status_sequence()[-1] == 'Idle', 5)
    assert driver.status_sequence()[-3:] == ['Idle', 'Active', 'Idle']
    assert driver.events_of('Error') == []

    robot.control.link(up=False)
    assert wait_until(lambda: driver.events_of('ConnectionLost'), 10)
    assert wait_until(lambda: driver.statuses[-1].status == 'Disconnected', 5)
    robot.control.link(up=True)
    assert wait_until(lambda: driver.events_of('ConnectionRestored'), 30), \
        driver.process.output()[-3000:]
    assert wait_until(lambda: driver.statuses[-1].status == 'Idle', 5)
    assert wait_until(driver.odom_count_after(10), 5)

    sdk_pids = children(driver.process.pid)   # the SDK process (and nsenter's)
    assert sdk_pids
    assert driver.process.stop() == 0
    assert all(wait_until(lambda pid=pid: gone(pid), 10) for pid in sdk_pids)
    assert robot.state()['sdk_mode'] is False   # the robot was released on the way out
