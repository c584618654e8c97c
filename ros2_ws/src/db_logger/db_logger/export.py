"""Write a recorded session to an MCAP file (ROS 2 CDR, message schemas included).

    ros2 run db_logger export --session 3 session3.mcap   # or --latest
    ros2 bag play session3.mcap                          # topics under /replay/<serial>

Foxglove opens the file as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

import pymysql

from db_logger.mcap_export import export_session
from db_logger.session_cli import add_session_arguments, open_session, split_ros_args, ToolError
from db_logger.session_messages import default_namespace


def parse_arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='export', description=__doc__.split('\n')[0])
    add_session_arguments(parser)
    parser.add_argument('output', type=Path, help='the .mcap file to write')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output')
    own, _ros_args = split_ros_args(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(own)
    if args.output.suffix != '.mcap':
        parser.error(f'argument output: {str(args.output)!r} must end in .mcap '
                     '(ros2 bag play chooses the reader by it)')
    if args.output.exists() and not args.force:
        parser.error(f'argument output: {str(args.output)!r} exists (--force overwrites it)')
    if not args.output.resolve().parent.is_dir():
        parser.error(f'argument output: directory {str(args.output.parent)!r} does not exist')
    return args


def write(args: argparse.Namespace, reader) -> dict:
    """Write beside the output, then rename: a failed export leaves no partial file."""
    namespace = args.namespace or default_namespace(reader.info.serial)
    partial = args.output.with_name(args.output.name + '.partial')
    try:
        with open(partial, 'wb') as out:
            counts = export_session(reader, namespace, out)
        os.replace(partial, args.output)
    finally:
        partial.unlink(missing_ok=True)
    return {'namespace': namespace, 'counts': counts}


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_arguments(argv)
    try:
        conn, reader = open_session(args)
    except ToolError as exc:
        print(f'export: {exc}', file=sys.stderr)
        return exc.exit_code
    try:
        done = write(args, reader)
    except (pymysql.MySQLError, OSError) as exc:
        print(f'export: writing {args.output} failed: {exc}', file=sys.stderr)
        return 1
    finally:
        conn.close()
    counts = done['counts']
    print(f'export: session {reader.info.session_id} -> {args.output} '
          f'({sum(counts.values())} messages under {done["namespace"]}: '
          + ', '.join(f'{stream} {n}' for stream, n in counts.items()) + ')')
    return 0


if __name__ == '__main__':
    sys.exit(main())
