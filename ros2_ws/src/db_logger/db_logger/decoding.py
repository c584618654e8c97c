"""Journal records back into messages, and messages into rows."""

from __future__ import annotations

from typing import Dict, List, Tuple

from rclpy.serialization import deserialize_message
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus

from db_logger.journal import Record
from db_logger.rows import command_row, event_row, status_row, utc_from_epoch
from db_logger.store import Batch

KIND_STATUS, KIND_COMMAND, KIND_EVENT = 1, 2, 3
MESSAGE_TYPES = {KIND_STATUS: RobotStatus, KIND_COMMAND: CommandResult, KIND_EVENT: RobotEvent}
# the topic types the logger records, as the graph names them
RECORDED_TOPIC_TYPES: Dict[str, int] = {
    'robot_interfaces/msg/RobotStatus': KIND_STATUS,
    'robot_interfaces/msg/CommandResult': KIND_COMMAND,
    'robot_interfaces/msg/RobotEvent': KIND_EVENT,
}


def decode_records(records: List[Record]) -> Tuple[Batch, List[str], List[Tuple[Record, str]]]:
    """Rows for records, the warnings their normalisation gave, and what would not decode."""
    batch = Batch()
    warnings: List[str] = []
    undecodable: List[Tuple[Record, str]] = []
    for record in records:
        msg_type = MESSAGE_TYPES.get(record.kind)
        if msg_type is None:
            undecodable.append((record, f'unknown record kind {record.kind}'))
            continue
        try:
            msg = deserialize_message(record.payload, msg_type)
        except Exception as exc:  # noqa: B902 - any decoding failure is kept, not fatal
            undecodable.append((record, f'{msg_type.__name__} does not decode: {exc}'))
            continue
        received = utc_from_epoch(record.received)
        if record.kind == KIND_STATUS:
            row, notes = status_row(msg, received)
            batch.statuses.append(row)
        elif record.kind == KIND_COMMAND:
            row, notes = command_row(msg, received)
            batch.commands.append(row)
        else:
            row, notes = event_row(msg, received)
            batch.events.append(row)
        serial = row.serial
        warnings.extend(f'{note} ({msg_type.__name__} from {serial!r})' for note in notes)
    return batch, warnings, undecodable
