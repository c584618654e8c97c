"""The logger's health as a diagnostic_msgs status (published on /diagnostics)."""

from __future__ import annotations

from typing import Dict

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from db_logger.publisher_losses import PublisherLosses
from db_logger.writer import WriterStats

BACKLOG_WARN = 10000  # journalled messages: above this the logger is catching up


class RateMeter:
    """Rows per second between two readings of a growing counter."""

    def __init__(self) -> None:
        self._last = None

    def update(self, count: int, now: float) -> float:
        last, self._last = self._last, (count, now)
        if last is None or now <= last[1]:
            return 0.0
        return (count - last[0]) / (now - last[1])


def logger_status(name: str, database: str, stats: WriterStats, journal_depth: int,
                  rows_per_second: float) -> DiagnosticStatus:
    if not stats.connected:
        level, message = DiagnosticStatus.ERROR, 'database unreachable; journalling'
    elif journal_depth > BACKLOG_WARN:
        level, message = DiagnosticStatus.WARN, 'catching up on a backlog'
    else:
        level, message = DiagnosticStatus.OK, 'recording'
    values = {
        'database': database,
        'database_connected': str(stats.connected).lower(),
        'journal_depth': str(journal_depth),
        'rows_committed': str(stats.rows_committed),
        'rows_per_second': f'{rows_per_second:.1f}',
        'reconnects': str(stats.reconnects),
        'rows_rejected': str(stats.rows_rejected),
        'last_error': stats.last_error,
    }
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id=database,
                            values=[KeyValue(key=k, value=v) for k, v in values.items()])


LOSS_WARN = 0.05  # a stream that lost more than this share of its samples on the wire


def telemetry_status(name: str, record: str, streams: Dict[str, list],
                     unidentified: int) -> DiagnosticStatus:
    """Per robot and stream since the writer started: received / expected, stored.

    expected comes from the stream's own stamps (telemetry.py): what did not arrive
    shows as the difference, never as completeness.
    """
    values = [KeyValue(key='record', value=record)]
    worst = 0.0
    for key, (received, expected, stored) in streams.items():
        lost = expected - received
        worst = max(worst, lost / expected if expected else 0.0)
        values.append(KeyValue(key=key, value=f'received {received} of {expected} expected '
                                              f'({lost} lost), stored {stored}'))
    if unidentified:
        values.append(KeyValue(key='samples dropped before their robot\'s first status',
                               value=str(unidentified)))
    if record == 'off':
        level, message = DiagnosticStatus.OK, 'telemetry not recorded (telemetry.record: off)'
    elif worst > LOSS_WARN or unidentified:
        level, message = DiagnosticStatus.WARN, f'samples lost on the wire (worst {worst:.1%})'
    else:
        level, message = DiagnosticStatus.OK, f'{len(streams)} streams'
    return DiagnosticStatus(level=level, name=name, message=message, values=values)


def intake_status(name: str, losses: PublisherLosses) -> DiagnosticStatus:
    """Messages lost before receipt since the logger started, per robot and stream."""
    values = [KeyValue(key='lost_before_receipt', value=str(losses.total()))]
    values += [KeyValue(key=f'{namespace}/{stream} lost', value=str(lost))
               for (namespace, stream), lost in sorted(losses.totals.items())]
    if losses.uncounted:
        values.append(KeyValue(key='messages whose losses cannot be counted',
                               value=str(losses.uncounted)))
    if losses.total():
        level = DiagnosticStatus.WARN
        message = f'{losses.total()} messages lost before receipt'
    else:
        level, message = DiagnosticStatus.OK, 'nothing lost before receipt'
    return DiagnosticStatus(level=level, name=name, message=message, values=values)
