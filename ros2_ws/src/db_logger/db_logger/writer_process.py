"""The database writer as a process of its own, and the node's handle on it.

Decoding and SQL cost tens of microseconds of Python per row; in the node's
process they would share the interpreter lock with the subscription callbacks and
slow the intake. The node only appends to the journal; this process reads it,
commits and acknowledges. They share the journal files and a pipe: the child
sends log lines and its counters as JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import signal
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
from db_logger.store import LogStore
from db_logger.writer import BatchWriter, WriterStats

EXIT_SCHEMA_TOO_OLD = 3
_PR_SET_PDEATHSIG = 1
_PROGRESS_PERIOD_S = 0.25
_CONFIG_ENV = 'ROBOT_DB_WRITER_CONFIG'  # host, port, name, user as JSON (no password)


def _end_with_parent(parent_pid: int) -> None:
    """SIGTERM this process when the node dies, even by SIGKILL (Linux).

    Set here, in the child, rather than in a preexec_fn: the node has DDS threads,
    and code between fork and exec must not take their locks.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux
    if os.getppid() != parent_pid:  # the node died before prctl took effect
        sys.exit(0)


class WriterProcess:
    """Starts, watches and stops the writer process for one node."""

    def __init__(self, journal_dir: Path, config: DatabaseConfig, batch_size: int,
                 flush_interval: float, log: Callable[[str, str], None]):
        self.stats = WriterStats()
        self.fatal: Optional[str] = None
        self._log = log
        env = dict(os.environ)
        env[_CONFIG_ENV] = json.dumps({'host': config.host, 'port': config.port,
                                       'name': config.name, 'user': config.user})
        env[PASSWORD_ENV] = config.password
        argv = [sys.executable, '-m', 'db_logger.writer_process',
                '--journal-dir', str(journal_dir), '--batch-size', str(batch_size),
                '--flush-interval', str(flush_interval), '--parent-pid', str(os.getpid())]
        self._popen = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)
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
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._reader.join(2.0)


def wait_acked(journal: Journal, target: int, timeout: float) -> bool:
    """Poll until the journal is acknowledged up to target (at most timeout s)."""
    deadline = time.monotonic() + timeout
    while journal.acked < target:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='db_logger.writer_process')
    parser.add_argument('--journal-dir', type=Path, required=True)
    parser.add_argument('--batch-size', type=int, required=True)
    parser.add_argument('--flush-interval', type=float, required=True)
    parser.add_argument('--parent-pid', type=int, required=True)
    args = parser.parse_args(argv)
    _end_with_parent(args.parent_pid)
    settings = json.loads(os.environ[_CONFIG_ENV])
    config = DatabaseConfig(settings['host'], settings['port'], settings['name'],
                            settings['user'], os.environ[PASSWORD_ENV])
    # one writer per journal: a node restarted after SIGKILL starts a new writer
    # while the old one may still finish its last commit
    writer_lock = open(args.journal_dir / 'writer.lock', 'w')
    fcntl.flock(writer_lock, fcntl.LOCK_EX)
    out = sys.stdout
    lock = threading.Lock()

    def send(report: dict) -> None:
        with lock:
            out.write(json.dumps(report, ensure_ascii=False) + '\n')
            out.flush()

    writer = BatchWriter(Journal(args.journal_dir, appender=False), LogStore(config),
                         decode_records, lambda level, line: send({'log': [level, line]}),
                         batch_size=args.batch_size, flush_interval=args.flush_interval)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: writer.stop(timeout=0))
    writer.start()
    while writer.is_alive():
        writer.join_for(_PROGRESS_PERIOD_S)
        send({'stats': asdict(writer.stats)})
    if writer.fatal:
        send({'fatal': writer.fatal})
        return EXIT_SCHEMA_TOO_OLD
    return 0


if __name__ == '__main__':
    sys.exit(main())
