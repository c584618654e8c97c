"""Messages lost before the logger received them, counted per publisher.

DDS numbers every sample a writer sends, 1, 2, 3, ... (the message info's
publication_sequence_number) and delivers one writer's samples in order. Whatever the
KEEP_LAST histories dropped on the way (the driver's writer history before the logger
acknowledged it, the logger's reader history before the intake took it, the wire for
best-effort streams) shows as a gap in those numbers, which no DDS event reports.

A publisher is known by its gid where rclpy gives one (Kilted), else by its topic
(Jazzy's rclpy gives none): one publisher per topic, as a driver per robot namespace
has. A lower number than the last is then a new publisher (a restarted driver).
Counted from the first sample of each publisher the logger receives: what a
publisher sent before the logger matched it and no longer holds is not counted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, Hashable, List, NamedTuple, Optional, Tuple

from db_logger.telemetry_decoding import frame, sql_time_us, unframe

_COUNT = struct.Struct('<I')


class Lost(NamedTuple):
    """Messages of one stream of one robot lost since the last report."""

    namespace: str
    stream: str      # the topic's last name: status, command_result, event, odom, ...
    lost: int
    first_at: float  # wall time the first of these gaps showed (files it into a session)


@dataclass
class PublisherLosses:
    """Sequence-gap counting per publisher; totals per (namespace, stream)."""

    # publisher (gid or topic) -> the last sequence number received from it
    _last: Dict[Hashable, int] = field(default_factory=dict)
    # (namespace, stream) -> [lost not yet reported, wall time of the first such gap]
    _pending: Dict[Tuple[str, str], list] = field(default_factory=dict)
    totals: Dict[Tuple[str, str], int] = field(default_factory=dict)  # since start
    uncounted: int = 0  # samples of no known publisher or without a sequence number

    def observe(self, namespace: str, stream: str, publisher: Optional[Hashable],
                number: Optional[int], now: float) -> None:
        """One sample taken from DDS with its publisher and sequence number."""
        if publisher is None or not number:
            self.uncounted += 1
            return
        last = self._last.get(publisher)
        self._last[publisher] = number
        if last is None or number <= last + 1:
            return  # the first, the next, or a new publisher's first
        gap = number - last - 1
        key = (namespace, stream)
        self.totals[key] = self.totals.get(key, 0) + gap
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = [gap, now]
        else:
            pending[0] += gap

    def last(self, publisher: Hashable) -> Optional[int]:
        """The last sequence number received from publisher (None: none yet)."""
        return self._last.get(publisher)

    def forget(self, publisher: Hashable) -> None:
        """Start publisher's count again at its next sample."""
        self._last.pop(publisher, None)

    def take(self) -> List[Lost]:
        """What was lost since the last call, per stream (then cleared)."""
        taken = [Lost(ns, stream, lost, at) for (ns, stream), (lost, at) in
                 sorted(self._pending.items())]
        self._pending.clear()
        return taken

    def total(self) -> int:
        return sum(self.totals.values())


class LossRow(NamedTuple):
    """An IntakeLosses row before its robot_id and session are known."""

    serial: str
    stream: str
    stamp: str  # DATETIME(6) text: when the first of these gaps showed
    lost: int


def encode_lost(serial: bytes, stream: str, lost: int) -> bytes:
    """A journal record's payload for one Lost of the robot with this serial."""
    return frame(serial, _COUNT.pack(lost) + stream.encode())


def parse_lost(payload: bytes, received: float) -> LossRow:
    """The row of an encode_lost payload journalled at received; ValueError if not one."""
    serial, body = unframe(payload)
    if len(body) <= _COUNT.size:
        raise ValueError(f'loss record of {len(payload)} bytes is too short')
    (lost,) = _COUNT.unpack_from(body)
    return LossRow(serial, body[_COUNT.size:].decode(), sql_time_us(int(received * 1e6)), lost)
