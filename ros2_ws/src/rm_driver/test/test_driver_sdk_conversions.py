"""The sdk backend's plain parts, no SDK and no threads: unit conversions between the
SDK's frame and REP 103, link supervision (backoff, silence) and the install hint."""

from __future__ import annotations

import math
import sys

import pytest

from rm_driver import sdk_conversions as conv
from rm_driver.commands import MoveRequest, Velocity
from rm_driver.link_supervision import Backoff, LinkWatch
from rm_driver.sdk_loading import load_robot_factory, SdkMissing

G = 9.80665


def test_position_y_right_becomes_y_left():
    assert conv.position_to_rep103((1.5, 0.25, 30.0)) == (1.5, -0.25)


def test_attitude_degrees_clockwise_become_radians_counter_clockwise():
    roll, pitch, yaw = conv.attitude_to_rep103((90.0, 10.0, 5.0))   # (yaw, pitch, roll)
    assert yaw == pytest.approx(-math.pi / 2)
    assert pitch == pytest.approx(-math.radians(10.0))
    assert roll == pytest.approx(math.radians(5.0))


def test_imu_g_and_deg_per_s_become_si_rep103():
    sample = conv.imu_to_rep103((0.1, 0.2, -1.0, 10.0, 20.0, 90.0))
    assert (sample.ax, sample.ay, sample.az) == pytest.approx((0.1 * G, -0.2 * G, G))
    assert (sample.gx, sample.gy, sample.gz) == pytest.approx(
        (math.radians(10), -math.radians(20), -math.pi / 2))


def test_velocity_uses_body_frame_components():
    assert conv.velocity_to_rep103((9.0, 9.0, 9.0, 0.4, 0.1, 0.0)) == (0.4, -0.1)


def test_esc_left_motors_are_mirrored():
    wheels = conv.esc_to_wheels(([100, -100, -100, 100], [0] * 4, [0] * 4, [0] * 4))
    assert (wheels.front_right, wheels.front_left, wheels.rear_left, wheels.rear_right) == \
        (100, 100, 100, 100)


def test_commands_go_out_in_the_sdk_frame():
    assert conv.drive_speed_args(Velocity(0.5, 0.2, 1.0)) == pytest.approx(
        {'x': 0.5, 'y': -0.2, 'z': -math.degrees(1.0)})
    assert conv.move_args(MoveRequest(1.0, 0.5, 90.0, 0.7, 45.0)) == pytest.approx(
        {'x': 1.0, 'y': -0.5, 'z': -90.0, 'xy_speed': 0.7, 'z_speed': 45.0})


def test_backoff_doubles_up_to_its_cap_and_resets():
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_link_watch_expires_after_silence():
    now = [0.0]
    watch = LinkWatch(2.0, clock=lambda: now[0])
    now[0] = 1.5
    assert not watch.expired()
    now[0] = 2.5
    assert watch.expired()
    watch.feed()
    assert not watch.expired()


def test_missing_sdk_gives_one_line_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, 'robomaster', None)  # import now fails
    with pytest.raises(SdkMissing) as error:
        load_robot_factory()
    message = str(error.value)
    assert '\n' not in message
    assert 'pip install robomaster==0.1.1.68' in message
    assert f'{sys.version_info.major}.{sys.version_info.minor}' in message
    if sys.version_info[:2] > (3, 8):  # the route: a Python 3.8 named by sdk.python
        assert 'python3.8 -m venv' in message and 'sdk.python' in message
