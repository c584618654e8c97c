"""Telemetry journal records: framing (the robot's serial before the CDR) and parsing.

Odometry, Imu, BatteryState and WheelSpeeds carry no robot serial: the node prefixes
each record with the serial its namespace's RobotStatus gave. The writer then reads
the few values a row stores straight from the CDR bytes (fixed offsets after the two
strings), as decoding.py does for the log messages; test_telemetry_decoding holds the
offsets to rclpy's own serializer.
"""

from __future__ import annotations

import math
import struct
from typing import Callable, Dict, Optional, Tuple

from db_logger.rows import date_time_of_second
from db_logger.telemetry import Sample, STATUS_STREAM

KIND_ODOM, KIND_IMU, KIND_WHEELS, KIND_BATTERY = 4, 5, 6, 7
# the graph's type name -> (journal kind, stream name = topic's last part)
TELEMETRY_TOPIC_TYPES: Dict[str, Tuple[int, str]] = {
    'nav_msgs/msg/Odometry': (KIND_ODOM, 'odom'),
    'sensor_msgs/msg/Imu': (KIND_IMU, 'imu'),
    'robot_interfaces/msg/WheelSpeeds': (KIND_WHEELS, 'wheel_speeds'),
    'sensor_msgs/msg/BatteryState': (KIND_BATTERY, 'battery'),
}
STREAM_OF_KIND = {kind: stream for kind, stream in TELEMETRY_TOPIC_TYPES.values()}

_BYTE_ORDER = {b'\x00\x00': '>', b'\x00\x01': '<'}
_DOUBLES = {(o, n): struct.Struct(f'{o}{n}d').unpack_from for o in '<>' for n in (1, 3, 4, 7)}
_FLOATS = {(o, n): struct.Struct(f'{o}{n}f').unpack_from for o in '<>' for n in (1, 4)}
_UINT32 = {o: struct.Struct(o + 'I').unpack_from for o in '<>'}
_TIME = {o: struct.Struct(o + 'iI').unpack_from for o in '<>'}


class CdrError(ValueError):
    """The bytes are not a message of the expected layout; the text says where."""


def frame(serial: bytes, cdr: bytes) -> bytes:
    """A telemetry record's payload: [serial length][serial][CDR]."""
    return bytes((len(serial),)) + serial + cdr


def unframe(payload: bytes) -> Tuple[str, bytes]:
    """The serial and the bytes after it of a frame() payload (CdrError if cut short)."""
    n = payload[0] if payload else 0
    if len(payload) < 1 + n:
        raise CdrError(f'record of {len(payload)} bytes is too short for its serial')
    try:
        return payload[1:1 + n].decode(), payload[1 + n:]
    except UnicodeDecodeError as exc:
        raise CdrError(f'record serial: not UTF-8 ({exc.reason})') from exc


def sql_time_us(microseconds: int) -> str:
    """UTC 'YYYY-MM-DD hh:mm:ss.ffffff' (DATETIME(6) text) for microseconds since the epoch."""
    seconds, micros = divmod(microseconds, 1000000)
    return f'{date_time_of_second(seconds)}.{micros:06d}'


def _body(payload: bytes, name: str, align: int):
    """(byte order, stamp sec, nanosec, offset of the first field after the header strings)."""
    order = _BYTE_ORDER.get(payload[:2])
    if order is None:
        raise CdrError(f'{name}: representation {payload[:2].hex()!r} is not plain CDR')
    sec, nanosec = _TIME[order](payload, 4)
    (size,) = _UINT32[order](payload, 12)  # header.frame_id
    pos = 16 + size
    if name == 'Odometry':  # child_frame_id
        pos += -pos & 3
        (size,) = _UINT32[order](payload, pos)
        pos += 4 + size
    # alignment counts from the end of the 4-byte encapsulation header
    pos += -(pos - 4) & (align - 1)
    return order, sec, nanosec, pos


def _yaw(qx: float, qy: float, qz: float, qw: float) -> float:
    return math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))


def _odom(payload: bytes):
    order, sec, nanosec, p = _body(payload, 'Odometry', 8)
    x, y, _z, qx, qy, qz, qw = _DOUBLES[(order, 7)](payload, p)
    # pose covariance: 36 doubles; then twist.linear, twist.angular
    vx, vy, _vz = _DOUBLES[(order, 3)](payload, p + 56 + 288)
    (wz,) = _DOUBLES[(order, 1)](payload, p + 56 + 288 + 40)
    return sec, nanosec, (x, y, _yaw(qx, qy, qz, qw), vx, vy, wz)


def _imu(payload: bytes):
    order, sec, nanosec, p = _body(payload, 'Imu', 8)
    q = _DOUBLES[(order, 4)](payload, p)
    gyro = _DOUBLES[(order, 3)](payload, p + 32 + 72)           # after a 3x3 covariance
    accel = _DOUBLES[(order, 3)](payload, p + 32 + 72 + 24 + 72)
    return sec, nanosec, (*q, *gyro, *accel)


def _wheels(payload: bytes):
    order, sec, nanosec, p = _body(payload, 'WheelSpeeds', 4)
    return sec, nanosec, _FLOATS[(order, 4)](payload, p)


def _known(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def _battery(payload: bytes):
    order, sec, nanosec, p = _body(payload, 'BatteryState', 4)
    (voltage,) = _FLOATS[(order, 1)](payload, p)
    (percentage,) = _FLOATS[(order, 1)](payload, p + 24)
    percent = _known(percentage * 100.0)
    if percent is not None and not 0.0 <= percent <= 100.0:
        percent = None
    return sec, nanosec, (percent, _known(voltage))


_PARSERS: Dict[int, Callable] = {KIND_ODOM: _odom, KIND_IMU: _imu, KIND_WHEELS: _wheels,
                                 KIND_BATTERY: _battery}


def parse_sample(kind: int, payload: bytes, received: float) -> Sample:
    """The sample in one telemetry record (CdrError when it is not one).

    An unset (zero) stamp becomes the receive time, as for the log messages.
    """
    serial, cdr = unframe(payload)
    try:
        sec, nanosec, values = _PARSERS[kind](cdr)
    except (struct.error, UnicodeDecodeError) as exc:
        raise CdrError(f'{STREAM_OF_KIND[kind]}: truncated or not UTF-8 ({exc})') from exc
    if kind != KIND_BATTERY and not all(map(math.isfinite, values)):
        # the columns are NOT NULL: such a sample is kept aside (rejected.jsonl), not stored
        raise CdrError(f'{STREAM_OF_KIND[kind]}: a value is not finite {values}')
    stamp_us = sec * 1000000 + nanosec // 1000 if sec or nanosec else int(received * 1e6)
    return Sample(STREAM_OF_KIND[kind], serial, stamp_us, sql_time_us(stamp_us), values)


def status_sample(sec: int, nanosec: int, row, received: float) -> Sample:
    """A RobotStatus (its StatusRow) as a StatusSamples row, stamped to the microsecond."""
    stamp_us = sec * 1000000 + nanosec // 1000 if sec or nanosec else int(received * 1e6)
    return Sample(STATUS_STREAM, row.serial, stamp_us, sql_time_us(stamp_us),
                  (row.status, row.battery_percent, row.ip_address))
