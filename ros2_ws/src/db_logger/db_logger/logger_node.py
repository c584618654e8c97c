"""The db_logger node: finds robot topics, journals what arrives, serves sessions.

The ROS side stays thin: a raw subscription callback only appends the serialized
message to the journal; the writer process (writer_process.py) decodes and commits;
the session services answer from a thread of their own (session_services.py).
Periodic work (writer check, graph scans, diagnostics) runs on a thread the node owns,
so the node records under any executor that spins it. Not ROS timers: under
`spin()` the EventsExecutor of Jazzy's and Kilted's rclpy fires none; not a guard
condition: that executor refuses them.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from functools import partial
from typing import Deque, Dict, List, Optional, Set, Tuple

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus

from db_logger.decoding import (CdrError, KIND_COMMAND, KIND_EVENT, KIND_STATUS, parse,
                                RECORDED_TOPIC_TYPES)
from db_logger.diagnostics import logger_status, RateMeter, telemetry_status
from db_logger.journal import Journal, JournalError
from db_logger.session_services import SessionServices
from db_logger.sessions import SessionStore
from db_logger.stop_signals import StopSignals
from db_logger.settings import declare, LoggerSettings
from db_logger.telemetry_decoding import frame, TELEMETRY_TOPIC_TYPES
from db_logger.writer_process import WriterProcess

DIAGNOSTICS_PERIOD_S = 1.0
TICK_PERIOD_S = 0.1  # how soon a dead writer is noticed
SPIN_TURN_S = 0.1  # how long a signal may wait for main's loop to see it
MESSAGE_TYPES = {KIND_STATUS: RobotStatus, KIND_COMMAND: CommandResult, KIND_EVENT: RobotEvent}
# Best effort and volatile like the drivers' sensor-data publishers; deeper than their 5
# so that a busy executor turn does not drop samples that have already arrived.
TELEMETRY_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                           reliability=ReliabilityPolicy.BEST_EFFORT,
                           durability=DurabilityPolicy.VOLATILE)
HELD_PER_ROBOT = 1000  # samples of a robot whose serial is not known yet (first status)


class DbLogger(Node):

    def __init__(self, **kwargs) -> None:
        super().__init__('db_logger', **kwargs)
        self.settings: LoggerSettings = declare(self)
        self.journal = Journal(self.settings.journal_dir)
        self._qos = QoSProfile(history=HistoryPolicy.KEEP_LAST,
                               depth=self.settings.history_depth,
                               reliability=ReliabilityPolicy.RELIABLE,
                               durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._recorded: Set[str] = set()
        # namespace -> its robot's serial, learned from its status (samples carry none)
        self._serials: Dict[str, bytes] = {}
        self._held: Dict[str, Deque[Tuple[int, bytes, float]]] = {}
        self.unidentified = 0  # samples dropped because the robot never said its serial
        self._rate = RateMeter()
        self._next_discovery = self._next_diagnostics = time.monotonic()
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
        """Periodic work: writer check, graph scan, diagnostics (each on its own period)."""
        now = time.monotonic()
        code = self.writer.exit_code()
        if code is not None:
            self._fail(self.writer.fatal or f'the writer process exited ({code})')
            return
        if now >= self._next_discovery:
            self._next_discovery = now + self.settings.discovery_period
            self._discover()
        if now >= self._next_diagnostics:
            self._next_diagnostics = now + DIAGNOSTICS_PERIOD_S
            self._publish_diagnostics()

    # -- recording ----------------------------------------------------------------------

    def _discover(self) -> None:
        """Subscribe to every robot topic in the graph not yet recorded.

        A robot is a namespace with a RobotStatus topic: its sensor streams are the
        odom, imu, wheel_speeds and battery topics beside it.
        """
        graph = self.get_topic_names_and_types()
        robots = {topic.rsplit('/', 1)[0] for topic, types in graph
                  if 'robot_interfaces/msg/RobotStatus' in types}
        # A robot's sensor topics by their names, in the scan that finds the robot: not a
        # scan later, when the graph lists them (a move started in between would be
        # missing from the trajectory). DDS matches them whenever they appear.
        listed = {topic for topic, _ in graph}
        graph += [(f'{namespace}/{name}', [msg_type]) for namespace in sorted(robots)
                  for msg_type, (_, name) in TELEMETRY_TOPIC_TYPES.items()
                  if f'{namespace}/{name}' not in listed]
        for topic, types in graph:
            if topic in self._recorded:
                continue
            kinds = [RECORDED_TOPIC_TYPES[t] for t in types if t in RECORDED_TOPIC_TYPES]
            namespace = topic.rsplit('/', 1)[0]
            if kinds:
                msg_type = MESSAGE_TYPES[kinds[0]]
                callback = (partial(self._on_status, namespace) if kinds[0] == KIND_STATUS
                            else partial(self._on_message, kinds[0]))
                self.create_subscription(msg_type, topic, callback, self._qos, raw=True)
            elif self._is_telemetry(topic, types, robots):
                msg_type = _message_class(types[0])
                callback = partial(self._on_sample, TELEMETRY_TOPIC_TYPES[types[0]][0], namespace)
                self.create_subscription(msg_type, topic, callback, TELEMETRY_QOS, raw=True)
            else:
                continue
            self._recorded.add(topic)
            self.get_logger().info(f'recording {topic} ({msg_type.__name__})')

    def _is_telemetry(self, topic: str, types: List[str], robots: Set[str]) -> bool:
        if self.settings.telemetry.record == 'off' or len(types) != 1:
            return False
        namespace, name = topic.rsplit('/', 1)
        known = TELEMETRY_TOPIC_TYPES.get(types[0])
        return known is not None and known[1] == name and namespace in robots

    def _on_message(self, kind: int, data: bytes) -> None:
        self.journal.append(kind, data, time.time())

    def _on_status(self, namespace: str, data: bytes) -> None:
        received = time.time()
        self.journal.append(KIND_STATUS, data, received)
        try:
            serial = parse(data, KIND_STATUS).robot_serial.encode()[:255]
        except CdrError:
            return  # the writer keeps it aside with the reason
        if self._serials.get(namespace) != serial:
            self._serials[namespace] = serial
            for kind, sample, at in self._held.pop(namespace, ()):
                self.journal.append(kind, frame(serial, sample), at)

    def _on_sample(self, kind: int, namespace: str, data: bytes) -> None:
        serial = self._serials.get(namespace)
        if serial is not None:
            self.journal.append(kind, frame(serial, data), time.time())
            return
        held = self._held.setdefault(namespace, deque(maxlen=HELD_PER_ROBOT))
        if len(held) == HELD_PER_ROBOT:
            self.unidentified += 1
        held.append((kind, data, time.time()))

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
                                         self.unidentified)]
        self._diagnostics.publish(array)

    def _fail(self, reason: str) -> None:
        """Without its writer the node records nothing: end whatever spins it."""
        self.failure = reason
        self._stopping.set()
        self.get_logger().error(reason)
        # The services first: entities of a node still alive when its context shuts down
        # stay in the graph until the process ends, and no client may find a dead logger.
        self.sessions.close()
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
        super().destroy_node()
        self.sessions.close()
        self.writer.stop()
        self.journal.close()


def _message_class(type_name: str):
    """The Python class of a 'pkg/msg/Name' type (one of TELEMETRY_TOPIC_TYPES)."""
    package, _, name = type_name.split('/')
    return getattr(__import__(f'{package}.msg', fromlist=[name]), name)


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
    if node is not None and node.failure:
        print(f'db_logger: {node.failure}', file=sys.stderr)
        code = 3
    return code


if __name__ == '__main__':
    sys.exit(main())
