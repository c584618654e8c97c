"""The topics' QoS contract as robot_interfaces.qos states it (that every node keeps it
is tests/test_qos_contract.py)."""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data,
                       ReliabilityPolicy)

from robot_interfaces.qos import RECORD_HISTORY_DEPTH, record_qos, telemetry_qos


def test_records_are_reliable_transient_local_keep_last_1000():
    qos = record_qos()
    assert (qos.reliability, qos.durability, qos.history, qos.depth) == (
        ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL, HistoryPolicy.KEEP_LAST,
        1000)
    assert RECORD_HISTORY_DEPTH == 1000
    assert record_qos(7).depth == 7


def test_telemetry_is_best_effort_volatile_keep_last_as_sensor_data():
    qos = telemetry_qos()
    assert (qos.reliability, qos.durability, qos.history, qos.depth) == (
        ReliabilityPolicy.BEST_EFFORT, DurabilityPolicy.VOLATILE, HistoryPolicy.KEEP_LAST, 5)
    assert qos == qos_profile_sensor_data
    assert telemetry_qos(50).depth == 50
