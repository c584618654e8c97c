"""What the db_logger records, taken from DDS on a node and thread of its own.

The intake finds robot topics in the graph, takes their messages serialized (raw),
and appends them to the journal: nothing else, so no executor turn, service call or
database stall holds it up. It takes with a wait set of its own rather than through
an executor for two reasons:
- each message comes with its publisher's gid and sequence number, which count what
  was lost before receipt (publisher_losses.py). rclpy's EventsExecutor of Jazzy and
  Kilted fails on subscription callbacks that ask for that message info;
- a wake takes everything waiting, so the intake costs less per message than any
  executor's callback dispatch (bench/README.md).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import ExitStack
from typing import Callable, Deque, Dict, List, NamedTuple, Optional, Set, Tuple

from rclpy.context import Context
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription
from robot_interfaces.qos import telemetry_qos

from db_logger.decoding import (CdrError, KIND_COMMAND, KIND_EVENT, KIND_LOSS, KIND_STATUS,
                                parse, RECORDED_TOPIC_TYPES)
from db_logger.journal import Journal
from db_logger.publisher_losses import encode_lost, PublisherLosses
from db_logger.session_messages import TYPES
from db_logger.telemetry_decoding import frame, TELEMETRY_TOPIC_TYPES

WAIT_S = 0.05  # how soon a new subscription or a stop is noticed when nothing arrives
TAKE_PER_WAKE = 100  # per topic and wake: one busy topic does not starve the others
LOSS_REPORT_S = 1.0  # at most one loss row per robot and stream per this period
STOP_TIMEOUT_S = 5.0
HELD_PER_ROBOT = 1000  # samples of a robot whose serial is not known yet (first status)
STREAM_OF_RECORD_KIND = {KIND_STATUS: 'status', KIND_COMMAND: 'command_result',
                         KIND_EVENT: 'event'}
# the drivers' sensor-data QoS, deeper than their 5: a busy moment drops nothing arrived
TELEMETRY_QOS = telemetry_qos(50)

Log = Callable[[str, str], None]


class _Reader(NamedTuple):
    subscription: Subscription
    topic: str
    namespace: str
    stream: str
    accept: Callable[[bytes, float], None]  # (serialized message, wall time received)


class Intake:
    """Subscribes to every robot's topics and journals what arrives, counting losses."""

    def __init__(self, name: str, namespace: str, context: Optional[Context], journal: Journal,
                 record_qos: QoSProfile, record_telemetry: bool, discovery_period: float,
                 log: Log) -> None:
        self.journal = journal
        self.losses = PublisherLosses()
        self.unidentified = 0  # samples dropped because the robot never said its serial
        self.failure: Optional[str] = None  # why the intake stopped on its own
        self._record_qos = record_qos
        self._record_telemetry = record_telemetry
        self._discovery_period = discovery_period
        self._log = log
        # no global arguments: a launch file's `-r __node:=...` would rename this node too
        self.node = Node(name, namespace=namespace, context=context, use_global_arguments=False)
        self._readers: Dict[int, _Reader] = {}  # by subscription handle pointer
        self._recorded: Set[str] = set()
        # namespace -> its robot's serial, learned from its status (samples carry none)
        self._serials: Dict[str, bytes] = {}
        self._held: Dict[str, Deque[Tuple[int, bytes, float]]] = {}
        self._unfiled: Dict[Tuple[str, str], list] = {}  # losses of robots not identified
        # where rclpy gives no gid: topics with more than one publisher (not counted)
        self._shared: Set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name='db_logger_intake', daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop taking and leave the graph. Once: a later call does nothing."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._thread.join(STOP_TIMEOUT_S)
        if not self._thread.is_alive():
            self.node.destroy_node()

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_scan = next_report = time.monotonic()
        held = ExitStack()
        wait_set = None
        try:
            while not self._stopping.is_set() and self.node.context.ok():
                now = time.monotonic()
                if now >= next_scan:
                    next_scan = now + self._discovery_period
                    if self._discover():
                        held.close()
                        wait_set = None
                    self._unshare()
                if now >= next_report:
                    next_report = now + LOSS_REPORT_S
                    self._report_losses()
                if not self._readers:
                    self._stopping.wait(WAIT_S)
                    continue
                if wait_set is None:
                    held, wait_set = self._hold()
                self._take(wait_set)
            self._report_losses()
        except Exception as exc:  # noqa: B902 - the node learns of it and stops recording
            if not self._stopping.is_set() and self.node.context.ok():
                self.failure = f'the intake stopped: {type(exc).__name__}: {exc}'
        finally:
            held.close()

    def _hold(self):
        """A wait set for every reader, their handles held: a context shutting down on
        another thread destroys them only once this thread lets go."""
        held = ExitStack()
        held.enter_context(self.node.context.handle)
        for reader in self._readers.values():
            held.enter_context(reader.subscription.handle)
        return held, _rclpy.WaitSet(len(self._readers), 0, 0, 0, 0, 0,
                                    self.node.context.handle)

    def _take(self, wait_set) -> None:
        """Wait up to WAIT_S for messages, then take what every ready topic holds."""
        wait_set.clear_entities()
        for reader in self._readers.values():
            wait_set.add_subscription(reader.subscription.handle)
        wait_set.wait(int(WAIT_S * 1e9))
        for pointer in wait_set.get_ready_entities('subscription'):
            reader = self._readers[pointer]
            take = reader.subscription.handle.take_message
            msg_type = reader.subscription.msg_type
            for _ in range(TAKE_PER_WAKE):
                taken = take(msg_type, True)
                if taken is None:
                    break
                data, info = taken
                received = time.time()
                number = info.get('publication_sequence_number')
                self.losses.observe(reader.namespace, reader.stream,
                                    self._publisher(reader.topic, info, number), number,
                                    received)
                reader.accept(data, received)

    def _publisher(self, topic: str, info: dict, number: Optional[int]):
        """Who sent a message: its gid; where rclpy gives none (Jazzy), its topic while the
        topic has one publisher; None when not known (its losses are not counted)."""
        gid = info.get('publisher_gid')
        if gid:
            return gid['data']
        if topic in self._shared:
            return None
        last = self.losses.last(topic)
        # a number that goes back: a restarted publisher, or a second one beside it
        if (last is not None and number is not None and number <= last
                and self.node.count_publishers(topic) > 1):
            self._shared.add(topic)
            return None
        return topic

    def _unshare(self) -> None:
        """Count a topic again once it has one publisher, from that one's next number."""
        for topic in [t for t in self._shared if self.node.count_publishers(t) <= 1]:
            self._shared.discard(topic)
            self.losses.forget(topic)

    # -- what to record ---------------------------------------------------------------

    def _discover(self) -> bool:
        """Subscribe to every robot topic in the graph not yet recorded; True if any.

        A robot is a namespace with a RobotStatus topic: its sensor streams are the
        odom, imu, wheel_speeds and battery topics beside it.
        """
        graph = self.node.get_topic_names_and_types()
        robots = {topic.rsplit('/', 1)[0] for topic, types in graph
                  if 'robot_interfaces/msg/RobotStatus' in types}
        # A robot's sensor topics by their names, in the scan that finds the robot: not a
        # scan later, when the graph lists them (a move started in between would be
        # missing from the trajectory). DDS matches them whenever they appear.
        listed = {topic for topic, _ in graph}
        graph += [(f'{namespace}/{name}', [msg_type]) for namespace in sorted(robots)
                  for msg_type, (_, name) in TELEMETRY_TOPIC_TYPES.items()
                  if f'{namespace}/{name}' not in listed]
        added = False
        for topic, types in graph:
            if topic in self._recorded:
                continue
            kinds = [RECORDED_TOPIC_TYPES[t] for t in types if t in RECORDED_TOPIC_TYPES]
            namespace = topic.rsplit('/', 1)[0]
            if kinds:
                kind = kinds[0]
                stream, qos = STREAM_OF_RECORD_KIND[kind], self._record_qos
                accept = (self._status_of(namespace) if kind == KIND_STATUS
                          else self._message_of(kind))
            elif self._is_telemetry(topic, types, robots):
                kind, stream = TELEMETRY_TOPIC_TYPES[types[0]]
                qos = TELEMETRY_QOS
                accept = self._sample_of(kind, namespace)
            else:
                continue
            msg_type = TYPES[stream]
            # no callback: this thread takes (_take); no executor spins this node
            subscription = self.node.create_subscription(msg_type, topic, _never, qos,
                                                         raw=True)
            self._readers[subscription.handle.pointer] = _Reader(
                subscription, topic, namespace, stream, accept)
            self._recorded.add(topic)
            added = True
            self._log('info', f'recording {topic} ({msg_type.__name__})')
        return added

    def _is_telemetry(self, topic: str, types: List[str], robots: Set[str]) -> bool:
        if not self._record_telemetry or len(types) != 1:
            return False
        namespace, name = topic.rsplit('/', 1)
        known = TELEMETRY_TOPIC_TYPES.get(types[0])
        return known is not None and known[1] == name and namespace in robots

    def _message_of(self, kind: int) -> Callable[[bytes, float], None]:
        def accept(data: bytes, received: float) -> None:
            self.journal.append(kind, data, received)
        return accept

    def _status_of(self, namespace: str) -> Callable[[bytes, float], None]:
        def accept(data: bytes, received: float) -> None:
            self.journal.append(KIND_STATUS, data, received)
            try:
                serial = parse(data, KIND_STATUS).robot_serial.encode()[:255]
            except CdrError:
                return  # the writer keeps it aside with the reason
            if self._serials.get(namespace) != serial:
                self._serials[namespace] = serial
                for kind, sample, at in self._held.pop(namespace, ()):
                    self.journal.append(kind, frame(serial, sample), at)
        return accept

    def _sample_of(self, kind: int, namespace: str) -> Callable[[bytes, float], None]:
        def accept(data: bytes, received: float) -> None:
            serial = self._serials.get(namespace)
            if serial is not None:
                self.journal.append(kind, frame(serial, data), received)
                return
            held = self._held.setdefault(namespace, deque(maxlen=HELD_PER_ROBOT))
            if len(held) == HELD_PER_ROBOT:
                self.unidentified += 1
            held.append((kind, data, received))
        return accept

    def _report_losses(self) -> None:
        """Journal what was lost since the last report, per robot and stream."""
        for lost in self.losses.take():
            key = (lost.namespace, lost.stream)
            unfiled = self._unfiled.setdefault(key, [0, lost.first_at])
            unfiled[0] += lost.lost
        for (namespace, stream), (count, first_at) in list(self._unfiled.items()):
            serial = self._serials.get(namespace)
            if serial is None:
                continue  # filed once the robot's status says its serial
            self.journal.append(KIND_LOSS, encode_lost(serial, stream, count), first_at)
            del self._unfiled[(namespace, stream)]


def _never(_message) -> None:
    raise AssertionError('the intake takes its messages itself; no executor spins it')
