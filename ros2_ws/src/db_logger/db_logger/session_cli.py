"""What the session tools (replay, export) share on the command line.

Exit codes: 0 done, 1 the database or the graph failed, 2 a bad argument (the message
names it, as argparse does for its own checks).
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Callable, List, Optional, Tuple

import pymysql
from rclpy.exceptions import InvalidNamespaceException
from rclpy.validate_namespace import validate_namespace

from db_logger.connection import add_connection_arguments, config_from_arguments, connect
from db_logger.session_samples import SessionReader


class ToolError(Exception):
    """Ends a tool with exit_code and a one-line message."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def number(low: float, low_inclusive: bool) -> Callable[[str], float]:
    """An argparse type: a finite float above low (or at it when low_inclusive)."""
    bound = f'>= {low:g}' if low_inclusive else f'> {low:g}'

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'must be a number {bound}, got {text!r}')
        if not math.isfinite(value) or value < low or (value == low and not low_inclusive):
            raise argparse.ArgumentTypeError(f'must be a finite number {bound}, got {text!r}')
        return value
    return parse


def namespace(text: str) -> str:
    """An argparse type: an absolute ROS namespace, e.g. /replay/ep01."""
    try:
        validate_namespace(text)
    except InvalidNamespaceException as exc:
        reason = str(exc).split('\n')[0]
        raise argparse.ArgumentTypeError(f'{text!r} is not a valid ROS namespace: {reason}')
    return text.rstrip('/') or '/'


def split_ros_args(argv: List[str]) -> Tuple[List[str], List[str]]:
    """(the tool's own arguments, ['--ros-args', ...]) as ros2 run passes them."""
    if '--ros-args' not in argv:
        return list(argv), []
    at = argv.index('--ros-args')
    return list(argv[:at]), list(argv[at:])


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser, os.environ.get('ROBOT_DB_USER', 'robot_user'))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--session', type=int, help='session_id')
    which.add_argument('--latest', action='store_true', help='the newest session')
    parser.add_argument('--namespace', type=namespace, default=None,
                        help='where the topics go; default /replay/<robot serial>, never '
                             "a live robot's namespace")


def open_session(args: argparse.Namespace, page: int = 5000):
    """(connection, SessionReader) for --session/--latest; ToolError on failure."""
    try:
        conn = connect(config_from_arguments(args))
    except (ConnectionError, ValueError) as exc:
        raise ToolError(str(exc)) from None
    try:
        return conn, SessionReader.open(conn, None if args.latest else args.session, page)
    except LookupError as exc:
        conn.close()
        raise ToolError(f'--session: {exc}' if not args.latest else str(exc),
                        2 if not args.latest else 1) from None
    except pymysql.MySQLError as exc:
        conn.close()
        raise ToolError(f'reading the session failed: {exc}') from None


def session_seconds(reader: SessionReader, stamp_ns: Optional[int]) -> float:
    """Seconds from the session's start to stamp_ns (0 when None)."""
    return 0.0 if stamp_ns is None else (stamp_ns - reader.info.start_ns) / 1e9
