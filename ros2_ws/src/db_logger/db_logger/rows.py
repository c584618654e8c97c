"""From robot messages to table rows: every value made to fit its column.

The messages come as their fields, as decoding.py reads them from the journal. Times
are UTC text, 'YYYY-MM-DD hh:mm:ss.fff', as a DATETIME(3) column takes them (cut, not
rounded, to the millisecond).

Bad input is stored, never dropped, in the normalised forms below; each change
comes back as a warning that names the field:
- strings longer than their column are cut to the column's length;
- payload_json that is not JSON (NaN and Infinity included) becomes {"raw": "<text>"};
- battery_percent NaN (unknown) becomes NULL silently; infinite or outside 0-100, NULL;
- an unset (zero) header stamp becomes the receive time;
- an empty command_id / event_id becomes a UUID derived from the message's content,
  so a message delivered twice still maps to one row;
- an empty robot_serial becomes 'UNKNOWN';
- a status outside RobotStatus's constants is stored as sent.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import datetime, timedelta
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from robot_interfaces.msg import RobotStatus

KNOWN_STATUSES = (RobotStatus.STATUS_ACTIVE, RobotStatus.STATUS_IDLE,
                  RobotStatus.STATUS_CHARGING, RobotStatus.STATUS_DISCONNECTED,
                  RobotStatus.STATUS_ERROR)
TEXT_BYTES = 65535          # MySQL TEXT holds this many bytes
# The width of each VARCHAR column a field is fitted or held to (sql/001_schema.sql;
# test_migrations checks every one against a migrated database).
COLUMN_CHARS = {
    'Robots.serial': 64,
    'Robots.model_type': 20,
    'Robots.ip_address': 45,
    'Robots.status': 20,
    'CommandLogs.msg_uuid': 64,
    'CommandLogs.command_type': 50,
    'CommandLogs.result': 20,
    'EventLogs.msg_uuid': 64,
    'EventLogs.event_type': 50,
    'Sessions.note': 255,
    'Users.user_id': 50,
    'Users.name': 50,
}
# the text columns fitted to TEXT_BYTES
TEXT_COLUMNS = ('CommandLogs.message', 'EventLogs.message')
_NAMESPACE = uuid.UUID('6d3e3d1c-96a0-4d2b-a1e3-6b8f0f0e4c57')  # for derived message ids
_EPOCH = datetime(1970, 1, 1)
_DATE_TIME_OF_SECOND: Dict[int, str] = {}  # the writer's messages share seconds


class StatusRow(NamedTuple):
    serial: str
    model_type: str
    status: str
    ip_address: str
    battery_percent: Optional[float]
    stamp: str
    received: str


class CommandRow(NamedTuple):
    msg_uuid: str
    serial: str
    command_type: str
    payload: str
    result: str
    message: str
    stamp: str
    received: str


class EventRow(NamedTuple):
    msg_uuid: str
    serial: str
    event_type: str
    message: str
    stamp: str
    received: str


Warnings = List[str]


def utc_from_epoch(seconds: float) -> datetime:
    """Naive UTC datetime cut to the millisecond (DATETIME(3) holds no more)."""
    return _EPOCH + timedelta(milliseconds=int(seconds * 1000))


def sql_time(milliseconds: int) -> str:
    """UTC 'YYYY-MM-DD hh:mm:ss.fff' for milliseconds since the epoch.

    Text, not datetime: formatting a datetime is most of what the database driver
    would spend on a row's two times, and such text also sorts in time order.
    """
    seconds, millis = divmod(milliseconds, 1000)
    return f'{date_time_of_second(seconds)}.{millis:03d}'


def date_time_of_second(seconds: int) -> str:
    """UTC 'YYYY-MM-DD hh:mm:ss' of a second since the epoch, cached: the writer's
    messages share seconds."""
    date_time = _DATE_TIME_OF_SECOND.get(seconds)
    if date_time is None:
        if len(_DATE_TIME_OF_SECOND) >= 4096:
            _DATE_TIME_OF_SECOND.clear()
        date_time = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))
        _DATE_TIME_OF_SECOND[seconds] = date_time
    return date_time


def _stamp(sec: int, nanosec: int, received: str, warnings: Warnings) -> str:
    if sec == 0 and nanosec == 0:
        warnings.append('header.stamp is zero (unset); stored the receive time')
        return received
    # integer milliseconds: a float of seconds would blur the last digit
    return sql_time(sec * 1000 + nanosec // 1000000)


def fit(value: str, chars: int, field: str, warnings: Warnings) -> str:
    """Cut value to a VARCHAR(chars) column."""
    if len(value) <= chars:
        return value
    warnings.append(f'{field} is {len(value)} characters, cut to the column\'s {chars}')
    return value[:chars]


def fit_text(value: str, field: str, warnings: Warnings) -> str:
    """Cut value to a TEXT column (bytes, at a character boundary)."""
    if len(value) * 4 <= TEXT_BYTES:  # fits whatever its characters (UTF-8: <= 4 bytes each)
        return value
    data = value.encode('utf-8')
    if len(data) <= TEXT_BYTES:
        return value
    warnings.append(f'{field} is {len(data)} bytes, cut to the column\'s {TEXT_BYTES}')
    return data[:TEXT_BYTES].decode('utf-8', errors='ignore')


def _serial(value: str, warnings: Warnings) -> str:
    if not value:
        warnings.append("robot_serial is empty; stored as 'UNKNOWN'")
        return 'UNKNOWN'
    return fit(value, COLUMN_CHARS['Robots.serial'], 'robot_serial', warnings)


def _msg_uuid(value: str, field: str, table: str, content: Callable[[], str],
              warnings: Warnings) -> str:
    if not value:
        derived = str(uuid.uuid5(_NAMESPACE, content()))
        warnings.append(f'{field} is empty; stored as {derived}, derived from the message')
        return derived
    return fit(value, COLUMN_CHARS[f'{table}.msg_uuid'], field, warnings)


def _reject_constant(name: str):
    raise ValueError(f'{name} is not JSON')


# one decoder for every payload: json.loads with an option builds a new one per call
_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def payload_json(text: str, warnings: Warnings) -> str:
    """text when it is JSON, else {"raw": text}."""
    try:
        _STRICT_JSON.decode(text)
        return text
    except ValueError as exc:
        warnings.append(f'payload_json is not JSON ({str(exc)[:80]}); stored as {{"raw": ...}}')
        return raw_payload(text)


def raw_payload(text: str) -> str:
    return json.dumps({'raw': text}, ensure_ascii=False)


def status_row(msg, received: str) -> Tuple[StatusRow, Warnings]:
    warnings: Warnings = []
    battery: Optional[float] = float(msg.battery_percent)
    if math.isnan(battery):
        battery = None
    elif not 0.0 <= battery <= 100.0:
        warnings.append(f'battery_percent {battery} is outside 0-100; stored as NULL')
        battery = None
    status = fit(msg.status, COLUMN_CHARS['Robots.status'], 'status', warnings)
    if status not in KNOWN_STATUSES:
        warnings.append(f'status {status!r} is not one of {", ".join(KNOWN_STATUSES)}; '
                        'stored as sent')
    row = StatusRow(
        serial=_serial(msg.robot_serial, warnings),
        model_type=fit(msg.model_type, COLUMN_CHARS['Robots.model_type'], 'model_type',
                       warnings),
        status=status,
        ip_address=fit(msg.ip_address, COLUMN_CHARS['Robots.ip_address'], 'ip_address',
                       warnings),
        battery_percent=battery,
        stamp=_stamp(msg.sec, msg.nanosec, received, warnings),
        received=received)
    return row, warnings


def command_row(msg, received: str) -> Tuple[CommandRow, Warnings]:
    warnings: Warnings = []
    stamp = _stamp(msg.sec, msg.nanosec, received, warnings)
    row = CommandRow(
        msg_uuid=_msg_uuid(msg.command_id, 'command_id', 'CommandLogs', lambda: '|'.join((
            msg.robot_serial, stamp, msg.command_type, msg.payload_json,
            msg.result, msg.message)), warnings),
        serial=_serial(msg.robot_serial, warnings),
        command_type=fit(msg.command_type, COLUMN_CHARS['CommandLogs.command_type'],
                         'command_type', warnings),
        payload=payload_json(msg.payload_json, warnings),
        result=fit(msg.result, COLUMN_CHARS['CommandLogs.result'], 'result', warnings),
        message=fit_text(msg.message, 'message', warnings),
        stamp=stamp,
        received=received)
    return row, warnings


def event_row(msg, received: str) -> Tuple[EventRow, Warnings]:
    warnings: Warnings = []
    stamp = _stamp(msg.sec, msg.nanosec, received, warnings)
    row = EventRow(
        msg_uuid=_msg_uuid(msg.event_id, 'event_id', 'EventLogs', lambda: '|'.join((
            msg.robot_serial, stamp, msg.event_type, msg.message)), warnings),
        serial=_serial(msg.robot_serial, warnings),
        event_type=fit(msg.event_type, COLUMN_CHARS['EventLogs.event_type'], 'event_type',
                       warnings),
        message=fit_text(msg.message, 'message', warnings),
        stamp=stamp,
        received=received)
    return row, warnings
