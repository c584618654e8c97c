"""SQL for the log tables: one transaction per batch over one kept connection."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pymysql

from db_logger.connection import connect, DatabaseConfig, KeptConnection
from db_logger.db_errors import (DatabaseUnavailable, DEADLOCK_ATTEMPTS, describe,
                                 ER_LOCK_DEADLOCK, error_code, is_data_error, RowRejected)
from db_logger.decoding import Batch
from db_logger.rows import StatusRow
from db_logger.schema import check_schema
from db_logger.telemetry import TelemetrySettings
from db_logger.telemetry_store import SessionOf, TelemetryStore


# A robot's row is inserted once, when its serial is first seen (by status or log), and
# updated after: INSERT ... ON DUPLICATE KEY UPDATE would reserve an AUTO_INCREMENT value
# at every status (InnoDB), leaving gaps in robot_id. ON DUPLICATE KEY here only covers
# another logger inserting the same serial first.
_INSERT_ROBOT = ('INSERT INTO Robots (serial, model_type, status) VALUES (%s, %s, %s) '
                 'ON DUPLICATE KEY UPDATE serial = serial')
# an older status never overwrites a newer one; status_stamp is assigned last because
# MySQL evaluates these assignments left to right
_NEWER = '(status_stamp IS NULL OR %(stamp)s >= status_stamp)'
_UPDATE_STATUS = (
    f'UPDATE Robots SET model_type = IF({_NEWER}, %(model_type)s, model_type), '
    f'ip_address = IF({_NEWER}, %(ip_address)s, ip_address), '
    f'status = IF({_NEWER}, %(status)s, status), '
    f'battery_percent = IF({_NEWER}, %(battery_percent)s, battery_percent), '
    'last_seen = GREATEST(COALESCE(last_seen, %(last_seen)s), %(last_seen)s), '
    'status_stamp = GREATEST(COALESCE(status_stamp, %(stamp)s), %(stamp)s) '
    'WHERE robot_id = %(robot_id)s')

# ON DUPLICATE KEY (not INSERT IGNORE): a message delivered twice is a no-op, while
# every other error (a vanished robot, bad data) still raises instead of vanishing.
_INSERT_COMMAND = (
    'INSERT INTO CommandLogs (msg_uuid, robot_id, session_id, command_type, payload, result, '
    'message, stamp, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) '
    'ON DUPLICATE KEY UPDATE msg_uuid = msg_uuid')
_INSERT_EVENT = (
    'INSERT INTO EventLogs (msg_uuid, robot_id, session_id, event_type, message, stamp, '
    'received_at) VALUES (%s, %s, %s, %s, %s, %s, %s) '
    'ON DUPLICATE KEY UPDATE msg_uuid = msg_uuid')
# the key is the robot, stream and time the gaps showed: a record replayed is a no-op
_INSERT_LOSS = (
    'INSERT INTO IntakeLosses (robot_id, stream, counted_at, session_id, lost) '
    'VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE lost = lost')


class LogStore(KeptConnection):
    """Writes batches of rows; raises DatabaseUnavailable or RowRejected, never half-commits."""

    def __init__(self, config: DatabaseConfig,
                 opener: Callable[[DatabaseConfig], object] = connect,
                 telemetry: TelemetrySettings = TelemetrySettings()):
        super().__init__(config, opener)
        self._robot_ids: Dict[str, int] = {}
        self.telemetry = TelemetryStore(telemetry)

    def open(self) -> None:
        """Connect and check the schema (SchemaTooOld is final, ConnectionError is not)."""
        conn = self._opener(self.config)
        try:
            check_schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._robot_ids.clear()
        self.telemetry.forget()

    def write(self, batch: Batch) -> int:
        """Commit batch in one transaction; return its rows (samples: those stored).

        A batch InnoDB rolled back to break a lock cycle (with a session's start or end,
        which lock the same Robots and Sessions rows in another order) runs again at
        once: nothing of it was kept, and the other side has its locks now.
        """
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return self._write_once(batch)
            except pymysql.MySQLError as exc:
                self._rollback()
                self._robot_ids.clear()  # a robot row may have been deleted under us
                self.telemetry.forget()
                if error_code(exc) == ER_LOCK_DEADLOCK and attempt < DEADLOCK_ATTEMPTS:
                    continue
                if is_data_error(exc):
                    raise RowRejected(describe(exc)) from exc
                self.close()
                raise DatabaseUnavailable(describe(exc)) from exc
        raise AssertionError('unreachable')

    def _write_once(self, batch: Batch) -> int:
        if self._conn is None:
            raise DatabaseUnavailable('not connected')
        with self._conn.cursor() as cur:
            ids = self._robot_ids_for(cur, batch)
            self._update_statuses(cur, batch.statuses, ids)
            sessions, sessions_us = self._sessions_for(cur, batch, ids)
            if batch.commands:
                cur.executemany(_INSERT_COMMAND, [
                    (r.msg_uuid, ids[r.serial], sessions(ids[r.serial], r.stamp),
                     r.command_type, r.payload, r.result, r.message, r.stamp, r.received)
                    for r in batch.commands])
            if batch.events:
                cur.executemany(_INSERT_EVENT, [
                    (r.msg_uuid, ids[r.serial], sessions(ids[r.serial], r.stamp),
                     r.event_type, r.message, r.stamp, r.received)
                    for r in batch.events])
            if batch.losses:
                cur.executemany(_INSERT_LOSS, [
                    (ids[r.serial], r.stream, r.stamp, sessions_us(ids[r.serial], r.stamp),
                     r.lost) for r in batch.losses])
            samples, committed = self.telemetry.write(cur, batch.samples, ids, sessions_us)
        self._conn.commit()
        committed()
        return (len(batch.statuses) + len(batch.commands) + len(batch.events) + samples
                + len(batch.losses))

    def _rollback(self) -> None:
        try:
            self._conn.rollback()
        except pymysql.MySQLError:
            self.close()

    def _robot_ids_for(self, cur, batch: Batch) -> Dict[str, int]:
        """serial -> robot_id for every robot in batch, inserting only serials never seen."""
        missing = [s for s in batch.serials() if s not in self._robot_ids]
        if missing:
            self._robot_ids.update(self._select_robot_ids(cur, missing))
            new = [s for s in missing if s not in self._robot_ids]
            if new:
                # a status in this batch fills the row in; logs alone leave it 'Unknown'
                cur.executemany(_INSERT_ROBOT, [(s, 'Unknown', 'Unknown') for s in new])
                self._robot_ids.update(self._select_robot_ids(cur, new))
        return self._robot_ids

    @staticmethod
    def _select_robot_ids(cur, serials: Sequence[str]) -> List[Tuple[str, int]]:
        cur.execute('SELECT serial, robot_id FROM Robots WHERE serial IN (%s)'
                    % ', '.join(['%s'] * len(serials)), serials)
        return list(cur.fetchall())

    @staticmethod
    def _update_statuses(cur, statuses: Sequence[StatusRow], ids: Dict[str, int]) -> None:
        # only the newest status per robot matters for its row
        newest: Dict[str, StatusRow] = {}
        last_seen: Dict[str, str] = {}
        for row in statuses:
            if row.serial not in newest or row.stamp >= newest[row.serial].stamp:
                newest[row.serial] = row
            last_seen[row.serial] = max(last_seen.get(row.serial, row.received), row.received)
        if newest:
            cur.executemany(_UPDATE_STATUS, [
                {'robot_id': ids[r.serial], 'model_type': r.model_type,
                 'ip_address': r.ip_address, 'status': r.status,
                 'battery_percent': r.battery_percent, 'stamp': r.stamp,
                 'last_seen': last_seen[r.serial]} for r in newest.values()])

    @staticmethod
    def _sessions_for(cur, batch: Batch, ids: Dict[str, int]) -> Tuple[SessionOf, SessionOf]:
        """Lookups (robot_id, stamp) -> the session containing that stamp, or None.

        The first takes the log rows' millisecond stamps, the second the samples'
        microsecond ones: each compares as text against session times of its precision.
        """
        logged = [*batch.commands, *batch.events, *batch.samples, *batch.losses]
        found = []
        if logged:
            robot_ids = sorted({ids[r.serial] for r in logged})
            cur.execute(
                'SELECT robot_id, start_time, end_time, session_id FROM Sessions '
                'WHERE robot_id IN (%s) AND start_time <= %%s '
                'AND (end_time IS NULL OR end_time >= %%s)' % ', '.join(['%s'] * len(robot_ids)),
                (*robot_ids, max(r.stamp for r in logged), min(r.stamp for r in logged)))
            found = cur.fetchall()

        def lookup_in(precision: str) -> SessionOf:
            by_robot: Dict[int, List[Tuple[str, Optional[str], int]]] = {}
            for robot_id, start, end, session_id in found:
                by_robot.setdefault(robot_id, []).append(
                    (_text(start, precision), _text(end, precision) if end else None,
                     session_id))

            def lookup(robot_id: int, stamp: str) -> Optional[int]:
                sessions = by_robot.get(robot_id)
                if not sessions:
                    return None
                matches = [(start, sid) for start, end, sid in sessions
                           if start <= stamp and (end is None or stamp <= end)]
                return max(matches)[1] if matches else None
            return lookup
        return lookup_in('milliseconds'), lookup_in('microseconds')


def _text(value: datetime, precision: str) -> str:
    """A DATETIME read back, as rows hold times (see rows.sql_time and sql_time_us)."""
    return value.isoformat(' ', precision)
