"""The sdk backend against a fake SDK (driver_fake_sdk): the hand-off from SDK threads
to the node's thread, reconnect with backoff, and what robomaster
0.1.1.68 really does where the adapter depends on it. No real SDK involved."""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid

import pytest

from rm_driver import sdk_adapter
from rm_driver.backend import MOVE_CANCELED, MOVE_FAILED, MOVE_SUCCEEDED, TelemetryRates
from rm_driver.commands import MoveRequest, Velocity, clamp_velocity
from rm_driver.handoff import ThreadHandoff
from rm_driver.link_supervision import Backoff
from rm_driver.sdk_adapter import SdkBackend
from tests.support.ros_client import wait_until

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from driver_fake_sdk import FakeWorld  # noqa: E402

G = 9.80665


class RecordingEvents:
    """BackendEvents that notes each call and the thread it ran on."""

    def __init__(self) -> None:
        self.calls = []
        self.threads = set()

    def __getattr__(self, name):
        if not name.startswith('on_'):
            raise AttributeError(name)

        def record(*args):
            self.threads.add(threading.get_ident())
            self.calls.append((name, args))
        return record

    def of(self, name):
        return [args for call, args in list(self.calls) if call == name]


class Drainer:
    """Plays the node's executor: one thread that drains the hand-off when woken."""

    def __init__(self, handoff: ThreadHandoff) -> None:
        self.handoff = handoff
        self.wake = threading.Event()
        self.stop = threading.Event()
        handoff.set_wake(self.wake.set)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.wake.wait(0.05):
                self.wake.clear()
                self.handoff.drain()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2.0)


RATES = TelemetryRates(odom=20, imu=50, wheel_speeds=10, battery=5)


@pytest.fixture
def make_sdk():
    """Build and start an SdkBackend on a FakeWorld; everything is closed afterwards."""
    built = []

    def make(world=None, conn_type='sta', log=lambda _: None):
        # A failed initialize takes 5 s on the SDK (conn.py:246); 0.1 s keeps tests short.
        world = world or FakeWorld(connect_timeout=0.1)
        events = RecordingEvents()
        drainer = Drainer(ThreadHandoff())
        backend = SdkBackend(events, drainer.handoff, world.factory, conn_type, '', RATES,
                             link_timeout=0.4, backoff=Backoff(0.1, 0.4), log=log)
        built.append((world, backend, drainer))
        backend.start()
        return world, events, backend, drainer

    yield make
    for world, backend, drainer in built:
        world.ftp_release.set()   # frees an attempt a faulty adapter left stuck
        backend.close()
        drainer.close()


@pytest.fixture
def sdk(make_sdk):
    return make_sdk()


def connected(events) -> bool:
    return bool(events.of('on_connected'))


# the adapter with the fake SDK -----------------------------------------------------------
def test_connects_subscribes_at_the_configured_rates_and_reports_serial(sdk):
    world, events, _, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    assert events.of('on_connected')[0] == (world.serial, world.ip)
    robot = world.robots[-1]
    assert robot.initialize_args == {'conn_type': 'sta', 'proto_type': 'udp', 'sn': None}
    assert robot.cs == 1  # odometry from the power-on origin survives reconnects
    freqs = {name: sub.freq for name, sub in robot.subscriptions.items()}
    assert freqs == {'position': 20, 'attitude': 20, 'velocity': 20, 'imu': 50, 'esc': 10,
                     'battery': 5}
    assert 'hit_event' in robot.events


