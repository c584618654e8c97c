"""The kinematic mecanum simulator (plain Python)."""

import math

import pytest

from rm_driver.commands import Velocity, move_request
from rm_driver.sim_chassis import GRAVITY, SimChassis


def run(chassis: SimChassis, seconds: float, step: float = 0.05) -> float:
    """Advance in steps; return the time at which a move completed (or -1)."""
    elapsed, done_at = 0.0, -1.0
    while elapsed < seconds - 1e-9:
        elapsed += step
        if chassis.advance(step) and done_at < 0:
            done_at = elapsed
    return done_at


def test_one_metre_at_half_a_metre_per_second_takes_two_seconds():
    chassis = SimChassis()
    chassis.start_move(move_request(1.0, 0.0, 0.0, 0.5, 0.0))
    assert chassis.odom().vx == 0.0  # nothing integrated yet
    done_at = run(chassis, 3.0, step=0.02)
    assert done_at == pytest.approx(2.0, abs=0.021)
    assert (chassis.x, chassis.y) == pytest.approx((1.0, 0.0), abs=1e-9)
    assert not chassis.moving and chassis.odom().vx == 0.0


def test_move_is_relative_to_the_current_heading_rep103():
    chassis = SimChassis()
    chassis.yaw = math.pi / 2  # facing +y
    chassis.start_move(move_request(1.0, 0.5, 90.0, 1.0, 90.0))
    run(chassis, 2.0)
    assert (chassis.x, chassis.y) == pytest.approx((-0.5, 1.0), abs=1e-9)  # y left of heading
    assert chassis.yaw == pytest.approx(math.pi, abs=1e-9) or \
        chassis.yaw == pytest.approx(-math.pi, abs=1e-9)


def test_velocity_during_a_move_is_reported_in_the_body_frame():
    chassis = SimChassis()
    chassis.yaw = math.pi / 2
    chassis.start_move(move_request(1.0, 0.0, 0.0, 0.5, 0.0))
    chassis.advance(0.1)
    odom = chassis.odom()
    assert (odom.vx, odom.vy) == pytest.approx((0.5, 0.0), abs=1e-9)


def test_drive_integrates_a_circle():
    chassis = SimChassis()
    chassis.drive(Velocity(0.5, 0.0, 0.5))   # radius 1 m
    chassis.advance(2 * math.pi / 0.5)   # one full turn, in the sim's own substeps
    assert (chassis.x, chassis.y) == pytest.approx((0.0, 0.0), abs=1e-3)


def test_cancel_stops_where_it_is():
    chassis = SimChassis()
    chassis.start_move(move_request(2.0, 0.0, 0.0, 0.5, 0.0))
    chassis.advance(1.0)
    assert chassis.cancel_move() is True
    chassis.advance(1.0)
    assert chassis.x == pytest.approx(0.5) and not chassis.moving
    assert chassis.cancel_move() is False


def test_wheels_turn_forward_when_driving_forward_and_oppose_when_turning():
    chassis = SimChassis()
    chassis.drive(Velocity(0.5, 0.0, 0.0))
    chassis.advance(0.05)
    wheels = chassis.wheels()
    rpm = 0.5 / 0.05 * 60 / (2 * math.pi)
    assert (wheels.front_right, wheels.front_left, wheels.rear_left, wheels.rear_right) == \
        pytest.approx((rpm,) * 4)
    chassis.drive(Velocity(0.0, 0.0, 1.0))  # counter-clockwise: right wheels forward
    chassis.advance(0.05)
    wheels = chassis.wheels()
    assert wheels.front_right > 0 > wheels.front_left
    assert wheels.rear_right > 0 > wheels.rear_left


def test_imu_reads_gravity_up_and_the_mean_acceleration():
    chassis = SimChassis()
    assert chassis.imu(0.05).az == pytest.approx(GRAVITY)
    chassis.drive(Velocity(0.5, 0.0, 0.0))
    chassis.advance(0.05)
    sample = chassis.imu(0.25)
    assert sample.ax == pytest.approx(2.0)   # 0.5 m/s gained over 0.25 s
    chassis.advance(0.05)
    assert chassis.imu(0.05).ax == pytest.approx(0.0)


def test_battery_drains_and_stops_at_zero():
    chassis = SimChassis(battery_percent=1.0, battery_drain_rate=0.5)
    chassis.advance(1.0)
    assert chassis.battery_percent == pytest.approx(0.5)
    chassis.advance(10.0)
    assert chassis.battery_percent == 0.0


def test_move_time_left_counts_down_to_the_slower_component():
    chassis = SimChassis()
    assert chassis.move_time_left() is None
    chassis.start_move(move_request(1.0, 0.0, 90.0, 0.5, 30.0))   # 2 s of travel, 3 s of turn
    assert chassis.move_time_left() == pytest.approx(3.0)
    chassis.advance(1.0)
    assert chassis.move_time_left() == pytest.approx(2.0)
    assert chassis.advance(chassis.move_time_left() + 1e-9) is True   # float steps: a sliver
    assert chassis.move_time_left() is None
