"""A recorded session read back from the database: its rows per stream, in stamp order.

Replay, export and the plots all read a session through SessionReader. Each stream is
paged by its (session_id, stamp) index, so a session of hours is never held in memory,
and one connection serves every stream (buffered pages, no open result sets).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class StreamTable:
    """Where one replayed topic's rows are: table, value columns, and a tie-breaker for
    tables whose stamp is not unique within a session (the log tables)."""

    table: str
    columns: Tuple[str, ...]
    tiebreak: Optional[str] = None


# topic name (relative to the robot's namespace) -> its rows; the order breaks stamp ties
STREAMS: Dict[str, StreamTable] = {
    'status': StreamTable('StatusSamples', ('status', 'battery_percent', 'ip_address')),
    'battery': StreamTable('BatterySamples', ('percent', 'voltage')),
    'odom': StreamTable('OdomSamples', ('x', 'y', 'yaw', 'vx', 'vy', 'wz')),
    'imu': StreamTable('ImuSamples', ('qx', 'qy', 'qz', 'qw', 'gx', 'gy', 'gz',
                                      'ax', 'ay', 'az')),
    'wheel_speeds': StreamTable('WheelSamples', ('front_right_rpm', 'front_left_rpm',
                                                 'rear_left_rpm', 'rear_right_rpm')),
    'command_result': StreamTable('CommandLogs', ('msg_uuid', 'command_type', 'payload',
                                                  'result', 'message'), 'command_id'),
    'event': StreamTable('EventLogs', ('msg_uuid', 'event_type', 'message'), 'log_id'),
}
_ORDER = {name: index for index, name in enumerate(STREAMS)}
_TEXT_COLUMNS = {'status', 'ip_address', 'msg_uuid', 'command_type', 'payload', 'result',
                 'message', 'event_type'}


def _select(column: str) -> str:
    """The column as SELECT should read it: a FLOAT as its exact value, since the text
    protocol would print it to 6 significant digits (float32 holds about 7)."""
    return column if column in _TEXT_COLUMNS else f'CAST({column} AS DOUBLE)'


class Row(NamedTuple):
    """One stored message: its topic, stamp (ns since the epoch, UTC) and column values."""

    stream: str
    stamp_ns: int
    values: Tuple


@dataclass(frozen=True)
class SessionInfo:
    session_id: int
    user_id: str
    robot_id: int
    serial: str
    model_type: str
    start_ns: int
    end_ns: Optional[int]  # None while the session is open


def ns_from_datetime(value: datetime) -> int:
    """Naive UTC datetime (as the connection's UTC zone returns it) -> ns since the epoch."""
    return (value - _EPOCH) // _MICROSECOND * 1000


def datetime_from_ns(stamp_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=stamp_ns // 1000)


def session_or_latest(cur, session_id: Optional[int]) -> int:
    """session_id, or the newest session's when None (LookupError if there is none)."""
    if session_id is not None:
        return session_id
    cur.execute('SELECT MAX(session_id) FROM Sessions')
    newest = cur.fetchone()[0]
    if newest is None:
        raise LookupError('there is no session yet')
    return newest


class SessionReader:
    """Reads one session's rows; every method queries afresh (a replay loop re-reads)."""

    def __init__(self, conn, info: SessionInfo, page: int = 5000) -> None:
        self._conn = conn
        self.info = info
        self._page = page

    @staticmethod
    def open(conn, session_id: Optional[int], page: int = 5000) -> 'SessionReader':
        """The session session_id, or the newest when None (LookupError if there is none)."""
        with conn.cursor() as cur:
            session_id = session_or_latest(cur, session_id)
            cur.execute('SELECT s.session_id, s.user_id, s.robot_id, r.serial, r.model_type, '
                        's.start_time, s.end_time FROM Sessions s JOIN Robots r '
                        'USING (robot_id) WHERE s.session_id = %s', (session_id,))
            row = cur.fetchone()
        conn.commit()  # end the read snapshot: a replay loop sees rows committed since
        if row is None:
            raise LookupError(f'session {session_id} does not exist')
        sid, user, robot_id, serial, model_type, start, end = row
        return SessionReader(conn, SessionInfo(
            sid, user, robot_id, serial, model_type, ns_from_datetime(start),
            None if end is None else ns_from_datetime(end)), page)

    def rows(self, stream: str, from_ns: Optional[int] = None) -> Iterator[Row]:
        """One stream's rows with stamp >= from_ns, in stamp order, a page at a time."""
        spec = STREAMS[stream]
        key = ('stamp',) + ((spec.tiebreak,) if spec.tiebreak else ())
        select = (f'SELECT {", ".join(key + tuple(map(_select, spec.columns)))} '
                  f'FROM {spec.table} '
                  'WHERE session_id = %s AND ')
        order = f' ORDER BY {", ".join(key)} LIMIT {int(self._page)}'
        bound = datetime_from_ns(from_ns) if from_ns is not None else _EPOCH
        where, args = 'stamp >= %s', [bound]
        while True:
            with self._conn.cursor() as cur:
                cur.execute(select + where + order, [self.info.session_id] + args)
                page = cur.fetchall()
            self._conn.commit()
            for record in page:
                yield Row(stream, ns_from_datetime(record[0]), tuple(record[len(key):]))
            if len(page) < self._page:
                return
            last = page[-1]
            if spec.tiebreak:
                where = f'(stamp > %s OR (stamp = %s AND {spec.tiebreak} > %s))'
                args = [last[0], last[0], last[1]]
            else:
                where, args = 'stamp > %s', [last[0]]

    def merged(self, streams: Sequence[str] = tuple(STREAMS),
               from_ns: Optional[int] = None) -> Iterator[Row]:
        """Every row of these streams in stamp order (ties in STREAMS order)."""
        return heapq.merge(*(self.rows(s, from_ns) for s in streams),
                           key=lambda row: (row.stamp_ns, _ORDER[row.stream]))

    def all_rows(self, stream: str) -> List[Row]:
        return list(self.rows(stream))

    def counts(self) -> Dict[str, int]:
        counts = {}
        with self._conn.cursor() as cur:
            for name, spec in STREAMS.items():
                cur.execute(f'SELECT COUNT(*) FROM {spec.table} WHERE session_id = %s',
                            (self.info.session_id,))
                counts[name] = cur.fetchone()[0]
        self._conn.commit()
        return counts

    def last_stamp_ns(self) -> Optional[int]:
        """The newest row's stamp over every stream, None when the session has no rows."""
        newest = None
        with self._conn.cursor() as cur:
            for spec in STREAMS.values():
                cur.execute(f'SELECT MAX(stamp) FROM {spec.table} WHERE session_id = %s',
                            (self.info.session_id,))
                value = cur.fetchone()[0]
                if value is not None:
                    stamp = ns_from_datetime(value)
                    newest = stamp if newest is None else max(newest, stamp)
        self._conn.commit()
        return newest
