"""Sessions and users: the SQL behind /session/start, /session/end and /user/add.

Every refusal is an Outcome with success False and a message naming the problem;
only an unreachable database raises (DatabaseUnavailable).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

import pymysql
from robot_interfaces.srv import AddUser

from db_logger.connection import KeptConnection
from db_logger.rows import COLUMN_CHARS
from db_logger.db_errors import (DatabaseUnavailable, DEADLOCK_ATTEMPTS, describe,
                                 ER_LOCK_DEADLOCK, error_code, is_link_error)

ROLES = (AddUser.Request.ROLE_ADMIN, AddUser.Request.ROLE_STUDENT)


@dataclass(frozen=True)
class Outcome:
    success: bool
    message: str
    session_id: int = 0
    unreported: bool = False  # refused only because the robot has no committed status yet


def _refuse(message: str) -> Outcome:
    return Outcome(False, message)


class SessionStore(KeptConnection):
    """The session and user calls; the connection is reopened on demand, and each call
    is one transaction."""

    def _run(self, work: Callable[[object], Outcome]) -> Outcome:
        """work(cursor) in one transaction: run again if InnoDB chose it as a deadlock's
        victim (the writer locks the same Robots and Sessions rows in another order), and
        on a new connection once if the kept one has gone stale."""
        reopened = deadlocks = 0
        while True:
            try:
                if self._conn is None:
                    self._conn = self._opener(self.config)
            except ConnectionError as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            try:
                with self._conn.cursor() as cur:
                    outcome = work(cur)
                (self._conn.commit if outcome.success else self._conn.rollback)()
                return outcome
            except pymysql.MySQLError as exc:
                if error_code(exc) == ER_LOCK_DEADLOCK and deadlocks < DEADLOCK_ATTEMPTS:
                    deadlocks += 1
                    self._conn.rollback()  # InnoDB rolled it back already: nothing was kept
                    continue
                self.close()
                if not is_link_error(exc):
                    raise
                if reopened:
                    raise DatabaseUnavailable(describe(exc)) from exc
                reopened = 1

    def start(self, user_id: str, robot_serial: str, note: str,
              clock: Callable[[], datetime]) -> Outcome:
        if not user_id:
            return _refuse('user_id is empty')
        if not robot_serial:
            return _refuse('robot_serial is empty')
        if len(note) > COLUMN_CHARS['Sessions.note']:
            return _refuse(f'note is {len(note)} characters; '
                           f"at most {COLUMN_CHARS['Sessions.note']}")

        def work(cur) -> Outcome:
            cur.execute('SELECT 1 FROM Users WHERE user_id = %s', (user_id,))
            if cur.fetchone() is None:
                return _refuse(f"unknown user '{user_id}' (add it with /user/add)")
            cur.execute('SELECT robot_id FROM Robots WHERE serial = %s '
                        'AND status_stamp IS NOT NULL', (robot_serial,))
            robot = cur.fetchone()
            if robot is None:
                return Outcome(False, f"robot '{robot_serial}' has not reported yet",
                               unreported=True)
            cur.execute('SELECT session_id FROM Sessions WHERE robot_id = %s '
                        'AND end_time IS NULL FOR UPDATE', (robot[0],))
            open_session = cur.fetchone()
            if open_session is not None:
                return _refuse(f"robot '{robot_serial}' already in session {open_session[0]}")
            try:
                # the time read last, just before the commit: the writer files a sample
                # stamped after start_time but handled before the commit outside the session
                cur.execute('INSERT INTO Sessions (user_id, robot_id, start_time, note) '
                            'VALUES (%s, %s, %s, %s)', (user_id, robot[0], clock(), note or None))
            except pymysql.err.IntegrityError:
                # another start won the race for this robot (uq_sessions_open_robot)
                return _refuse(f"robot '{robot_serial}' already in a session")
            return Outcome(True, f"session {cur.lastrowid} started: '{user_id}' on "
                                 f"'{robot_serial}'", cur.lastrowid)
        return self._run(work)

    def end(self, session_id: int, robot_serial: str,
            clock: Callable[[], datetime]) -> Outcome:
        if session_id < 0:
            return _refuse(f'session_id {session_id} is negative')
        if session_id == 0 and not robot_serial:
            return _refuse('give session_id, or robot_serial to end that robot\'s open session')

        def work(cur) -> Outcome:
            sid = session_id
            if sid == 0:
                cur.execute('SELECT s.session_id FROM Sessions s JOIN Robots r '
                            'USING (robot_id) WHERE r.serial = %s AND s.end_time IS NULL '
                            'FOR UPDATE', (robot_serial,))
                row = cur.fetchone()
                if row is None:
                    cur.execute('SELECT 1 FROM Robots WHERE serial = %s', (robot_serial,))
                    if cur.fetchone() is None:
                        return _refuse(f"unknown robot '{robot_serial}'")
                    return _refuse(f"robot '{robot_serial}' has no open session")
                sid = row[0]
            cur.execute('SELECT s.end_time, r.serial FROM Sessions s JOIN Robots r '
                        'USING (robot_id) WHERE s.session_id = %s FOR UPDATE', (sid,))
            row = cur.fetchone()
            if row is None:
                return _refuse(f'session {sid} does not exist')
            end_time, serial = row
            if robot_serial and serial != robot_serial:
                return _refuse(f"session {sid} belongs to robot '{serial}', "
                               f"not '{robot_serial}'")
            if end_time is not None:
                return _refuse(f'session {sid} already ended at {end_time:%Y-%m-%d %H:%M:%S} UTC')
            # never before its start, whatever the clocks did
            # the time read last, as for start: a sample stamped after end_time but
            # handled before the commit would be filed in the session
            cur.execute('UPDATE Sessions SET end_time = GREATEST(%s, start_time) '
                        'WHERE session_id = %s', (clock(), sid))
            return Outcome(True, f'session {sid} ended', sid)
        return self._run(work)

    def add_user(self, user_id: str, name: str, role: str) -> Outcome:
        role = role or 'Student'
        for field, value in (('user_id', user_id), ('name', name)):
            chars = COLUMN_CHARS[f'Users.{field}']
            if not 1 <= len(value) <= chars:
                return _refuse(f'{field} must be 1-{chars} characters, got {len(value)}')
        if role not in ROLES:
            return _refuse(f"role '{role}' is not one of {', '.join(ROLES)}")

        def work(cur) -> Outcome:
            cur.execute('INSERT INTO Users (user_id, name, role) VALUES (%s, %s, %s) '
                        'ON DUPLICATE KEY UPDATE name = VALUES(name), role = VALUES(role)',
                        (user_id, name, role))
            verb = 'added' if cur.rowcount == 1 else 'updated'
            return Outcome(True, f"user '{user_id}' {verb} ({role})")
        return self._run(work)


def start_once_reported(start: Callable[[], Outcome], committed: Callable[[], int],
                        wait: float, stopping: threading.Event,
                        poll: float = 0.02) -> Outcome:
    """start(), tried again after each commit of the writer while the robot is unreported.

    A robot's first status may still be on its way (graph discovery, delivery, the
    journal, the writer's batch) when its session is asked for: committed() is the
    journal's acknowledged sequence number, and the refusal comes only after wait s
    without that status.
    """
    deadline = time.monotonic() + wait
    while True:
        seen = committed()
        outcome = start()
        if not outcome.unreported:
            return outcome
        # at least one poll between tries: under steady ingest committed() always moves
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return replace(outcome, message=f'{outcome.message} (waited {wait:g} s for '
                                                'its first status)')
            if stopping.wait(min(poll, remaining)):
                return Outcome(False, 'db_logger is shutting down')
            if committed() != seen:
                break
