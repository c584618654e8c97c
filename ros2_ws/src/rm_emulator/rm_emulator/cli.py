"""`ep_emulator`: run an emulated RoboMaster EP on the robot's address.

    ros2 run rm_emulator ep_emulator --conn-type ap
    ep_emulator --conn-type sta --address 192.168.10.2 --control /tmp/ep.sock

The address must exist on this machine (ap 192.168.2.1 and rndis 192.168.42.2 are
the addresses the SDK hard-codes); nothing binds 0.0.0.0. SIGINT/SIGTERM end it with 0.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from typing import List, Optional

from rm_emulator.robot import EmulatedRobot
from rm_emulator.server import DEFAULT_ADDRESSES, EmulatorServer

DEFAULT_SERIAL = '3JKCK980030E3K'
SERIAL_PATTERN = re.compile(r'^[0-9A-Z]{14}$')     # the SDK checks the length (14)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='ep_emulator', description='An emulated RoboMaster EP speaking the '
        'robomaster SDK wire protocol (handshake, link, sta broadcast, FTP greeting).')
    parser.add_argument('--conn-type', choices=('ap', 'sta', 'rndis'), default='ap')
    parser.add_argument('--address', help='the robot address to bind (default: ap '
                        '192.168.2.1, rndis 192.168.42.2; required for sta)')
    parser.add_argument('--serial', default=DEFAULT_SERIAL,
                        help=f'the robot serial, 14 characters (default {DEFAULT_SERIAL})')
    parser.add_argument('--no-broadcast-serial', action='store_true',
                        help='sta: broadcast without the serial, on the legacy port only')
    parser.add_argument('--control', metavar='PATH',
                        help='UNIX socket for fault switches and state (JSON lines)')
    parser.add_argument('--log-level', default='info',
                        choices=('debug', 'info', 'warning', 'error'))
    args = parser.parse_args(argv)
    if args.address is None:
        if args.conn_type == 'sta':
            parser.error('--address is required with --conn-type sta')
        args.address = DEFAULT_ADDRESSES[args.conn_type]
    if not SERIAL_PATTERN.match(args.serial):
        parser.error(f'--serial {args.serial!r} must be 14 upper-case letters or digits')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format='[ep_emulator] %(levelname)s %(message)s')
    server = EmulatorServer(EmulatedRobot(args.serial), args.conn_type, args.address,
                            broadcast_serial=not args.no_broadcast_serial,
                            control_path=args.control)
    try:
        server.open()
    except OSError as error:
        logging.getLogger('rm_emulator').error('%s', error.strerror or error)
        server.close()
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.stop())
    try:
        server.serve()
    finally:
        server.close()
    logging.getLogger('rm_emulator').info('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
