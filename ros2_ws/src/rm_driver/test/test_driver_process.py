"""The installed rm_driver executable on the sim backend, over real DDS."""

from __future__ import annotations

import math
import sys
import time

import pytest
from action_msgs.msg import GoalStatus
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from std_srvs.srv import SetBool, Trigger

from robot_interfaces.srv import SetMode
from robot_db_testing.processes import BURST_EXIT_CODES, ros_env, signal_burst
from robot_db_testing.ros_client import wait_until

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from driver_process_helpers import Driver, payload  # noqa: E402


def twist(vx: float = 0.0, vy: float = 0.0, wz: float = 0.0) -> Twist:
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = vx, vy, wz
    return msg


def publish_for(publisher, msg, seconds: float, period: float = 0.05) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        publisher.publish(msg)
        time.sleep(period)


def test_status_identifies_the_sim_robot(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    status = driver.statuses[-1]
    assert status.robot_serial == f'SIM-{driver.namespace}'
    assert (status.model_type, status.status, status.ip_address) == ('EP01', 'Idle', '')
    assert 0.0 < status.battery_percent <= 100.0 or math.isnan(status.battery_percent)
    odom = driver.odoms[-1]
    assert (odom.header.frame_id, odom.child_frame_id) == ('odom', 'base_link')


def stamp_of(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_cmd_vel_moves_the_odometry_and_the_watchdog_stops_it(nodes, ros_client):
    # a timeout well above the publishing period: a slow test process is no stop
    driver = Driver(nodes, ros_client, 'cmd_vel_timeout:=1.0')
    publisher = ros_client.node.create_publisher(Twist, driver.name('cmd_vel'), 10)
    assert wait_until(lambda: publisher.get_subscription_count() > 0, 10)
    publish_for(publisher, twist(0.5), 1.0)
    # Commands stop: the watchdog stops the chassis.
    assert wait_until(lambda: len(driver.results_of('Velocity')) >= 2, 5)
    assert wait_until(driver.odom_count_after(6), 5)
    velocity = driver.results_of('Velocity')
    # One result for the change to 0.5 m/s (not one per message), one for the watchdog stop.
    assert [r.result for r in velocity] == ['Success', 'Success']
    assert payload(velocity[0]) == {'linear': 0.5, 'lateral': 0.0, 'angular': 0.0}
    assert payload(velocity[1])['source'] == 'watchdog'
    assert 'watchdog' in velocity[1].message
    assert len({r.command_id for r in velocity}) == 2
    # Distance by the driver's own stamps, not by this test's pace: 0.5 m/s between
    # any two odometry samples taken while moving, and from the command to the stop.
    odoms = list(driver.odoms)
    moving = [m for m in odoms if m.twist.twist.linear.x == pytest.approx(0.5)]
    assert len(moving) >= 2
    first, last = moving[0], moving[-1]
    assert last.pose.pose.position.x - first.pose.pose.position.x == pytest.approx(
        0.5 * (stamp_of(last) - stamp_of(first)), abs=0.005)
    stopped_at = odoms[-1].pose.pose.position.x
    assert stopped_at == pytest.approx(
        0.5 * (stamp_of(velocity[1]) - stamp_of(velocity[0])), abs=0.005)
    assert stamp_of(velocity[1]) - stamp_of(velocity[0]) >= 1.0   # not before the timeout
    after_stop = [m for m in odoms if stamp_of(m) > stamp_of(velocity[1])]
    assert after_stop and all(m.twist.twist.linear.x == 0.0 and
                              m.pose.pose.position.x == stopped_at for m in after_stop)
    assert wait_until(lambda: driver.status_sequence()[-1] == 'Idle', 3)
    assert driver.status_sequence() == ['Idle', 'Active', 'Idle']


def test_move_reaches_one_metre_with_monotonic_feedback_and_a_goal_event(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    client = driver.move_client()
    feedback = []
    started = time.monotonic()
    handle = client.send_goal(feedback, x=1.0, xy_speed=0.5)
    assert handle.accepted
    result_future = client.result_async(handle)
    assert wait_until(result_future.done, 10)
    elapsed = time.monotonic() - started
    wrapped = result_future.result()
    assert wrapped.status == GoalStatus.STATUS_SUCCEEDED and wrapped.result.success
    assert 1.8 < elapsed < 3.5   # 1 m at 0.5 m/s
    assert wait_until(driver.odom_count_after(2), 5)
    assert driver.x() == pytest.approx(1.0, abs=0.02)
    assert driver.odoms[-1].pose.pose.position.y == pytest.approx(0.0, abs=0.02)
    progress = [f.feedback.progress for f in feedback]
    assert len(progress) >= 10 and progress == sorted(progress)
    assert progress[-1] == pytest.approx(1.0)
    assert wait_until(lambda: driver.events_of('Goal'), 5)
    moves = driver.results_of('Move')
    assert len(moves) == 1 and moves[0].result == 'Success'
    assert moves[0].command_id == wrapped.result.command_id
    assert payload(moves[0]) == {'x': 1.0, 'y': 0.0, 'yaw': 0.0, 'xy_speed': 0.5,
                                 'yaw_speed': 0.0}
    assert wait_until(lambda: driver.status_sequence()[-1] == 'Idle', 3)
    assert driver.status_sequence() == ['Idle', 'Active', 'Idle']


def test_cancel_stops_the_motion(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    client = driver.move_client()
    feedback = []
    handle = client.send_goal(feedback, x=2.0, xy_speed=0.5)
    assert handle.accepted
    assert wait_until(lambda: feedback and feedback[-1].feedback.progress > 0.1, 5)
    cancel = client.cancel_async(handle)
    assert wait_until(cancel.done, 5) and cancel.result().goals_canceling
    result_future = client.result_async(handle)
    assert wait_until(result_future.done, 5)
    assert result_future.result().status == GoalStatus.STATUS_CANCELED
    assert wait_until(driver.odom_count_after(2), 5)
    stopped_at = driver.x()
    assert 0.1 < stopped_at < 1.0
    assert wait_until(driver.odom_count_after(6), 5)
    assert driver.x() == pytest.approx(stopped_at, abs=1e-6)
    assert driver.odoms[-1].twist.twist.linear.x == 0.0
    assert [r.result for r in driver.results_of('Move')] == ['Canceled']
    assert not driver.events_of('Goal')


def test_a_second_goal_is_rejected_while_one_runs(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    client = driver.move_client()
    first = client.send_goal(x=0.5, xy_speed=0.5)
    assert first.accepted
    second = client.send_goal(x=1.0, xy_speed=0.5)
    assert not second.accepted
    result_future = client.result_async(first)
    assert wait_until(result_future.done, 10)
    assert result_future.result().status == GoalStatus.STATUS_SUCCEEDED
    assert wait_until(lambda: len(driver.results_of('Move')) == 2, 5)
    rejected, succeeded = driver.results_of('Move')
    assert (rejected.result, succeeded.result) == ('Rejected', 'Success')
    assert 'another move is executing' in rejected.message
    assert payload(rejected)['x'] == 1.0


def test_battery_crossing_the_threshold_gives_exactly_one_battery_low(nodes, ros_client):
    driver = Driver(nodes, ros_client, 'sim.battery_initial_percent:=20.6',
                    'sim.battery_drain_rate:=1.0', 'battery_low_threshold:=20.0',
                    'battery_rate:=10')
    battery = driver.battery()
    assert wait_until(lambda: battery and battery[-1].percentage < 0.185, 5)
    low = driver.events_of('BatteryLow')
    assert len(low) == 1
    assert '20% threshold' in low[0].message
    assert driver.statuses[-1].battery_percent < 20.0


def test_link_drop_reports_disconnected_and_connection_lost_then_restores(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    set_link = driver.name('sim/set_link')
    assert ros_client.call(SetBool, set_link, SetBool.Request(data=False)).success
    assert wait_until(lambda: driver.statuses[-1].status == 'Disconnected', 5)
    assert wait_until(lambda: driver.events_of('ConnectionLost'), 5)
    count = len(driver.odoms)
    publisher = ros_client.node.create_publisher(Twist, driver.name('cmd_vel'), 10)
    assert wait_until(lambda: publisher.get_subscription_count() > 0, 10)
    publisher.publish(twist(0.3))
    assert wait_until(lambda: driver.results_of('Velocity'), 5)
    refused = driver.results_of('Velocity')[0]
    assert refused.result == 'Rejected' and 'Disconnected' in refused.message
    assert len(driver.odoms) == count   # a robot out of reach sends nothing
    assert ros_client.call(SetBool, set_link, SetBool.Request(data=True)).success
    assert wait_until(lambda: driver.events_of('ConnectionRestored'), 5)
    assert wait_until(lambda: driver.statuses[-1].status == 'Idle', 5)
    assert wait_until(driver.odom_count_after(3), 5)
    assert driver.status_sequence() == ['Idle', 'Disconnected', 'Idle']
    assert driver.x() == 0.0


def test_bad_inputs_are_rejected_naming_the_field_and_nothing_moves(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    publisher = ros_client.node.create_publisher(Twist, driver.name('cmd_vel'), 10)
    assert wait_until(lambda: publisher.get_subscription_count() > 0, 10)
    for bad in (twist(math.nan), twist(0.2, wz=math.inf)):
        publish_for(publisher, bad, 0.3)   # repeated: still one result each
    assert wait_until(lambda: len(driver.results_of('Velocity')) == 2, 5)
    velocity = driver.results_of('Velocity')
    assert [r.result for r in velocity] == ['Rejected', 'Rejected']
    assert velocity[0].message.startswith('linear.x') and velocity[1].message.startswith(
        'angular.z')
    assert payload(velocity[0])['linear'] == 'nan'

    client = driver.move_client()
    bad_goals = [(dict(x=6.0), 'x'), (dict(y=math.nan), 'y'), (dict(yaw=2000.0), 'yaw'),
                 (dict(x=1.0, xy_speed=0.3), 'xy_speed'), (dict(yaw=90.0, yaw_speed=600.0),
                                                           'yaw_speed')]
    for fields, _ in bad_goals:
        assert not client.send_goal(**fields).accepted
    assert wait_until(lambda: len(driver.results_of('Move')) == len(bad_goals), 5)
    for result, (_, field) in zip(driver.results_of('Move'), bad_goals):
        assert result.result == 'Rejected' and result.message.split(' ')[0] == field

    mode = ros_client.call(SetMode, driver.name('set_mode'), SetMode.Request(mode='turbo'))
    assert not mode.success and mode.message.startswith("mode 'turbo'")
    good = ros_client.call(SetMode, driver.name('set_mode'),
                           SetMode.Request(mode='chassis_lead'))
    assert good.success
    assert wait_until(lambda: len(driver.results_of('ModeChange')) == 2, 5)
    rejected, accepted = driver.results_of('ModeChange')
    assert (rejected.result, accepted.result) == ('Rejected', 'Success')
    assert (rejected.command_id, accepted.command_id) == (mode.command_id, good.command_id)

    assert wait_until(driver.odom_count_after(3), 5)
    assert driver.x() == 0.0 and driver.odoms[-1].pose.pose.position.y == 0.0
    assert 'Active' not in driver.status_sequence()


def test_injected_collision_and_fault_and_a_late_subscriber_gets_them(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    assert ros_client.call(Trigger, driver.name('sim/inject_collision'),
                           Trigger.Request()).success
    assert ros_client.call(SetBool, driver.name('sim/inject_fault'),
                           SetBool.Request(data=True)).success
    assert wait_until(lambda: driver.statuses[-1].status == 'Error', 5)
    assert wait_until(lambda: driver.events_of('Error') and driver.events_of('Collision'), 5)
    assert 'bottom_front' in driver.events_of('Collision')[0].message
    handle = driver.move_client().send_goal(x=0.5)
    assert not handle.accepted
    assert wait_until(lambda: driver.results_of('Move'), 5)
    assert 'Error' in driver.results_of('Move')[0].message
    assert ros_client.call(SetBool, driver.name('sim/inject_fault'),
                           SetBool.Request(data=False)).success
    assert wait_until(lambda: driver.statuses[-1].status == 'Idle', 5)
    # A logger that starts now still receives what was published (transient local).
    late = driver.collect(type(driver.events[0]), 'event')
    assert wait_until(lambda: {'Collision', 'Error'} <= {e.event_type for e in late}, 5)


def _parameter(name: str, value) -> ParameterMsg:
    if isinstance(value, str):
        pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    elif isinstance(value, int):
        pv = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    else:
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    return ParameterMsg(name=name, value=pv)


def test_parameters_are_validated_at_start_and_at_param_set(nodes, ros_client):
    refused = nodes('rm_driver', 'rm_driver', '-p', 'odom_rate:=7', tag='_bad')
    assert refused.popen.wait(20) == 2
    assert 'odom_rate = 7: must be an SDK rate: one of 1, 5, 10, 20, 50 Hz' in \
        refused.output()
    wrong_type = nodes('rm_driver', 'rm_driver', '-p', 'odom_rate:=fast', tag='_type')
    assert wrong_type.popen.wait(20) == 2
    lines = [line for line in wrong_type.output().splitlines() if line.strip()]
    assert len(lines) == 1 and 'odom_rate must be an integer' in lines[0], lines

    driver = Driver(nodes, ros_client)
    service = driver.name('rm_driver/set_parameters')

    def set_param(name, value):
        return ros_client.call(SetParameters, service, SetParameters.Request(
            parameters=[_parameter(name, value)])).results[0]

    wrong_type = set_param('odom_rate', 'fast')   # what `ros2 param set ... fast` sends
    assert not wrong_type.successful and 'odom_rate must be an integer' in wrong_type.reason
    wrong_type = set_param('cmd_vel_timeout', 1)
    assert not wrong_type.successful and 'cmd_vel_timeout must be a floating-point' in \
        wrong_type.reason
    bad_rate = set_param('odom_rate', 7)
    assert not bad_rate.successful and '1, 5, 10, 20, 50' in bad_rate.reason
    bad_timeout = set_param('cmd_vel_timeout', 20.0)
    assert not bad_timeout.successful and 'cmd_vel_timeout' in bad_timeout.reason
    assert set_param('odom_rate', 50).successful
    time.sleep(0.5)   # let the old 20 Hz timer go
    count = len(driver.odoms)
    assert wait_until(lambda: len(driver.odoms) >= count + 31, 10)
    # the stamps' spacing, not a count per wall second: a loaded machine delays
    # deliveries, while the median interval still tells 50 Hz (20 ms) from 20 Hz (50 ms)
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
              for m in driver.odoms[count:count + 31]]
    intervals = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    assert 0.015 < intervals[len(intervals) // 2] < 0.03, intervals


@pytest.mark.skipif(__import__('importlib').util.find_spec('robomaster') is not None,
                    reason='the SDK is installed here; this checks the message without it')
def test_sdk_backend_without_the_sdk_exits_with_one_install_line(nodes):
    # sdk.python and RM_SDK_PYTHON empty: the SDK process runs on the driver's own Python
    process = nodes('rm_driver', 'rm_driver', '-p', 'backend:=sdk',
                    env=ros_env({'RM_SDK_PYTHON': ''}))
    assert process.popen.wait(20) == 2
    lines = [line for line in process.output().splitlines() if line.strip()]
    assert len(lines) == 1 and 'pip install robomaster==0.1.1.68' in lines[0], lines
    assert 'sdk.python' in lines[0]


def test_an_sdk_python_that_is_not_a_command_is_refused_by_name(nodes):
    process = nodes('rm_driver', 'rm_driver', '-p', 'backend:=sdk',
                    '-p', 'sdk.python:=/nonexistent/bin/python3.8')
    assert process.popen.wait(20) == 2
    assert "sdk.python = '/nonexistent/bin/python3.8'" in process.output()


def test_sigint_during_a_move_stops_and_still_reports_the_move(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    feedback = []
    client = driver.move_client()
    handle = client.send_goal(feedback, x=2.0)
    assert handle.accepted
    result_future = client.result_async(handle)
    assert wait_until(lambda: len(feedback) > 3, 5)
    assert driver.process.stop() == 0   # SIGINT, a clean exit
    assert wait_until(result_future.done, 5)
    assert result_future.result().status == GoalStatus.STATUS_ABORTED
    assert wait_until(lambda: driver.results_of('Move'), 5)
    move = driver.results_of('Move')[0]
    assert (move.result, move.message) == ('Failed', 'driver shutting down: chassis stopped')


def test_a_burst_of_sigint_and_sigterm_stops_the_driver_cleanly(nodes, ros_client):
    driver = Driver(nodes, ros_client)
    signal_burst([driver.process.pid])  # handlers run inside handlers
    assert driver.process.popen.wait(30) in BURST_EXIT_CODES, driver.process.output()
    assert 'Traceback' not in driver.process.output()
