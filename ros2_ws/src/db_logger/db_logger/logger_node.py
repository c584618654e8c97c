"""The db_logger node: finds robot topics, journals what arrives, serves sessions.

The ROS side stays thin, each part on a thread of its own so that none waits on
another: the intake (intake.py) takes what robots publish and appends it to the
journal; the writer process (writer_process.py) decodes and commits; the session
services answer (session_services.py); periodic work (writer and intake checks,
diagnostics) runs on a thread the node owns. So the node records under any executor
that spins it. Not ROS timers: under `spin()` the EventsExecutor of Jazzy's and
Kilted's rclpy fires none; not a guard condition: that executor refuses them.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Optional

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from robot_interfaces.qos import record_qos

from db_logger.diagnostics import intake_status, logger_status, RateMeter, telemetry_status
from db_logger.intake import Intake
from db_logger.journal import Journal, JournalError
from db_logger.session_services import SessionServices
from db_logger.sessions import SessionStore
from db_logger.stop_signals import StopSignals
from db_logger.settings import declare, LoggerSettings
from db_logger.writer_process import WriterProcess

DIAGNOSTICS_PERIOD_S = 1.0
TICK_PERIOD_S = 0.1  # how soon a dead writer is noticed
SPIN_TURN_S = 0.1  # how long a signal may wait for main's loop to see it


class DbLogger(Node):

    def __init__(self, **kwargs) -> None:
        super().__init__('db_logger', **kwargs)
        self.settings: LoggerSettings = declare(self)
        self.journal = Journal(self.settings.journal_dir)
        self._rate = RateMeter()
        self._next_diagnostics = time.monotonic()
        self.failure: Optional[str] = None  # why the node asked its context to shut down
        self.get_logger().info(
            f'db_logger: {self.settings.db.describe()}, journal {self.journal.directory} '
            f'({self.journal.depth()} messages from before), batch {self.settings.batch_size}')
        self.writer = WriterProcess(self.settings.journal_dir, self.settings.db,
                                    self.settings.batch_size, self.settings.flush_interval,
                                    self._log, self.settings.telemetry)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.sessions = SessionServices(
            f'{self.get_name()}_sessions', self.get_namespace(), SessionStore(self.settings.db),
            lambda: self.journal.acked, self.settings.session_start_wait, self._log,
            self.context)
        self.intake = Intake(
            f'{self.get_name()}_intake', self.get_namespace(), self.context, self.journal,
            record_qos(self.settings.history_depth),
            self.settings.telemetry.record != 'off', self.settings.discovery_period, self._log)
        self._stopping = threading.Event()
        self._closing = threading.Lock()
        self._closed = False
        self._periodic = threading.Thread(target=self._run_periodic, name='db_logger_periodic',
                                          daemon=True)
        self._periodic.start()

    def _run_periodic(self) -> None:
        while not self._stopping.wait(TICK_PERIOD_S) and self.context.ok():
            self.tick()

    def tick(self) -> None:
        """Periodic work: writer and intake checks, diagnostics (on its own period)."""
        now = time.monotonic()
        code = self.writer.exit_code()
        if code is not None:
            self._fail(self.writer.fatal or f'the writer process exited ({code})')
            return
        if self.intake.failure:
            self._fail(self.intake.failure)
            return
        if now >= self._next_diagnostics:
            self._next_diagnostics = now + DIAGNOSTICS_PERIOD_S
            self._publish_diagnostics()

    # -- health -----------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        stats = self.writer.stats
        rate = self._rate.update(stats.rows_committed, time.monotonic())
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [logger_status(f'{self.get_name()}: database writer',
                                      self.settings.db.describe(), stats,
                                      self.journal.depth(), rate),
                        telemetry_status(f'{self.get_name()}: telemetry',
                                         self.settings.telemetry.record, stats.telemetry,
                                         self.intake.unidentified),
                        intake_status(f'{self.get_name()}: intake', self.intake.losses)]
        self._diagnostics.publish(array)

    def _fail(self, reason: str) -> None:
        """Without its writer the node records nothing: end whatever spins it."""
        self.failure = reason
        self._stopping.set()
        self.get_logger().error(reason)
        # The services first: entities of a node still alive when its context shuts down
        # stay in the graph until the process ends, and no client may find a dead logger.
        self.sessions.close()
        self.intake.close()
        self.context.try_shutdown()

    def _log(self, level: str, line: str) -> None:
        # one call site per severity: rclpy refuses a severity change at a call site
        if level == 'error':
            self.get_logger().error(line)
        elif level == 'warn':
            self.get_logger().warning(line)
        else:
            self.get_logger().info(line)

    def destroy_node(self) -> None:
        """Periodic work, intake, services, the writer (it finishes its batch), the journal.

        Once only, from whichever thread comes first: Kilted's rclpy destroys a context's
        nodes when it shuts down, and the host may destroy the node again.
        """
        with self._closing:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        if self._periodic is not threading.current_thread():
            self._periodic.join()
        self.intake.close()
        super().destroy_node()
        self.sessions.close()
        self.writer.stop()
        self.journal.close()


def _executor():
    """The fastest executor this rclpy has (EventsExecutor: Jazzy and newer)."""
    try:
        from rclpy.experimental import EventsExecutor
        return EventsExecutor()
    except ImportError:
        return SingleThreadedExecutor()


def main(args=None) -> int:
    # Not rclpy's handlers: they raise KeyboardInterrupt at each SIGINT, and a second
    # one (a process group signalled while launch forwards another) would land in the
    # middle of the shutdown below.
    stop = StopSignals()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = executor = None
    code = 0
    try:
        node = DbLogger()
        executor = _executor()
        executor.add_node(node)
        # not executor.spin(): our signal handlers run only when this thread is back in
        # Python, and the EventsExecutor's spin() deadlocks calls from other threads
        while rclpy.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=SPIN_TURN_S)
    except ExternalShutdownException:
        pass
    except (ValueError, JournalError, ParameterException) as exc:
        # bad parameters or an unusable journal: one clear line, no traceback
        print(f'db_logger: {exc}', file=sys.stderr)
        code = 2
    finally:
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        stop.ignore_from_now_on()
    if node is not None and node.failure:
        print(f'db_logger: {node.failure}', file=sys.stderr)
        code = 3
    return code


if __name__ == '__main__':
    sys.exit(main())
