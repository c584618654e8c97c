"""/session/start, /session/end and /user/add, served on a node and thread of their own.

A StartSession may wait seconds for a robot's first status (start_once_reported).
On the recording node's executor that wait would hold back the very subscription
callbacks that bring the status in (rclpy's EventsExecutor of Jazzy runs no async
service callbacks, Kilted's busy-polls them); here it holds only this thread, and
the services' SQL never stalls the intake either.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from robot_interfaces.srv import AddUser, EndSession, StartSession

from db_logger.rows import utc_from_epoch
from db_logger.sessions import Outcome, SessionStore, start_once_reported
from db_logger.db_errors import DatabaseUnavailable

STOP_TIMEOUT_S = 5.0


class SessionServices:

    def __init__(self, name: str, namespace: str, store: SessionStore,
                 committed: Callable[[], int], start_wait: float,
                 log: Callable[[str, str], None], context: Optional[Context] = None):
        self.store = store
        self._committed = committed
        self._start_wait = start_wait
        self._log = log
        self._stopping = threading.Event()
        # no global arguments: the `-r __node:=db_logger` of a launch file would rename
        # this node too; the service names are absolute anyway
        self.node = Node(name, namespace=namespace, context=context,
                         use_global_arguments=False)
        self.node.create_service(StartSession, '/session/start', self._start_session)
        self.node.create_service(EndSession, '/session/end', self._end_session)
        self.node.create_service(AddUser, '/user/add', self._add_user)
        self._executor = SingleThreadedExecutor(context=self.node.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name='session_services',
                                        daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except ExternalShutdownException:
            pass

    def close(self) -> None:
        """Cut a waiting StartSession short, stop the thread, close the connection. Once:
        a later call does nothing."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._executor.shutdown(timeout_sec=STOP_TIMEOUT_S)
        self._thread.join(STOP_TIMEOUT_S)
        if not self._thread.is_alive():  # else a call hangs in the database: leave it be
            self.node.destroy_node()
            self.store.close()

    def _now(self):
        return utc_from_epoch(self.node.get_clock().now().nanoseconds * 1e-9)

    def _answer(self, what: str, call: Callable[[], Outcome]) -> Outcome:
        try:
            outcome = call()
        except DatabaseUnavailable as exc:
            outcome = Outcome(False, f'database unavailable: {exc}')
        except Exception as exc:  # noqa: B902 - a service answers, it never crashes the node
            outcome = Outcome(False, f'{what} failed: {exc}')
        self._log('info' if outcome.success else 'warn', f'{what}: {outcome.message}')
        return outcome

    def _start_session(self, request, response):
        outcome = self._answer('/session/start', lambda: start_once_reported(
            lambda: self.store.start(request.user_id, request.robot_serial, request.note,
                                     self._now),
            self._committed, self._start_wait, self._stopping))
        response.success, response.session_id, response.message = (
            outcome.success, outcome.session_id, outcome.message)
        return response

    def _end_session(self, request, response):
        outcome = self._answer('/session/end', lambda: self.store.end(
            request.session_id, request.robot_serial, self._now))
        response.success, response.session_id, response.message = (
            outcome.success, outcome.session_id, outcome.message)
        return response

    def _add_user(self, request, response):
        outcome = self._answer('/user/add', lambda: self.store.add_user(
            request.user_id, request.name, request.role))
        response.success, response.message = outcome.success, outcome.message
        return response