def test_telemetry_is_converted_and_handed_to_the_draining_thread(sdk):
    world, events, _, drainer = sdk
    world.position = (1.0, 0.5, 0.0)
    world.attitude = (90.0, 0.0, 0.0)
    world.velocity = (0.0, 0.0, 0.0, 0.3, 0.1, 0.0)
    world.imu = (0.0, 0.0, -1.0, 0.0, 0.0, 45.0)
    world.esc_speed = [120, -120, -120, 120]
    world.battery = 55
    assert wait_until(lambda: len(events.of('on_odom')) > 5 and events.of('on_wheels')
                      and events.of('on_battery') and len(events.of('on_imu')) > 5, 5)
    odom = events.of('on_odom')[-1][0]
    assert (odom.x, odom.y) == pytest.approx((1.0, -0.5))
    assert odom.yaw == pytest.approx(-math.pi / 2)
    assert (odom.vx, odom.vy) == pytest.approx((0.3, -0.1))
    assert odom.wz == pytest.approx(-math.radians(45.0))
    imu = events.of('on_imu')[-1][0]
    assert imu.az == pytest.approx(G)
    assert imu.gz == pytest.approx(-math.radians(45.0))
    assert imu.yaw == pytest.approx(-math.pi / 2)
    wheels = events.of('on_wheels')[-1][0]
    # Converted on the SDK thread before the SDK overwrote its list with -9999.
    assert (wheels.front_right, wheels.front_left, wheels.rear_left, wheels.rear_right) == \
        (120, 120, 120, 120)
    assert events.of('on_battery')[-1] == (55.0,)
    # Hand-off: SDK callbacks ran on the fake's threads, the node's side only on the drainer.
    assert events.threads == {drainer.thread.ident}
    assert drainer.thread.ident not in world.callback_threads
    assert threading.get_ident() not in world.callback_threads


def test_armour_hit_becomes_a_collision(sdk):
    world, events, _, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    world.hit(3, 'water')
    assert wait_until(lambda: events.of('on_collision'), 5)
    assert events.of('on_collision')[0] == (3, 'water')


def test_drive_and_move_are_sent_in_the_sdk_frame(sdk):
    world, events, backend, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    backend.drive(Velocity(0.5, 0.2, 1.0))
    assert wait_until(lambda: world.drive_calls, 5)
    # As the SDK sends it: z in whole deg/s (-57.3 -> -57).
    assert world.drive_calls[-1] == {'x': 0.5, 'y': -0.2, 'z': -57, 'timeout': None}
    done = []
    backend.start_move(MoveRequest(1.0, -0.5, 30.0, 0.5, 30.0), lambda *a: done.append(a))
    assert wait_until(lambda: world.moves, 5)
    assert world.moves[-1].kwargs == pytest.approx(
        {'x': 1.0, 'y': 0.5, 'z': -30.0, 'xy_speed': 0.5, 'z_speed': 30.0})
    time.sleep(0.3)  # longer than the SDK's wait timeouts the adapter must not use
    assert world.moves[-1].state == 'action_started'
    world.moves[-1].finish(True)
    assert wait_until(lambda: done, 5)
    assert done[0][0] == MOVE_SUCCEEDED


def cancel_a_started_move(sdk) -> list:
    """Connect, start a 2 m move, cancel it once the SDK has it; return its outcomes."""
    world, events, backend, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    done = []
    backend.start_move(MoveRequest(2.0, 0.0, 0.0, 0.5, 30.0), lambda *a: done.append(a))
    assert wait_until(lambda: world.moves, 5)
    backend.cancel_move()
    assert wait_until(lambda: done, 5)
    return done


def test_cancel_stops_the_chassis_and_ends_the_move(sdk):
    world, _, _, _ = sdk
    done = cancel_a_started_move(sdk)
    assert done[0][0] == MOVE_CANCELED
    assert world.drive_calls[-1] == {'x': 0.0, 'y': -0.0, 'z': -0.0, 'timeout': None}


def test_set_mode_reports_the_robots_answer(sdk):
    world, events, backend, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    assert backend.set_mode('chassis_lead') is None
    assert world.modes == ['chassis_lead']


def test_silent_link_is_lost_then_reconnected_with_backoff(sdk):
    world, events, _, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    world.link_up = False
    assert wait_until(lambda: events.of('on_link_lost'), 5)
    assert 'no data from the robot' in events.of('on_link_lost')[0][0]
    attempts = len(world.robots)
    # close() of the lost connection waits 3 s for an ack, then attempts follow.
    assert wait_until(lambda: len(world.robots) >= attempts + 2, 10)  # retrying meanwhile
    world.link_up = True
    assert wait_until(lambda: len(events.of('on_connected')) == 2, 10)
    names = [name for name, _ in events.calls if name in ('on_connected', 'on_link_lost')]
    assert names == ['on_connected', 'on_link_lost', 'on_connected']


def test_sdk_exception_is_a_latched_fault_cleared_by_reconnecting(sdk):
    world, events, backend, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    world.raise_on_drive = RuntimeError('socket closed')
    backend.drive(Velocity(0.1, 0.0, 0.0))
    assert wait_until(lambda: events.of('on_fault_cleared'), 5)
    detail, latched = events.of('on_fault')[0]
    assert 'socket closed' in detail and latched
    names = [name for name, _ in events.calls
             if name in ('on_fault', 'on_link_lost', 'on_connected', 'on_fault_cleared')]
    assert names == ['on_connected', 'on_fault', 'on_link_lost', 'on_connected',
                     'on_fault_cleared']


