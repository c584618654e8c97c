"""Bad input becomes a row that fits, with a warning naming the field."""

import json
import math
from datetime import datetime

from rclpy.serialization import serialize_message
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus

from db_logger import decoding, rows
from db_logger.rows import sql_time, utc_from_epoch

RECEIVED = '2026-01-12 06:01:12.500'
KINDS = {RobotStatus: decoding.KIND_STATUS, CommandResult: decoding.KIND_COMMAND,
         RobotEvent: decoding.KIND_EVENT}


# The row functions take a message's fields as the writer reads them from the
# journal: serialized by rclpy, parsed by decoding.parse.
def _through_the_journal(row_function):
    def row(msg, received):
        return row_function(decoding.parse(serialize_message(msg), KINDS[type(msg)]), received)
    return row


status_row = _through_the_journal(rows.status_row)
command_row = _through_the_journal(rows.command_row)
event_row = _through_the_journal(rows.event_row)


def stamped(msg, sec=1768197672, nanosec=123456789):
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    return msg


def test_good_command_is_stored_as_sent():
    msg = stamped(CommandResult(robot_serial='SN1', command_id='c-1', command_type='Move',
                                payload_json='{"x": 1.0}', result='Success', message='ok'))
    row, warnings = command_row(msg, RECEIVED)
    assert warnings == []
    assert (row.msg_uuid, row.serial, row.command_type, row.payload, row.result) == \
        ('c-1', 'SN1', 'Move', '{"x": 1.0}', 'Success')
    assert row.stamp == '2026-01-12 06:01:12.123'  # cut to the millisecond
    assert row.received == RECEIVED


def test_payload_that_is_not_json_is_wrapped_as_raw():
    for text in ('linear=0.5', '{"x": NaN}', '{"x": Infinity}', ''):
        msg = stamped(CommandResult(robot_serial='SN1', command_id='c', payload_json=text))
        row, warnings = command_row(msg, RECEIVED)
        assert json.loads(row.payload) == {'raw': text}
        assert len(warnings) == 1 and warnings[0].startswith('payload_json is not JSON')


def test_strings_longer_than_their_column_are_cut_with_a_warning():
    msg = stamped(CommandResult(robot_serial='S' * 70, command_id='c' * 80,
                                command_type='T' * 60, payload_json='{}', result='R' * 30,
                                message='충' * 30000))
    row, warnings = command_row(msg, RECEIVED)
    assert len(row.serial) == 64 and len(row.msg_uuid) == 64
    assert len(row.command_type) == 50 and len(row.result) == 20
    assert len(row.message.encode()) <= 65535 and row.message == '충' * (65535 // 3)
    fields = sorted(w.split(' ')[0] for w in warnings)
    assert fields == ['command_id', 'command_type', 'message', 'result', 'robot_serial']


def test_battery_nan_is_null_silently_and_out_of_range_with_a_warning():
    row, warnings = status_row(stamped(RobotStatus(robot_serial='SN1', status='Idle',
                                                   battery_percent=math.nan)), RECEIVED)
    assert row.battery_percent is None and warnings == []
    for bad in (math.inf, -math.inf, 120.0, -1.0):
        row, warnings = status_row(stamped(RobotStatus(robot_serial='SN1', status='Idle',
                                                       battery_percent=bad)), RECEIVED)
        assert row.battery_percent is None
        assert warnings and warnings[0].startswith('battery_percent')


def test_unknown_status_is_stored_as_sent_with_a_warning():
    row, warnings = status_row(stamped(RobotStatus(robot_serial='SN1', status='Flying')),
                               RECEIVED)
    assert row.status == 'Flying'
    assert warnings[0].startswith("status 'Flying' is not one of")


def test_unset_stamp_becomes_the_receive_time():
    row, warnings = event_row(RobotEvent(robot_serial='SN1', event_id='e', event_type='Goal'),
                              RECEIVED)
    assert row.stamp == RECEIVED
    assert warnings[0].startswith('header.stamp is zero')


def test_empty_ids_become_a_uuid_derived_from_the_content():
    msg = stamped(RobotEvent(robot_serial='SN1', event_type='Collision', message='hit'))
    first, warnings = event_row(msg, RECEIVED)
    again, _ = event_row(msg, '2026-01-12 07:00:00.000')
    other, _ = event_row(stamped(RobotEvent(robot_serial='SN1', event_type='Collision',
                                            message='hit', ), sec=1768197999), RECEIVED)
    assert len(first.msg_uuid) == 36 and first.msg_uuid == again.msg_uuid
    assert other.msg_uuid != first.msg_uuid
    assert warnings[0].startswith('event_id is empty')


def test_empty_serial_is_stored_as_unknown():
    row, warnings = event_row(stamped(RobotEvent(event_id='e', event_type='Error')), RECEIVED)
    assert row.serial == 'UNKNOWN' and warnings[0].startswith('robot_serial is empty')


def test_sql_metacharacters_korean_and_emoji_pass_unchanged():
    text = "'; DROP TABLE Robots; -- 충돌 🤖 \\ \" %s %(x)s"
    msg = stamped(RobotEvent(robot_serial='SN1', event_id='e', event_type='Collision',
                             message=text))
    row, warnings = event_row(msg, RECEIVED)
    assert row.message == text and warnings == []


def test_utc_from_epoch_keeps_milliseconds():
    assert utc_from_epoch(1768197672.1239) == datetime(2026, 1, 12, 6, 1, 12, 123000)


def test_sql_time_is_utc_text_to_the_millisecond_in_time_order():
    assert sql_time(1768197672123) == '2026-01-12 06:01:12.123'
    assert sql_time(0) == '1970-01-01 00:00:00.000'
    assert sql_time(-1) == '1969-12-31 23:59:59.999'
    times = [1768197671999, 1768197672000, 1768197672001, 1768201272000, 4102444800000]
    assert [sql_time(t) for t in times] == sorted(sql_time(t) for t in times)
    for t in times:  # the same text as the datetime the rest of the package uses
        assert sql_time(t) == utc_from_epoch(t / 1000).isoformat(' ', 'milliseconds')
