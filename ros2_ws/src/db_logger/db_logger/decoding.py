"""Journal records back into rows.

The journal holds messages as DDS carried them (CDR). The writer reads their fields
straight from those bytes instead of building rclpy message objects: this is its
hottest loop, and the three layouts are flat (a Header, then strings, and one
float32 for RobotStatus), so a parser costs a fraction of deserialize_message
(bench/writer_bench.py prints both). test_decoding holds the layouts to the
message definitions and to rclpy's own serializer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, NamedTuple, Tuple, Type

from db_logger.journal import Record
from db_logger.publisher_losses import LossRow, parse_lost
from db_logger.rows import (command_row, CommandRow, event_row, EventRow, sql_time, status_row,
                            StatusRow)
from db_logger.telemetry import Sample
from db_logger.telemetry_decoding import CdrError, parse_sample, status_sample, STREAM_OF_KIND

KIND_STATUS, KIND_COMMAND, KIND_EVENT = 1, 2, 3
KIND_LOSS = 8  # messages of a stream lost before receipt (publisher_losses.py)
# the topic types the logger records, as the graph names them
RECORDED_TOPIC_TYPES: Dict[str, int] = {
    'robot_interfaces/msg/RobotStatus': KIND_STATUS,
    'robot_interfaces/msg/CommandResult': KIND_COMMAND,
    'robot_interfaces/msg/RobotEvent': KIND_EVENT,
}


@dataclass
class Batch:
    """Rows decoded from one run of journal records."""

    statuses: List[StatusRow] = field(default_factory=list)
    commands: List[CommandRow] = field(default_factory=list)
    events: List[EventRow] = field(default_factory=list)
    samples: List[Sample] = field(default_factory=list)  # telemetry and every status
    losses: List[LossRow] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.statuses) + len(self.commands) + len(self.events) + len(self.samples)
                + len(self.losses))

    def serials(self) -> List[str]:
        rows: Iterable = (*self.statuses, *self.commands, *self.events, *self.samples,
                          *self.losses)
        return sorted({r.serial for r in rows})


class StatusFields(NamedTuple):
    sec: int
    nanosec: int
    robot_serial: str
    model_type: str
    status: str
    ip_address: str
    battery_percent: float


class CommandFields(NamedTuple):
    sec: int
    nanosec: int
    robot_serial: str
    command_id: str
    command_type: str
    payload_json: str
    result: str
    message: str


class EventFields(NamedTuple):
    sec: int
    nanosec: int
    robot_serial: str
    event_id: str
    event_type: str
    message: str


# kind -> (message name, its fields after the header, whether a float32 ends it)
LAYOUTS: Dict[int, Tuple[str, Type[NamedTuple], bool]] = {
    KIND_STATUS: ('RobotStatus', StatusFields, True),
    KIND_COMMAND: ('CommandResult', CommandFields, False),
    KIND_EVENT: ('RobotEvent', EventFields, False),
}


# strings after header.frame_id, per kind
_STRINGS = {kind: len(fields._fields) - (3 if float_tail else 2)
            for kind, (_, fields, float_tail) in LAYOUTS.items()}


# Representation identifiers of plain (XCDR1) CDR: big and little endian.
_BYTE_ORDER = {b'\x00\x00': '>', b'\x00\x01': '<'}
_UINT32 = {order: struct.Struct(order + 'I').unpack_from for order in '<>'}
_TIME = {order: struct.Struct(order + 'iI').unpack_from for order in '<>'}
_FLOAT32 = {order: struct.Struct(order + 'f').unpack_from for order in '<>'}


def parse(payload: bytes, kind: int):
    """The fields of one serialized message of this kind (CdrError if it is not one)."""
    name, fields, float_tail = LAYOUTS[kind]
    order = _BYTE_ORDER.get(payload[:2])
    if order is None:
        raise CdrError(f'{name}: representation {payload[:2].hex()!r} is not plain CDR')
    uint32 = _UINT32[order]
    size_limit = len(payload)
    values: list = []
    try:
        values.extend(_TIME[order](payload, 4))
        # After the 4-byte encapsulation header every 4-byte item is 4-aligned, in
        # absolute offsets too. The first string is header.frame_id, not stored.
        (size,) = uint32(payload, 12)
        pos = 16 + size
        for _ in range(_STRINGS[kind]):
            pos += -pos & 3
            (size,) = uint32(payload, pos)  # bytes, with the terminating NUL
            pos += 4 + size
            if size == 0 or pos > size_limit or payload[pos - 1]:
                raise CdrError(f'{name}.{fields._fields[len(values)]}: string of {size} '
                               'bytes does not fit')
            values.append(payload[pos - size:pos - 1].decode())
        if float_tail:
            pos += -pos & 3
            values.extend(_FLOAT32[order](payload, pos))
    except struct.error as exc:
        raise CdrError(f'{name}: truncated after {len(values)} fields') from exc
    except UnicodeDecodeError as exc:
        raise CdrError(f'{name}.{fields._fields[len(values)]}: not UTF-8 ({exc.reason})'
                       ) from exc
    return fields._make(values)


def decode_records(records: List[Record]) -> Tuple[Batch, List[str], List[Tuple[Record, str]]]:
    """Rows for records, the warnings their normalisation gave, and what would not decode."""
    batch = Batch()
    warnings: List[str] = []
    undecodable: List[Tuple[Record, str]] = []
    for record in records:
        if record.kind in STREAM_OF_KIND:
            try:
                batch.samples.append(parse_sample(record.kind, record.payload, record.received))
            except CdrError as exc:
                undecodable.append((record, f'does not decode: {exc}'))
            continue
        if record.kind == KIND_LOSS:
            try:
                batch.losses.append(parse_lost(record.payload, record.received))
            except ValueError as exc:
                undecodable.append((record, f'does not decode: {exc}'))
            continue
        if record.kind not in LAYOUTS:
            undecodable.append((record, f'unknown record kind {record.kind}'))
            continue
        try:
            fields = parse(record.payload, record.kind)
        except CdrError as exc:
            undecodable.append((record, f'does not decode: {exc}'))
            continue
        received = sql_time(int(record.received * 1000))
        if record.kind == KIND_COMMAND:
            row, notes = command_row(fields, received)
            batch.commands.append(row)
        elif record.kind == KIND_STATUS:
            row, notes = status_row(fields, received)
            batch.statuses.append(row)
            batch.samples.append(status_sample(fields.sec, fields.nanosec, row,
                                               record.received))
        else:
            row, notes = event_row(fields, received)
            batch.events.append(row)
        if notes:
            origin = f' ({LAYOUTS[record.kind][0]} from {row.serial!r})'
            warnings.extend(note + origin for note in notes)
    return batch, warnings, undecodable
