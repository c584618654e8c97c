"""Command validation, clamping and payloads (plain Python)."""

import json
import math

import pytest

from robot_interfaces.srv import SetMode

from rm_driver.commands import (MAX_ANGULAR_SPEED, MODES, Velocity, check_mode, check_move,
                                check_velocity, clamp_velocity, move_payload, move_request,
                                velocity_payload)


@pytest.mark.parametrize('fields, named', [
    ((math.nan, 0.0, 0.0), 'linear.x'),
    ((0.0, math.inf, 0.0), 'linear.y'),
    ((0.0, 0.0, -math.inf), 'angular.z'),
])
def test_non_finite_velocity_names_the_field(fields, named):
    reason = check_velocity(*fields)
    assert reason is not None and reason.startswith(named)


def test_finite_velocity_is_fine():
    assert check_velocity(0.5, -0.2, 1.0) is None


def test_velocity_is_clamped_to_the_ep_limits_with_a_note():
    clamped, notes = clamp_velocity(Velocity(5.0, -4.0, 20.0))
    assert clamped == Velocity(3.5, -3.5, MAX_ANGULAR_SPEED)
    assert len(notes) == 3 and notes[0].startswith('linear.x clamped from 5')


@pytest.mark.parametrize('goal, named', [
    ((6.0, 0.0, 0.0, 0.5, 30.0), 'x'),
    ((0.0, -5.5, 0.0, 0.5, 30.0), 'y'),
    ((0.0, 0.0, 1800.5, 0.5, 30.0), 'yaw'),
    ((1.0, 0.0, 0.0, 0.3, 30.0), 'xy_speed'),
    ((1.0, 0.0, 0.0, 2.5, 30.0), 'xy_speed'),
    ((1.0, 0.0, 0.0, 0.5, 5.0), 'yaw_speed'),
    ((1.0, 0.0, 0.0, 0.5, 600.0), 'yaw_speed'),
    ((1.0, math.nan, 0.0, 0.5, 30.0), 'y'),
    ((1.0, 0.0, math.inf, 0.5, 30.0), 'yaw'),
    ((1.0, 0.0, 0.0, math.nan, 30.0), 'xy_speed'),
])
def test_move_outside_the_sdk_ranges_names_the_field(goal, named):
    reason = check_move(*goal)
    assert reason is not None and reason.split(' ')[0] == named


def test_move_at_the_limits_and_with_default_speeds_is_fine():
    assert check_move(5.0, -5.0, 1800.0, 2.0, 540.0) is None
    assert check_move(1.0, 0.0, 0.0, 0.0, 0.0) is None
    request = move_request(1.0, 0.0, 90.0, 0.0, 0.0)
    assert (request.xy_speed, request.yaw_speed) == (0.5, 30.0)
    assert request.expected_duration() == pytest.approx(3.0)  # 90 deg at 30 deg/s


def test_the_modes_are_the_interfaces():
    assert MODES == (SetMode.Request.MODE_FREE, SetMode.Request.MODE_GIMBAL_LEAD,
                     SetMode.Request.MODE_CHASSIS_LEAD)


def test_mode_must_be_an_sdk_mode():
    assert check_mode('chassis_lead') is None
    assert check_mode('turbo').startswith("mode 'turbo'")


def test_payloads_are_valid_json_even_for_nan():
    payload = json.loads(velocity_payload(math.nan, 0.0, math.inf))
    assert payload == {'linear': 'nan', 'lateral': 0.0, 'angular': 'inf'}
    assert json.loads(move_payload(1.0, 0.0, 0.0, 0.5, 0.0))['x'] == 1.0
    assert json.loads(velocity_payload(0, 0, 0, source='watchdog'))['source'] == 'watchdog'


def test_velocity_tolerance_treats_joystick_noise_as_the_same_command():
    assert Velocity(0.5, 0.0, 0.0).close_to(Velocity(0.5004, 0.0, 0.0))
    assert not Velocity(0.5, 0.0, 0.0).close_to(Velocity(0.51, 0.0, 0.0))


def test_speeds_the_sdk_would_round_to_zero_are_raised_to_its_step_with_a_note():
    command, notes = clamp_velocity(Velocity(0.004, -0.003, -0.008))   # 0.46 deg/s
    assert command == Velocity(0.01, -0.01, -math.radians(1.0))
    assert [note.split(' ')[0] for note in notes] == ['linear.x', 'linear.y', 'angular.z']
    assert 'raised from -0.008 to -0.01745 rad/s' in notes[2]
    # What already survives the SDK's rounding, and what is zero to the driver, is kept.
    assert clamp_velocity(Velocity(0.006, 0.0, 0.009)) == (Velocity(0.006, 0.0, 0.009), [])
    assert clamp_velocity(Velocity(0.0005, 0.0, 0.0005))[1] == []