# robomaster 0.1.1.68's real behaviour (issue 10) ---------------------------------------
def settled(events, drainer) -> None:
    """Wait until everything posted so far has been drained (the hand-off is FIFO)."""
    mark = object()
    drainer.handoff.post(events.on_marker, mark)
    assert wait_until(lambda: (mark,) in events.of('on_marker'), 5)


def test_drive_speed_returning_false_is_not_a_fault(sdk):
    world, events, backend, drainer = sdk
    assert wait_until(lambda: connected(events), 5)
    backend.drive(Velocity(0.2, 0.0, 0.0))
    assert wait_until(lambda: world.drive_calls, 5)
    backend.cancel_move()   # a zero drive_speed too
    assert backend.set_mode('free') is None   # after the drives on the worker
    settled(events, drainer)
    assert len(world.drive_calls) == 2
    assert events.of('on_fault') == []


def test_conn_type_built_at_run_time_connects(make_sdk):
    conn_type = ''.join(['s', 't', 'a'])   # as a ROS parameter arrives: not interned
    assert conn_type is not sys.intern('sta')
    world, events, _, _ = make_sdk(conn_type=conn_type)
    assert wait_until(lambda: connected(events), 5)
    assert world.robots[0].initialize_args['conn_type'] == 'sta'


def test_move_after_a_cancel_is_sent_and_telemetry_keeps_flowing(sdk):
    world, events, backend, _ = sdk
    done = cancel_a_started_move(sdk)   # the SDK never hears the move's final push
    backend.start_move(MoveRequest(0.5, 0.0, 0.0, 0.5, 30.0), lambda *a: done.append(a))
    assert wait_until(lambda: len(world.moves) == 2 or len(done) == 2, 5)
    assert len(world.moves) == 2, done
    assert world.moves[0].is_completed   # marked finished in the SDK, not left running
    odoms = len(events.of('on_odom'))
    assert wait_until(lambda: len(events.of('on_odom')) >= odoms + 20, 5)   # 20 Hz: 1 s
    world.moves[1].finish(True)
    assert wait_until(lambda: len(done) == 2, 5)
    assert done[1][0] == MOVE_SUCCEEDED
    assert events.of('on_link_lost') == []


def test_move_after_one_that_missed_its_deadline_is_sent(sdk):
    world, events, backend, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    done = []
    backend.start_move(MoveRequest(0.0, 0.0, 0.0, 0.5, 30.0), lambda *a: done.append(a))
    assert wait_until(lambda: done, 10)   # its final push never comes: 5 s deadline
    assert done[0][0] == MOVE_FAILED and 'did not complete' in done[0][1]
    assert world.moves[0].is_completed   # marked finished in the SDK
    assert wait_until(lambda: world.drive_calls, 5) and world.drive_calls[-1]['x'] == 0
    backend.start_move(MoveRequest(0.5, 0.0, 0.0, 0.5, 30.0), lambda *a: done.append(a))
    assert wait_until(lambda: len(world.moves) == 2 or len(done) == 2, 5)
    assert len(world.moves) == 2, done


def test_set_rates_before_a_streams_first_push_keeps_the_link(make_sdk):
    world = FakeWorld(connect_timeout=0.1)
    world.held_streams = {'battery'}   # the robot has not pushed it yet
    _, events, backend, _ = make_sdk(world)
    assert wait_until(lambda: connected(events), 5)
    backend.set_rates(TelemetryRates(odom=10, imu=20, wheel_speeds=5, battery=1))
    odoms = len(events.of('on_odom'))
    assert wait_until(lambda: len(events.of('on_odom')) >= odoms + 10, 5)   # >= 0.5 s
    assert events.of('on_link_lost') == []
    world.held_streams = set()   # first push: now the new rates can be applied
    robot = world.robots[-1]
    assert wait_until(lambda: {n: s.freq for n, s in robot.subscriptions.items()} == {
        'position': 10, 'attitude': 10, 'velocity': 10, 'imu': 20, 'esc': 5, 'battery': 1}, 5)
    assert events.of('on_link_lost') == [] and len(world.robots) == 1


