"""The database writer as a process of its own, and the node's handle on it.

Decoding and SQL cost tens of microseconds of Python per row; in the node's
process they would share the interpreter lock with the subscription callbacks and
slow the intake. The node only appends to the journal; this process reads it,
commits and acknowledges. They share the journal files and two pipes: the child
sends log lines and its counters as JSON lines on stdout, and its stdin tells it
when to stop: end of file there means the node asked or the node is gone (the
kernel closes the node's end however it died, so there is no window in which the
child could miss it, as there is with PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, List, Optional

from db_logger.connection import DatabaseConfig, PASSWORD_ENV
from db_logger.decoding import decode_records
from db_logger.journal import Journal
from db_logger.stop_signals import StopSignals
from db_logger.store import LogStore
from db_logger.telemetry import TelemetrySettings
from db_logger.writer import BatchWriter, WriterStats

EXIT_SCHEMA_TOO_OLD = 3
EXIT_STUCK = 4
STOP_GRACE_S = 5.0  # a batch stuck in the database this long is left to the journal
_PROGRESS_PERIOD_S = 0.25
_CONFIG_ENV = 'ROBOT_DB_WRITER_CONFIG'  # host, port, name, user as JSON (no password)


class WriterProcess:
    """Starts, watches and stops the writer process for one node."""

    def __init__(self, journal_dir: Path, config: DatabaseConfig, batch_size: int,
                 flush_interval: float, log: Callable[[str, str], None],
                 telemetry: TelemetrySettings = TelemetrySettings()):
        self.stats = WriterStats()
        self.fatal: Optional[str] = None
        self._log = log
        env = dict(os.environ)
        env[_CONFIG_ENV] = json.dumps({'host': config.host, 'port': config.port,
                                       'name': config.name, 'user': config.user})
        env[PASSWORD_ENV] = config.password
        argv = [sys.executable, '-m', 'db_logger.writer_process',
                '--journal-dir', str(journal_dir), '--batch-size', str(batch_size),
                '--flush-interval', str(flush_interval), *telemetry.argv()]
        # A session of its own: the SIGINT of a Ctrl-C or a killpg is the node's to
        # handle; the node then stops the writer, after the intake, through stdin.
        self._popen = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, start_new_session=True)
        self._reader = threading.Thread(target=self._read_reports, name='writer_reports',
                                        daemon=True)
        self._reader.start()

    def _read_reports(self) -> None:
        for raw in self._popen.stdout:
            try:
                report = json.loads(raw)
            except ValueError:
                continue
            if 'stats' in report:
                self.stats = WriterStats(**report['stats'])
            if 'log' in report:
                self._log(*report['log'])
            if 'fatal' in report:
                self.fatal = report['fatal']

    def exit_code(self) -> Optional[int]:
        return self._popen.poll()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the writer to finish its batch and exit; kill it after timeout s."""
        try:
            self._popen.stdin.close()
        except OSError:
            pass  # it has exited already
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._log('warn', f'the writer process did not stop within {timeout:g} s; killed '
                              '(its journal is committed at the next start)')
            self._popen.kill()
            self._popen.wait()
        self._reader.join(2.0)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='db_logger.writer_process')
    parser.add_argument('--journal-dir', type=Path, required=True)
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--flush-interval', type=float, required=True)
    parser.add_argument('--telemetry-record', default='session')
    parser.add_argument('--telemetry-max-rate', default='')
    args = parser.parse_args(argv)
    settings = json.loads(os.environ[_CONFIG_ENV])
    config = DatabaseConfig(settings['host'], settings['port'], settings['name'],
                            settings['user'], os.environ[PASSWORD_ENV])
    # one writer per journal: a node restarted after SIGKILL starts a new writer
    # while the old one may still finish its last commit
    writer_lock = open(args.journal_dir / 'writer.lock', 'w')
    fcntl.flock(writer_lock, fcntl.LOCK_EX)
    out = sys.stdout
    lock = threading.Lock()
    stop_requested = threading.Event()

    def send(report: dict) -> None:
        with lock:
            try:
                out.write(json.dumps(report, ensure_ascii=False) + '\n')
                out.flush()
            except (BrokenPipeError, ValueError):
                stop()  # the node is gone: no one is left to report to

    telemetry = TelemetrySettings.from_argv(args.telemetry_record, args.telemetry_max_rate)
    writer = BatchWriter(Journal(args.journal_dir, appender=False),
                         LogStore(config, telemetry=telemetry),
                         decode_records, lambda level, line: send({'log': [level, line]}),
                         batch_size=args.batch_size, flush_interval=args.flush_interval)

    def stop(*_) -> None:
        stop_requested.set()
        writer.stop(timeout=0)  # it finishes the batch in hand first

    def stop_at_end_of_stdin() -> None:
        # the raw descriptor, not sys.stdin: this daemon thread, blocked in a buffered
        # read when a signal ends us, would hold the reader's lock, and Python's exit
        # aborts on that lock
        while os.read(sys.stdin.fileno(), 4096):
            pass
        stop()

    # only someone aiming at this process signals it: stop as when the node asks
    signals = StopSignals()
    threading.Thread(target=stop_at_end_of_stdin, name='stdin', daemon=True).start()
    writer.start()
    stop_by: Optional[float] = None
    while writer.is_alive():
        writer.join_for(_PROGRESS_PERIOD_S)
        if signals.is_set() and not stop_requested.is_set():
            stop()
        send({'stats': asdict(writer.stats)})
        if stop_requested.is_set():
            stop_by = stop_by or time.monotonic() + STOP_GRACE_S
            if time.monotonic() > stop_by:
                # its transaction rolls back with the connection; the journal keeps it
                return EXIT_STUCK
    if writer.fatal:
        send({'fatal': writer.fatal})
        return EXIT_SCHEMA_TOO_OLD
    return 0


if __name__ == '__main__':
    sys.exit(main())
