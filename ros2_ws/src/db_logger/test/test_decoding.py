"""The writer's CDR parser against the message definitions and rclpy's serializer."""

import math
import struct
import subprocess
import sys

import pytest
from rclpy.serialization import serialize_message
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus

from db_logger.decoding import (CdrError, decode_records, KIND_COMMAND, KIND_EVENT,
                                KIND_STATUS, LAYOUTS, parse)
from db_logger.journal import Record

MESSAGES = {KIND_STATUS: RobotStatus, KIND_COMMAND: CommandResult, KIND_EVENT: RobotEvent}
TEXTS = ['', 'a', 'ab', 'abc', 'abcd', '충돌 🤖', "'; DROP TABLE Robots; --", 'x' * 70000,
         '\\ " %s \t\n']


def test_layouts_follow_the_message_definitions():
    # a field added to a .msg must reach the parser, or this fails
    for kind, msg_type in MESSAGES.items():
        name, fields, float_tail = LAYOUTS[kind]
        declared = msg_type.get_fields_and_field_types()
        assert name == msg_type.__name__
        assert list(declared) == ['header', *fields._fields[2:]]
        assert declared['header'] == 'std_msgs/Header'
        types = [declared[f] for f in fields._fields[2:]]
        assert types == ['string'] * (len(types) - 1) + (['float'] if float_tail else ['string'])


def _filled(kind, i):
    msg = MESSAGES[kind]()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1768197672 + i, 999999999 - i
    msg.header.frame_id = TEXTS[i % len(TEXTS)]
    for j, field in enumerate(LAYOUTS[kind][1]._fields[2:]):
        if field == 'battery_percent':
            msg.battery_percent = [0.0, 55.5, math.inf, -1.0, 100.0][i % 5]
        else:
            setattr(msg, field, TEXTS[(i + j) % len(TEXTS)])
    return msg


@pytest.mark.parametrize('kind', sorted(MESSAGES))
def test_every_field_reads_back_as_rclpy_wrote_it(kind):
    for i in range(3 * len(TEXTS)):  # every text in every field, every alignment
        msg = _filled(kind, i)
        fields = parse(serialize_message(msg), kind)
        assert (fields.sec, fields.nanosec) == (msg.header.stamp.sec, msg.header.stamp.nanosec)
        for field in fields._fields[2:]:
            assert getattr(fields, field) == getattr(msg, field), field


def test_battery_nan_reads_as_nan():
    msg = RobotStatus(robot_serial='SN1', battery_percent=math.nan)
    assert math.isnan(parse(serialize_message(msg), KIND_STATUS).battery_percent)


def test_big_endian_cdr_is_read_too():
    # what a big-endian host would send: same layout, other byte order
    body = struct.pack('>iI', 7, 8)
    for text in ('', 'SN1', 'id', 'Goal', '충돌'):
        data = text.encode() + b'\0'
        body += b'\0' * (-len(body) & 3) + struct.pack('>I', len(data)) + data
    fields = parse(b'\x00\x00\x00\x00' + body, KIND_EVENT)
    assert fields == (7, 8, 'SN1', 'id', 'Goal', '충돌')


def test_broken_bytes_raise_an_error_naming_the_field():
    good = bytes(serialize_message(CommandResult(robot_serial='SN1', command_id='c-1',
                                                 payload_json='{}')))
    with pytest.raises(CdrError, match='not plain CDR'):
        parse(b'\x00\x03' + good[2:], KIND_COMMAND)
    with pytest.raises(CdrError, match='CommandResult: truncated'):
        parse(good[:10], KIND_COMMAND)
    with pytest.raises(CdrError, match='CommandResult.command_type: string of 1 bytes'):
        parse(good[:40], KIND_COMMAND)
    serial_at = good.index(b'SN1')
    with pytest.raises(CdrError, match='CommandResult.robot_serial: not UTF-8'):
        parse(good[:serial_at] + b'\xff' + good[serial_at + 1:], KIND_COMMAND)
    oversized = good[:serial_at - 4] + struct.pack('<I', 10 ** 6) + good[serial_at:]
    with pytest.raises(CdrError, match='CommandResult.robot_serial: string of 1000000 bytes'):
        parse(oversized, KIND_COMMAND)


def test_records_that_do_not_decode_are_handed_back_not_dropped():
    good = bytes(serialize_message(RobotEvent(robot_serial='SN1', event_id='e-1')))
    records = [Record(1, 1768197672.0, KIND_EVENT, good),
               Record(2, 1768197672.0, KIND_EVENT, good[:20]),
               Record(3, 1768197672.0, 9, good)]
    batch, warnings, undecodable = decode_records(records)
    assert [r.msg_uuid for r in batch.events] == ['e-1']
    assert [(r.seq, why.split(':')[0]) for r, why in undecodable] == \
        [(2, 'does not decode'), (3, 'unknown record kind 9')]


def test_the_codec_layer_does_not_load_the_database_driver():
    """journal, decoding (with Batch), rows and telemetry decode without pymysql."""
    probe = ('import sys, db_logger.decoding, db_logger.journal; '
             "print('pymysql' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == 'False'
