"""The sdk backend as the node uses it (SdkProcessBackend), on the real robomaster SDK
(0.1.1.68, in its own Python 3.8 process) against the emulated EP (rm_emulator) over its real wire
protocol, each test on a private network of its own (tests/support/emulated_robot.py). Here,
not in a package's test/: rm_emulator builds on rm_driver's kinematic model.

The numbered tests hold the adapter to what the real SDK does (issue 10, points 1-7);
each failed against the adapter before its fix.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
import time

import pytest

from rm_driver import sdk_process
from rm_driver.backend import MOVE_CANCELED, MOVE_FAILED, MOVE_SUCCEEDED, TelemetryRates
from rm_driver.commands import MoveRequest, Velocity, clamp_velocity
from rm_driver.link_supervision import Backoff
from rm_driver.sdk_loading import SdkMissing
from rm_driver.sdk_process import SdkProcessBackend
from robot_db_testing.ros_client import wait_until

from tests.support.emulated_robot import Drainer, RecordingEvents, sdk_python

G = 9.80665
RATES = TelemetryRates(odom=20, imu=50, wheel_speeds=10, battery=5)
CONNECT_TIMEOUT = 20.0   # a first initialize: handshake, FTP greeting, setup calls


class Backend:
    """An SdkProcessBackend whose SDK process runs in the link's SDK namespace."""

    def __init__(self, robot, serial: str = '', link_timeout: float = 1.5,
                 command=None) -> None:
        self.robot = robot
        self.events = RecordingEvents()
        self.logs = []
        self.output = []
        self.drainer = Drainer()
        command = command or robot.link.prefix('sdk') + [sdk_python()]
        self.backend = SdkProcessBackend(
            self.events, self.drainer.handoff, command, robot.conn_type, serial, RATES,
            link_timeout, Backoff(0.2, 1.0), log=self.logs.append,
            log_output=self.output.append)

    def start(self) -> 'Backend':
        self.backend.start()
        return self

    def connected(self, times: int = 1, timeout: float = CONNECT_TIMEOUT) -> bool:
        return wait_until(lambda: len(self.events.of('on_connected')) >= times, timeout)

    def samples(self, name: str) -> list:
        return [args[0] for args in self.events.of(name)]

    def move(self, request: MoveRequest) -> list:
        done = []
        self.backend.start_move(request, lambda *outcome: done.append(outcome))
        return done

    def close(self) -> None:
        self.backend.close()
        self.drainer.close()


@pytest.fixture
def make_backend(emulated_robot):
    built = []

    def make(conn_type: str = 'ap', start: bool = True, robot_options=None, **options):
        backend = Backend(emulated_robot(conn_type, **(robot_options or {})), **options)
        built.append(backend)
        return backend.start() if start else backend

    yield make
    for backend in built:
        backend.close()


@pytest.fixture
def connected(make_backend):
    backend = make_backend()
    assert backend.connected(), (backend.logs, backend.robot.output())
    return backend


# connecting -------------------------------------------------------------------------
@pytest.mark.parametrize('conn_type, options, serial', [
    ('ap', {}, ''),
    ('rndis', {}, ''),
    ('sta', {}, ''),
    ('sta', {}, '3JKCK980030E3K'),                              # the SN picks the robot
    ('sta', {'broadcast_serial': False}, ''),
])
def test_connects_and_reads_the_serial(make_backend, conn_type, options, serial):
    backend = make_backend(conn_type, robot_options=options, serial=serial)
    assert backend.connected(), (backend.logs, backend.robot.output())
    got_serial, ip, firmware = backend.events.of('on_connected')[0]
    assert got_serial == backend.robot.serial
    assert ip == backend.robot.link.robot_address
    assert re.fullmatch(r'\d\d\.\d\d\.\d{4}', firmware), firmware   # get_version(): 01.01.0305
    assert any('robomaster 0.1.1.68 on Python 3.8' in line for line in backend.output)
    assert backend.robot.state()['sdk_mode'] is True


# telemetry ---------------------------------------------------------------------------
def test_every_stream_arrives_at_its_rate(connected):
    events = connected.events
    start = {name: len(events.of(name)) for name in ('on_odom', 'on_imu', 'on_wheels',
                                                     'on_battery')}
    assert wait_until(lambda: len(events.of('on_odom')) >= start['on_odom'] + 60, 15)
    got = {name: len(events.of(name)) - start[name] for name in start}
    # 60 odom pushes at 20 Hz are 3 s: imu 50 Hz, wheels 10 Hz, battery 5 Hz in that time
    expected = {'on_imu': 150, 'on_wheels': 30, 'on_battery': 15}
    for name, count in expected.items():
        assert 0.7 * count <= got[name] * 60 / got['on_odom'] <= 1.3 * count, (name, got)