def test_no_robot_is_logged_with_conn_type_and_retried(make_sdk):
    world = FakeWorld(connect_timeout=0.1)
    world.link_up = False
    logs = []
    _, events, _, _ = make_sdk(world, log=logs.append)
    assert wait_until(lambda: len(world.robots) >= 2 and len(logs) >= 2, 10)
    assert "initialize(conn_type='sta', sn=None)" in logs[0]
    assert 'TypeError' in logs[0] and 'no robot answered' in logs[0]
    assert not any('close()' in line for line in logs)   # its expected raise is no news
    world.link_up = True
    assert wait_until(lambda: connected(events), 10)


def test_silent_ftp_attempt_is_reported_and_retried(make_sdk, monkeypatch):
    monkeypatch.setattr(sdk_adapter, 'FTP_TIMEOUT', 0.3)
    world = FakeWorld(connect_timeout=0.1)
    world.ftp_silent = True   # port 21 accepts and never greets
    logs = []
    _, events, _, _ = make_sdk(world, log=logs.append)
    assert wait_until(lambda: len(world.robots) >= 2, 10)
    assert 'timed out' in logs[0]
    world.ftp_silent = False
    assert wait_until(lambda: connected(events), 10)


def test_close_with_the_link_down_waits_for_the_robot_to_close(sdk):
    world, events, backend, _ = sdk
    assert wait_until(lambda: len(events.of('on_odom')) > 5, 5)
    world.link_up = False   # from now on every acked call waits 3 s (client.py:151)
    backend.close()
    assert world.robots[-1].closed


def test_a_turn_below_one_degree_per_second_still_reaches_the_robot(sdk):
    world, events, backend, _ = sdk
    assert wait_until(lambda: connected(events), 5)
    command, notes = clamp_velocity(Velocity(0.0, 0.0, 0.005))   # 0.29 deg/s
    backend.drive(command)
    assert wait_until(lambda: world.drive_calls, 5)
    assert world.drive_calls[-1]['z'] == -1 and 'raised' in notes[0]


# the whole node in-process, with the fake SDK, over DDS ----------------------------------
def test_driver_node_on_the_fake_sdk_publishes_over_dds(ros_client):
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import qos_profile_sensor_data
    from nav_msgs.msg import Odometry
    from robot_interfaces.msg import RobotEvent, RobotStatus
    from rm_driver.driver_node import DriverNode
    from rm_driver.reporting import record_qos

    namespace = 'fake_' + uuid.uuid4().hex[:6]
    world = FakeWorld(connect_timeout=0.1)
    world.position = (2.0, 1.0, 0.0)
    statuses = ros_client.collect(RobotStatus, f'/{namespace}/status', record_qos(100))
    events = ros_client.collect(RobotEvent, f'/{namespace}/event', record_qos(100))
    odoms = ros_client.collect(Odometry, f'/{namespace}/odom', qos_profile_sensor_data)
    context = Context()
    rclpy.init(context=context)
    node = DriverNode(world.factory, context=context, namespace=namespace, parameter_overrides=[
        Parameter('backend', value='sdk'), Parameter('sdk.link_timeout', value=0.5),
        Parameter('sdk.reconnect_initial_delay', value=0.1),
        Parameter('sdk.reconnect_max_delay', value=0.2)])
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert wait_until(lambda: any(s.status == 'Idle' for s in statuses), 10)
        assert statuses[-1].robot_serial == world.serial
        assert statuses[-1].ip_address == world.ip
        assert wait_until(lambda: odoms, 5)
        assert (odoms[-1].pose.pose.position.x, odoms[-1].pose.pose.position.y) == \
            pytest.approx((2.0, -1.0))
        world.hit(2, 'ir')
        assert wait_until(lambda: any(e.event_type == 'Collision' for e in events), 5)
        world.link_up = False
        assert wait_until(lambda: any(e.event_type == 'ConnectionLost' for e in events), 5)
        assert wait_until(lambda: statuses[-1].status == 'Disconnected', 5)
        world.link_up = True   # reconnects once close() of the lost link has waited 3 s
        assert wait_until(lambda: any(e.event_type == 'ConnectionRestored' for e in events), 10)
        assert wait_until(lambda: statuses[-1].status == 'Idle', 5)
    finally:
        node.shutdown()
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.shutdown(context=context)
        spinner.join(2.0)
