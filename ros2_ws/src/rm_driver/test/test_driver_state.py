"""Status, battery-low crossings, the cmd_vel gate and move progress (plain Python)."""

import math

import pytest

from rm_driver.commands import Velocity, move_request
from rm_driver.driver_node import sim_serial
from rm_driver.robot_state import BatteryLowDetector, MoveProgress, StatusTracker, VelocityGate


def test_status_priority_disconnected_error_active_idle():
    state = StatusTracker()
    assert state.status == 'Disconnected'
    state.link_up = True
    assert state.status == 'Idle' and state.refusal() is None
    state.moving = True
    assert state.status == 'Active'
    state.fault = 'motor'
    assert state.status == 'Error' and 'motor' in state.refusal()
    state.link_up = False
    assert state.status == 'Disconnected' and 'Disconnected' in state.refusal()


def test_battery_low_fires_once_per_crossing_with_hysteresis():
    detector = BatteryLowDetector(20.0, hysteresis=1.0)
    readings = [25, 21, 20.2, 19.9, 19.5, 20.1, 19.8, 20.5, 10, math.nan]
    assert [detector.update(r) for r in readings].count(True) == 1
    assert detector.update(21.5) is False   # climbs back: re-armed
    assert detector.update(19.0) is True    # second crossing


def test_battery_already_low_at_start_fires_once():
    detector = BatteryLowDetector(20.0)
    assert [detector.update(r) for r in (12, 11.9, 11.8)] == [True, False, False]


S = 1_000_000_000  # ns


def test_velocity_gate_reports_changes_and_watchdog_stops_only():
    gate = VelocityGate()
    assert gate.accept(Velocity(0.5), 0) is True
    assert gate.accept(Velocity(0.5), 0) is False          # same command again
    assert gate.accept(Velocity(0.5002), 0) is False       # within tolerance
    assert gate.accept(Velocity(0.3), 0) is True
    assert gate.watchdog_expired(S, 0.5) is True           # was moving: a stop is due
    assert gate.watchdog_expired(2 * S, 0.5) is False      # already stopped
    assert gate.accept(Velocity(), 3 * S) is False         # zero after the stop: no change


def test_velocity_gate_watchdog_measures_from_the_last_accepted_cmd_vel():
    gate = VelocityGate()
    gate.accept(Velocity(0.5), 0)
    gate.accept(Velocity(0.5), 9 * S // 10)   # the same command keeps it alive
    # the timer's call, due at 0.5 s, ran late, after the fresh cmd_vel at 0.9 s
    assert gate.watchdog_expired(S, 0.5) is False
    assert gate.moving
    assert gate.watchdog_expired(14 * S // 10 - 1, 0.5) is False
    assert gate.watchdog_expired(14 * S // 10, 0.5) is True
    assert not gate.moving


def test_velocity_gate_watchdog_is_idle_after_a_stop_command():
    gate = VelocityGate()
    gate.accept(Velocity(0.5), 0)
    gate.accept(Velocity(), S // 10)
    assert gate.watchdog_expired(10 * S, 0.5) is False
    gate.accept(Velocity(0.2), 11 * S)
    gate.reset()                                # a move took over
    assert gate.watchdog_expired(20 * S, 0.5) is False


def test_velocity_gate_reports_a_repeated_bad_command_once():
    gate = VelocityGate()
    assert gate.reject('{"linear": "nan"}') is True
    assert gate.reject('{"linear": "nan"}') is False
    gate.accept(Velocity(0.1), 0)
    assert gate.reject('{"linear": "nan"}') is True


def test_move_progress_is_monotonic_and_counts_full_turns():
    progress = MoveProgress(move_request(0.0, 0.0, 720.0, 0.0, 90.0), (0.0, 0.0, 3.0))
    yaw = 3.0
    values = []
    for _ in range(160):  # 720 deg in 9 deg steps, crossing +-pi several times
        yaw = math.atan2(math.sin(yaw + math.radians(4.5)), math.cos(yaw + math.radians(4.5)))
        values.append(progress.update(0.0, 0.0, yaw))
    assert values == sorted(values)
    assert progress.angle_turned == pytest.approx(720.0)
    assert values[-1] == pytest.approx(1.0)


def test_move_progress_translation_and_noise():
    progress = MoveProgress(move_request(1.0, 0.0, 0.0, 0.5, 0.0), (2.0, 1.0, 0.0))
    assert progress.update(2.5, 1.0, 0.0) == pytest.approx(0.5)
    assert progress.update(2.49, 1.0, 0.0) == pytest.approx(0.5)   # odometry noise backwards
    assert progress.update(3.2, 1.0, 0.0) == 1.0                   # overshoot is capped


def test_sim_serial_is_stable_and_derived_from_the_namespace():
    assert sim_serial('/robot') == 'SIM-robot'
    assert sim_serial('/lab/ep01') == 'SIM-lab-ep01'
    assert sim_serial('/') == 'SIM-root'