def test_samples_are_in_rep103_and_si_units(connected):
    backend, robot = connected, connected.robot
    assert wait_until(lambda: backend.samples('on_imu'), 5)
    at_rest = backend.samples('on_imu')[-1]
    assert at_rest.az == pytest.approx(G, abs=0.2)   # gravity on +z
    # forward, to the left and turning counter-clockwise, in ROS terms
    backend.backend.drive(Velocity(0.3, 0.2, 0.5))
    assert wait_until(lambda: robot.state()['pose'][0] > 0.3, 10)
    backend.backend.drive(Velocity())
    assert wait_until(lambda: robot.state()['velocity'] == [0, 0, 0], 5)
    sdk_x, sdk_y, sdk_yaw = robot.state()['pose']
    assert sdk_y != 0 and sdk_yaw != 0
    # x stays, y left and yaw counter-clockwise: both change sign
    expected = (sdk_x, -sdk_y, -math.radians(sdk_yaw))

    def odom_agrees() -> bool:
        odom = backend.samples('on_odom')[-1]
        return (odom.x, odom.y, odom.yaw) == pytest.approx(expected, abs=0.02)
    assert wait_until(odom_agrees, 5), (backend.samples('on_odom')[-1], expected)
    moving = [s for s in backend.samples('on_wheels') if s.front_right > 0]
    assert moving, 'no wheel speeds while driving forward'


def test_an_armour_hit_is_a_collision(connected):
    connected.robot.control.hit(2)
    assert wait_until(lambda: connected.events.of('on_collision'), 5)
    assert connected.events.of('on_collision')[0][0] == 2


# commands ----------------------------------------------------------------------------
def test_1_drive_and_stop_reach_the_robot_without_an_error(connected):
    backend, robot = connected, connected.robot
    backend.backend.drive(Velocity(0.2, 0.1, 0.0))
    assert wait_until(lambda: robot.state()['last_drive_speed'] == pytest.approx(
        [0.2, -0.1, 0.0]), 5)
    backend.backend.drive(Velocity())
    assert wait_until(lambda: robot.state()['last_drive_speed'] == pytest.approx(
        [0.0, 0.0, 0.0]), 5)
    assert backend.backend.set_mode('free') is None   # behind the drives, in order
    assert robot.state()['mode'] == 'free'
    assert backend.events.of('on_fault') == []        # drive_speed returns False: a push


def test_a_1_m_move_completes_where_it_was_sent(connected):
    backend, robot = connected, connected.robot
    done = backend.move(MoveRequest(1.0, 0.0, 0.0, 0.5, 30.0))
    assert wait_until(lambda: done, 15)
    assert done[0][0] == MOVE_SUCCEEDED, done
    assert robot.state()['pose'][0] == pytest.approx(1.0, abs=0.01)
    assert wait_until(lambda: backend.samples('on_odom')[-1].x == pytest.approx(1.0, abs=0.02),
                      5)


def test_3_a_move_after_a_cancel_runs_and_telemetry_keeps_flowing(connected):
    backend, robot = connected, connected.robot
    first = backend.move(MoveRequest(1.0, 0.0, 0.0, 0.5, 30.0))
    assert wait_until(lambda: robot.state()['pose'][0] > 0.1, 5)
    backend.backend.cancel_move()
    assert wait_until(lambda: first, 5)
    assert first[0][0] == MOVE_CANCELED
    second = backend.move(MoveRequest(0.2, 0.0, 0.0, 0.5, 30.0))
    assert wait_until(lambda: second, 10)
    assert second[0][0] == MOVE_SUCCEEDED, (second, backend.logs)
    odoms = len(backend.samples('on_odom'))
    assert wait_until(lambda: len(backend.samples('on_odom')) >= odoms + 20, 5)
    assert backend.events.of('on_link_lost') == []


def test_3_a_move_after_one_whose_final_push_was_lost_runs(connected):
    backend, robot = connected, connected.robot
    robot.control.fault('final_push', mode='drop')
    first = backend.move(MoveRequest(0.2, 0.0, 0.0, 0.5, 30.0))
    assert wait_until(lambda: first, 15)   # deadline: 2 x 0.4 s + 5 s
    assert first[0][0] == MOVE_FAILED and 'did not complete' in first[0][1]
    second = backend.move(MoveRequest(0.2, 0.0, 0.0, 0.5, 30.0))
    assert wait_until(lambda: second, 10)
    assert second[0][0] == MOVE_SUCCEEDED, (second, backend.logs)
    assert backend.events.of('on_link_lost') == []


