"""Print a session's rows the way the manual's section 5 shows them (mysql tables), and
what was recorded of its telemetry.

    ros2 run db_logger session_report --latest            # the newest session
    ros2 run db_logger session_report --session 3 [--host ... --password-file ...]
    ros2 run db_logger session_report --latest --plots [DIR]   # and its PNG plots in DIR
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pymysql

from db_logger.connection import add_connection_arguments, config_from_arguments, connect
from db_logger.session_samples import session_or_latest, SessionReader
from db_logger.telemetry_store import StreamCoverage, telemetry_coverage

QUERIES = (
    ('Robots', 'SELECT r.robot_id, r.serial, r.model_type, r.ip_address, r.status, '
               'r.battery_percent, r.last_seen FROM Robots r JOIN Sessions s USING (robot_id) '
               'WHERE s.session_id = %s'),
    ('Sessions', 'SELECT session_id, user_id, robot_id, start_time, end_time, note '
                 'FROM Sessions WHERE session_id = %s'),
    ('CommandLogs', 'SELECT command_id, session_id, command_type, payload, result, message, '
                    'stamp, created_at FROM CommandLogs WHERE session_id = %s ORDER BY stamp'),
    ('EventLogs', 'SELECT log_id, session_id, event_type, message, stamp, created_at '
                  'FROM EventLogs WHERE session_id = %s ORDER BY stamp'),
)


def format_table(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A mysql-client style table; NULL for None, times to the millisecond."""
    def cell(value) -> str:
        if value is None:
            return 'NULL'
        if hasattr(value, 'strftime'):
            return value.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]
        return str(value)
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(values: List[str]) -> str:
        return '| ' + ' | '.join(v.ljust(w) for v, w in zip(values, widths)) + ' |'
    body = [rule, line(list(columns)), rule, *(line(r) for r in cells), rule]
    count = len(rows)
    return '\n'.join(body) + f'\n{count} row{"s" if count != 1 else ""} in set'


def columns_of(cur) -> List[str]:
    return [d[0] for d in cur.description]


def report(conn, session_id: int) -> str:
    with conn.cursor() as cur:
        parts = []
        for table, sql in QUERIES:
            cur.execute(sql, (session_id,))
            rows = cur.fetchall()
            if table == 'Sessions':
                if not rows:
                    raise LookupError(f'session {session_id} does not exist')
                ended = rows[0][columns_of(cur).index('end_time')] is not None
            parts.append(f'mysql> SELECT ... FROM {table} -- session {session_id}\n'
                         + format_table(columns_of(cur), rows))
    parts.append(telemetry_text(session_id, ended, telemetry_coverage(conn, session_id)))
    parts.append(losses_text(session_id, intake_losses(conn, session_id)))
    return '\n\n'.join(parts)


def intake_losses(conn, session_id: int) -> Dict[str, int]:
    """stream -> messages of the session's robot lost before the logger received them."""
    with conn.cursor() as cur:
        cur.execute('SELECT stream, SUM(lost) FROM IntakeLosses WHERE session_id = %s '
                    'GROUP BY stream ORDER BY stream', (session_id,))
        return {stream: int(lost) for stream, lost in cur.fetchall()}


def losses_text(session_id: int, losses: Dict[str, int]) -> str:
    """Counted by the logger from gaps in each publisher's DDS sequence numbers: exact,
    where the telemetry lines above estimate from each stream's rate."""
    title = f'Lost before receipt -- session {session_id} (counted by the logger)'
    if not losses:
        return f'{title}\nnone'
    lines = [f'{stream}: {lost}' for stream, lost in losses.items()]
    return '\n'.join([title, *lines, f'total: {sum(losses.values())}'])


def coverage_line(c: StreamCoverage) -> str:
    """One stream's samples: stored, and what its rate says was sent, never more sure than
    the counts are (expected is an estimate from the stream's own period; missing is what
    it says was sent and the session did not receive)."""
    if c.expected is None:
        if c.stored:
            return (f'{c.stream}: {c.stored} stored; arrivals were not counted, so what is '
                    'missing is unknown')
        return f'{c.stream}: none received, so nothing is known of what was sent'
    missing = c.expected - c.received
    notes = [f'{missing} missing' if missing > 0 else 'none found missing']
    if c.stored < c.received:
        notes.append(f'{c.received} received, {c.received - c.stored} of them not stored '
                     'under telemetry.max_rate')
    return f'{c.stream}: {c.stored} stored of ~{c.expected} expected ({"; ".join(notes)})'


def telemetry_text(session_id: int, ended: bool, coverage: Sequence[StreamCoverage]) -> str:
    basis = ("expected: from each stream's rate over the session" if ended else
             "the session is open: expected from each stream's rate up to its last sample")
    title = f'Telemetry -- session {session_id} ({basis})'
    return '\n'.join([title, *(coverage_line(c) for c in coverage)])


def plots_text(conn, session_id: int, directory: Path) -> str:
    """Write the session's plots; the lines that say where they are."""
    # matplotlib loads in about half a second: only when plots are asked for
    from db_logger.session_plots import SessionSeries, write_plots
    series = SessionSeries.read(SessionReader.open(conn, session_id))
    return '\n'.join(f'plot: {path}' for path in write_plots(series, directory))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='session_report', description=__doc__.split('\n')[0])
    add_connection_arguments(parser, os.environ.get('ROBOT_DB_USER', 'robot_user'))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--session', type=int, help='session_id')
    which.add_argument('--latest', action='store_true', help='the newest session')
    parser.add_argument('--plots', nargs='?', const='.', default=None, metavar='DIR',
                        help='also write session_<N>_trajectory.png and _timeline.png into '
                             'DIR (default: the working directory)')
    args, _ros_args = parser.parse_known_args(argv)
    try:
        conn = connect(config_from_arguments(args))
    except (ConnectionError, ValueError) as exc:
        print(f'session_report: {exc}', file=sys.stderr)
        return 1
    try:
        # resolved once: the rows and the plots are of one session, even if another starts
        with conn.cursor() as cur:
            session_id = session_or_latest(cur, None if args.latest else args.session)
        print(report(conn, session_id))
        if args.plots is not None:
            print(plots_text(conn, session_id, Path(args.plots)))
        return 0
    except (LookupError, pymysql.MySQLError, OSError) as exc:
        print(f'session_report: {exc}', file=sys.stderr)
        return 1
    finally:
        conn.close()


if __name__ == '__main__':
    sys.exit(main())
