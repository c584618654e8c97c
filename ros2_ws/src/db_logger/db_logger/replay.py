"""Republish a recorded session from the database onto topics, with its original timing.

    ros2 run db_logger replay --session 3                  # onto /replay/<robot serial>/...
    ros2 run db_logger replay --latest --rate 2.0 --start-offset 5.0 --loop --clock

odom, imu, wheel_speeds, battery, status, command_result and event, merged in stamp order,
with their original header stamps and the driver's QoS. --clock also publishes the
session's time on /clock, for consumers run with use_sim_time.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional

import pymysql
import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rosgraph_msgs.msg import Clock

from db_logger.replay_timing import Player, ReplaySchedule, Stop
from db_logger.session_cli import (add_session_arguments, number, open_session,
                                   session_seconds, split_ros_args, ToolError)
from db_logger.session_messages import (default_namespace, MessageFactory, RECORD_STREAMS,
                                        stamp_msg, stream_qos, TYPES)
from db_logger.session_samples import Row, SessionReader, STREAMS
from db_logger.stop_signals import StopSignals


def parse_arguments(argv: Optional[List[str]]):
    """(arguments, ROS arguments): what follows --ros-args goes to rclpy."""
    own, ros_args = split_ros_args(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog='replay', description=__doc__.split('\n')[0])
    add_session_arguments(parser)
    parser.add_argument('--rate', type=number(0.0, False), default=1.0,
                        help='speed factor: 2.0 plays twice as fast (default 1.0)')
    parser.add_argument('--start-offset', type=number(0.0, True), default=0.0,
                        help="s into the session to start from (default 0: the session's start)")
    parser.add_argument('--loop', action='store_true', help='start again at the end, until Ctrl-C')
    parser.add_argument('--clock', action='store_true',
                        help='publish the session time on /clock (for use_sim_time)')
    parser.add_argument('--clock-rate', type=number(0.0, False), default=40.0,
                        help='Hz of /clock between messages (default 40, as ros2 bag play)')
    parser.add_argument('--wait-subscribers', type=int, default=0, metavar='N',
                        help='first wait until every topic has N subscribers (default 0)')
    parser.add_argument('--delay', type=number(0.0, True), default=1.0,
                        help='then wait this many s before the first message, for subscribers '
                             'to connect (default 1.0)')
    parser.add_argument('--history-depth', type=int, default=1000,
                        help='KEEP_LAST depth of status, event, command_result (the driver\'s)')
    args = parser.parse_args(own)
    for name in ('wait_subscribers', 'history_depth'):
        low = 0 if name == 'wait_subscribers' else 1
        if getattr(args, name) < low:
            parser.error(f'argument --{name.replace("_", "-")}: must be >= {low}, '
                         f'got {getattr(args, name)}')
    return args, ros_args


class ReplayNode(Node):
    """Thin glue: one publisher per stream in the replay namespace, and /clock."""

    def __init__(self, namespace: str, factory: MessageFactory, history_depth: int,
                 clock: bool) -> None:
        super().__init__('replay', namespace=namespace)
        self._messages = factory
        self._stream_pubs = {
            stream: self.create_publisher(TYPES[stream], stream, stream_qos(stream, history_depth))
            for stream in STREAMS}
        # reliable: matches best-effort and reliable /clock subscribers alike
        self._clock_pub = self.create_publisher(
            Clock, '/clock', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        ) if clock else None

    def topic(self, stream: str) -> str:
        return self._stream_pubs[stream].topic_name

    def foreign_publishers(self) -> List[str]:
        """Our topics that something else publishes too (a live robot in this namespace)."""
        return [pub.topic_name for pub in self._stream_pubs.values()
                if self.count_publishers(pub.topic_name) > 1]

    def missing_subscribers(self, wanted: int) -> List[str]:
        return [pub.topic_name for pub in self._stream_pubs.values()
                if pub.get_subscription_count() < wanted]

    def publish_row(self, row: Row) -> None:
        self._stream_pubs[row.stream].publish(self._messages.build(row))

    def publish_clock(self, stamp_ns: int) -> None:
        self._clock_pub.publish(Clock(clock=stamp_msg(stamp_ns)))

    def flush(self, timeout: float) -> bool:
        """Wait until reliable subscribers acknowledged every record."""
        return all(self._stream_pubs[s].wait_for_all_acked(Duration(seconds=timeout))
                   for s in RECORD_STREAMS)


def _wait(stop: Stop, seconds: float) -> bool:
    return not stop.wait(seconds)


def _await_subscribers(node: ReplayNode, wanted: int, stop: Stop) -> bool:
    next_note = time.monotonic() + 5.0
    while node.missing_subscribers(wanted):
        if not _wait(stop, 0.05):
            return False
        if time.monotonic() >= next_note:
            node.get_logger().info(f'waiting for {wanted} subscriber(s) on: '
                                   f'{", ".join(node.missing_subscribers(wanted))}')
            next_note += 5.0
    return True


def replay(args: argparse.Namespace, ros_args: List[str], reader: SessionReader,
           stop: Stop) -> Dict[str, int]:
    info = reader.info
    last = reader.last_stamp_ns()
    if last is None:
        raise ToolError(f'session {info.session_id} has no recorded messages')
    origin = info.start_ns + int(args.start_offset * 1e9)
    if origin > last:
        raise ToolError(f'--start-offset: {args.start_offset:g} s is past the session\'s last '
                        f'message, at {session_seconds(reader, last):.3f} s', 2)
    namespace = args.namespace or default_namespace(info.serial)
    rclpy.init(args=ros_args,
               signal_handler_options=SignalHandlerOptions.NO)
    node = ReplayNode(namespace, MessageFactory(info.serial, info.model_type),
                      args.history_depth, args.clock)
    try:
        # a subscriber we matched may not have matched us yet (a best-effort reader drops
        # what comes before): the delay runs after the subscriber wait
        if args.wait_subscribers and not _await_subscribers(node, args.wait_subscribers, stop):
            return {'published': 0, 'passes': 0}
        if not _wait(stop, args.delay):
            return {'published': 0, 'passes': 0}
        clash = node.foreign_publishers()
        if clash:
            raise ToolError(f'--namespace: {namespace} is in use (other publishers on '
                            f'{", ".join(clash)}); choose another', 2)
        node.get_logger().info(f'replaying session {info.session_id} ({info.serial}) onto '
                               f'{namespace} from {args.start_offset:g} s at x{args.rate:g}')
        player = Player(lambda: reader.merged(from_ns=origin), ReplaySchedule(origin, args.rate),
                        node.publish_row, time.monotonic, stop,
                        clock=node.publish_clock if args.clock else None,
                        clock_period=1.0 / args.clock_rate, loop=args.loop)
        player.run()
        if not node.flush(5.0):
            node.get_logger().warning('a subscriber did not acknowledge every record in 5 s')
        return {'published': player.published, 'passes': player.passes}
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(argv: Optional[List[str]] = None) -> int:
    args, ros_args = parse_arguments(argv)
    stop = StopSignals()
    try:
        conn, reader = open_session(args)
    except ToolError as exc:
        print(f'replay: {exc}', file=sys.stderr)
        return exc.exit_code
    try:
        done = replay(args, ros_args, reader, stop)
        print(f'replay: session {reader.info.session_id}: {done["published"]} messages '
              f'published in {done["passes"]} pass(es)')
        return 0
    except ToolError as exc:
        print(f'replay: {exc}', file=sys.stderr)
        return exc.exit_code
    except pymysql.MySQLError as exc:
        print(f'replay: reading the session failed: {exc}', file=sys.stderr)
        return 1
    finally:
        conn.close()


if __name__ == '__main__':
    sys.exit(main())