def test_a_busy_robot_refusing_a_move_fails_it(connected):
    connected.robot.control.fault('busy', on=True)
    done = connected.move(MoveRequest(0.2, 0.0, 0.0, 0.5, 30.0))
    assert wait_until(lambda: done, 15)
    assert done[0][0] == MOVE_FAILED, done


def test_7_a_turn_below_one_degree_per_second_still_reaches_the_robot(connected):
    command, notes = clamp_velocity(Velocity(0.0, 0.0, 0.005))   # 0.29 deg/s
    connected.backend.drive(command)
    assert wait_until(lambda: connected.robot.state()['last_drive_speed'] == pytest.approx(
        [0.0, 0.0, -1.0]), 5)
    assert 'raised' in notes[0]


# the link ----------------------------------------------------------------------------
def test_a_cut_link_is_lost_then_restored(connected):
    backend, robot = connected, connected.robot
    robot.control.link(up=False)
    assert wait_until(lambda: backend.events.of('on_link_lost'), 10)
    assert 'no data from the robot' in backend.events.of('on_link_lost')[0][0]
    robot.control.link(up=True)
    assert backend.connected(times=2, timeout=30), backend.logs
    odoms = len(backend.samples('on_odom'))
    assert wait_until(lambda: len(backend.samples('on_odom')) >= odoms + 20, 5)  # resubscribed
    assert backend.events.names('on_connected', 'on_link_lost') == [
        'on_connected', 'on_link_lost', 'on_connected']


def test_a_stray_datagram_is_survived(connected):
    backend, robot = connected, connected.robot
    robot.control.fault('stray_datagram')
    odoms = len(backend.samples('on_odom'))
    # Either the SDK reads on, or its receive path wedges and the link watch reconnects.
    assert wait_until(lambda: len(backend.samples('on_odom')) >= odoms + 40, 30), backend.logs


def test_4_new_rates_before_a_streams_first_push_keep_the_link(make_backend):
    backend = make_backend(robot_options={}, link_timeout=3.0, start=False)
    backend.robot.control.fault('first_push_delay', delay=1.5)
    backend.start()
    assert backend.connected(), backend.logs
    backend.backend.set_rates(TelemetryRates(odom=10, imu=20, wheel_speeds=5, battery=1))
    assert wait_until(lambda: backend.robot.state()['subscriptions'].get('imu') == 20, 10)
    assert backend.robot.state()['subscriptions'].get('position') == 10
    assert backend.events.of('on_link_lost') == [], backend.logs


def test_5_no_robot_is_reported_and_retried_until_one_answers(make_backend):
    backend = make_backend(start=False)
    backend.robot.control.fault('silent', on=True)
    backend.start()
    assert wait_until(lambda: len(backend.logs) >= 2, 40), backend.logs
    assert "initialize(conn_type='ap', sn=None)" in backend.logs[0]
    assert 'no robot answered' in backend.logs[0]
    backend.robot.control.fault('silent', on=False)
    assert backend.connected(timeout=40), backend.logs


def test_6_a_silent_ftp_port_bounds_the_attempt(make_backend):
    backend = make_backend(start=False)
    backend.robot.control.fault('ftp', mode='silent')
    backend.start()
    assert wait_until(lambda: backend.logs, 30), backend.logs
    assert 'timed out' in backend.logs[0]
    backend.robot.control.fault('ftp', mode='normal')
    assert backend.connected(timeout=40), backend.logs


def test_7_close_with_the_link_down_ends_the_process_in_time(connected):
    connected.robot.control.link(up=False)
    started = time.monotonic()
    connected.backend.close()
    assert time.monotonic() - started < sdk_process.EXIT_TIMEOUT + 1.0
    assert not any('killed' in line for line in connected.logs), connected.logs


# the SDK process ---------------------------------------------------------------------
def test_a_dead_sdk_process_is_a_lost_link_and_is_restarted(connected):
    pid = connected.backend._process.popen.pid   # the process this backend started
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: connected.events.of('on_link_lost'), 10)
    assert 'SDK process exited' in connected.events.of('on_link_lost')[0][0]
    assert connected.connected(times=2), connected.logs


def test_a_python_without_the_sdk_is_refused_naming_the_fix(emulated_robot):
    backend = Backend(emulated_robot('ap'), command=[sys.executable])   # rclpy's Python
    with pytest.raises(SdkMissing, match='robomaster'):
        backend.start()
    backend.drainer.close()
