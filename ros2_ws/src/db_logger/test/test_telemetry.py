"""Telemetry without a graph: CDR offsets against rclpy's serializer, rate limit, coverage."""

import math

import pytest
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message
from robot_interfaces.msg import WheelSpeeds
from sensor_msgs.msg import BatteryState, Imu

from db_logger.telemetry import Coverage, PeriodEstimator, RateLimiter, TelemetrySettings
from db_logger.telemetry_decoding import (CdrError, frame, KIND_BATTERY, KIND_IMU, KIND_ODOM,
                                          KIND_WHEELS, parse_sample)


def stamped(msg, sec=1764758400, nanosec=123456789):
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = 'odom_frame_of_odd_length'
    return msg


def sample(kind, msg, serial=b'SN-7'):
    return parse_sample(kind, frame(serial, serialize_message(msg)), 1.5)


def test_odometry_values_and_yaw_from_the_quaternion():
    msg = stamped(Odometry(child_frame_id='base'))
    msg.pose.pose.position.x, msg.pose.pose.position.y = 1.25, -0.5
    yaw = 2.5
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    msg.pose.covariance = [9.0] * 36
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = 0.4, 0.1
    msg.twist.twist.angular.z = -0.3
    s = sample(KIND_ODOM, msg)
    assert (s.stream, s.serial, s.stamp_us) == ('odom', 'SN-7', 1764758400123456)
    assert s.stamp == '2025-12-03 10:40:00.123456'
    assert s.values == pytest.approx((1.25, -0.5, yaw, 0.4, 0.1, -0.3))


def test_imu_wheels_and_battery_values():
    imu = stamped(Imu())
    imu.orientation.x, imu.orientation.y, imu.orientation.z, imu.orientation.w = .1, .2, .3, .9
    imu.orientation_covariance = [5.0] * 9
    imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = 1., 2., 3.
    imu.angular_velocity_covariance = [6.0] * 9
    imu.linear_acceleration.x, imu.linear_acceleration.y = 4., 5.
    imu.linear_acceleration.z = 9.81
    assert sample(KIND_IMU, imu).values == pytest.approx((.1, .2, .3, .9, 1, 2, 3, 4, 5, 9.81))

    wheels = stamped(WheelSpeeds(front_right_rpm=10.0, front_left_rpm=-20.5,
                                 rear_left_rpm=30.0, rear_right_rpm=-40.0))
    assert sample(KIND_WHEELS, wheels).values == (10.0, -20.5, 30.0, -40.0)

    battery = stamped(BatteryState(voltage=math.nan, percentage=0.875))
    assert sample(KIND_BATTERY, battery).values == (87.5, None)
    battery = stamped(BatteryState(voltage=11.5, percentage=math.nan))
    assert sample(KIND_BATTERY, battery).values == (None, pytest.approx(11.5))


def test_zero_stamp_is_the_receive_time_and_bad_records_are_refused():
    assert sample(KIND_WHEELS, WheelSpeeds()).stamp_us == 1500000
    data = frame(b'SN', serialize_message(stamped(Odometry())))
    with pytest.raises(CdrError):
        parse_sample(KIND_ODOM, data[:100], 0.0)
    msg = stamped(Odometry())
    msg.pose.pose.position.x = math.nan
    with pytest.raises(CdrError, match='not finite'):
        sample(KIND_ODOM, msg)


def test_rate_limit_keeps_evenly_spaced_samples_and_commits_only_when_told():
    limiter = RateLimiter({'odom': 5.0})
    stamps = [i * 50000 + (i % 3) * 7000 for i in range(40)]  # 20 Hz with jitter, 2 s
    pending = limiter.begin()
    kept = [t for t in stamps if pending.admit(1, 'odom', t, 50000)]
    assert len(kept) == 10
    assert all(185000 <= b - a <= 215000 for a, b in zip(kept, kept[1:]))
    assert all(limiter.begin().admit(1, 'imu', t) for t in stamps)  # not limited
    # not committed: a retried batch decides the same
    retry = limiter.begin()
    assert [t for t in stamps if retry.admit(1, 'odom', t, 50000)] == kept
    pending.commit()
    assert not any(limiter.begin().admit(1, 'odom', t, 50000) for t in stamps)
    assert limiter.begin().admit(2, 'odom', stamps[0])  # per robot
    # 225 ms steps over a 50 ms source: on average one per 225 ms, never more
    slower = RateLimiter({'odom': 1e6 / 225000}).begin()
    assert [t for t in range(0, 1000001, 50000) if slower.admit(1, 'odom', t, 50000)] == \
        [0, 250000, 450000, 700000, 900000]


def test_period_ignores_loss_gaps_and_follows_skewed_jitter():
    clock = PeriodEstimator()
    t = 0
    for i in range(60):
        t += 50000 * (2 if i % 7 == 0 else 1) + (1000 if i % 2 else -1000)
        clock.observe(t)
    assert 49000 <= clock.period_us <= 51000
    clock.observe(t)  # a repeat teaches nothing
    assert clock.last_us == t
    # a timer that is mostly a little early and sometimes late: 50 ms on average
    skewed = PeriodEstimator()
    t = 0
    for i in range(62):
        t += 62000 if i % 4 == 0 else 46000
        skewed.observe(t)
    assert 49000 <= skewed.period_us <= 51000


def test_coverage_counts_each_sample_once_and_expects_by_period():
    c = Coverage.start(0, None)
    for t in (50000, 100000, 250000, 300000):  # 150000 and 200000 did not arrive
        c = c.add(t, 50000)
    c = c.add(300000, 50000).add(100000, 50000)  # read again: not counted again
    assert (c.received, c.expected) == (5, 7)


def test_settings_travel_to_the_writer_process():
    settings = TelemetrySettings('all', {'odom': 5.0, 'imu': 0.0})
    argv = settings.argv()
    back = TelemetrySettings.from_argv(argv[1], argv[3])
    assert back.record == 'all' and back.max_rate['odom'] == 5.0 and back.max_rate['imu'] == 0
