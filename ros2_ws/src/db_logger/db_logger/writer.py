"""The writer: journal records -> rows -> one transaction per batch -> ack.

It runs away from the executor (in the db_logger's writer process, see
writer_process.py) so a burst of messages or a slow database never stalls the
subscription callbacks. While the database is away it keeps the batch in hand,
retries with backoff (one log line per attempt) and, once back, drains the journal
in order at full speed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from db_logger.db_errors import DatabaseUnavailable, RowRejected
from db_logger.decoding import Batch
from db_logger.journal import Journal, Record
from db_logger.rows import raw_payload
from db_logger.schema import SchemaTooOld
from db_logger.store import LogStore

# decode(records) -> (rows, warnings naming fields, [(record, why it cannot be decoded)])
Decoder = Callable[[List[Record]], Tuple[Batch, List[str], List[Tuple[Record, str]]]]
Log = Callable[[str, str], None]  # (level: 'info' | 'warn' | 'error', line)


@dataclass
class WriterStats:
    connected: bool = False
    rows_committed: int = 0
    batches_committed: int = 0
    reconnects: int = 0  # connections made again after one was lost (not the first)
    rows_rejected: int = 0
    last_error: str = ''
    # 'serial stream' -> [received, expected, stored] since the writer started
    telemetry: Dict[str, list] = field(default_factory=dict)


@dataclass
class _Throttle:
    """At most one line per key per period, with a count of what was held back."""

    period: float = 1.0
    _last: Dict[str, float] = field(default_factory=dict)
    _held: Dict[str, int] = field(default_factory=dict)

    def admit(self, key: str, now: float) -> Optional[int]:
        if now - self._last.get(key, -1e9) < self.period:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


class BatchWriter:

    def __init__(self, journal: Journal, store: LogStore, decode: Decoder, log: Log,
                 batch_size: int = 500, flush_interval: float = 0.1,
                 backoff: Tuple[float, float] = (0.5, 10.0)):
        self.journal = journal
        self.store = store
        self.decode = decode
        self.log = log
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.dead_letters = journal.directory / 'rejected.jsonl'
        self.backoff = backoff
        self.stats = WriterStats()
        self.fatal: Optional[str] = None  # set when the writer cannot go on at all
        self._ever_connected = False
        self._last_commit = float('-inf')  # monotonic time the latest commit began
        self._stop = threading.Event()
        self._throttle = _Throttle()
        self._thread = threading.Thread(target=self._run, name='db_writer', daemon=True)

    # -- called from other threads --------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join_for(self, timeout: float) -> None:
        self._thread.join(timeout)

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending: Optional[Tuple[Batch, int]] = None  # decoded, not yet committed
        delay = self.backoff[0]  # grows while the database fails, reset by a commit
        while not self._stop.is_set():
            if not self.store.connected and not self._connect(delay):
                if self.fatal:
                    return
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            if pending is None:
                pending = self._next_batch()
                if pending is None:
                    continue
            try:
                self._commit(*pending)
                pending = None
                delay = self.backoff[0]
            except DatabaseUnavailable as exc:
                self.stats.connected = False
                self.stats.last_error = str(exc)
                self.log('warn', f'database write failed ({exc}); keeping the journal, '
                                 f'retrying in {delay:.1f} s')
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])

    def _connect(self, delay: float) -> bool:
        try:
            self.store.open()
        except SchemaTooOld as exc:
            self.fatal = str(exc)
            self.stats.last_error = str(exc)
            self.log('error', str(exc))
            return False
        except ConnectionError as exc:
            self.stats.connected = False
            self.stats.last_error = str(exc)
            self.log('warn', f'{exc}; retrying in {delay:.1f} s (messages are journalled '
                             'meanwhile)')
            return False
        self.stats.connected = True
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self.log('info', f'connected to {self.store.config.describe()}')
        return True

    def _next_batch(self) -> Optional[Tuple[Batch, int]]:
        records = self.journal.read(self.batch_size)
        if not records:
            # The appender is another process: poll (stop() cuts the wait short). A
            # trickle thus commits in batches of what one interval brings.
            self._stop.wait(max(self.flush_interval, 0.005))
            return None
        # A part batch waits until flush_interval after the last commit began: a commit
        # costs the writer and the server about as much as 40 rows, so a steady stream
        # commits at most 1/flush_interval times a second, in fuller batches.
        fill = self._last_commit + self.flush_interval - time.monotonic()
        if len(records) < self.batch_size and fill > 0 and not self._stop.wait(fill):
            records += self.journal.read(self.batch_size - len(records))
        batch, warnings, undecodable = self.decode(records)
        now = time.monotonic()
        for warning in warnings:
            held = self._throttle.admit(warning.split(' ', 1)[0], now)
            if held is not None:
                more = f' ({held} similar warnings held back)' if held else ''
                self.log('warn', warning + more)
        for record, why in undecodable:
            self._dead_letter({'seq': record.seq, 'kind': record.kind,
                               'payload_hex': record.payload.hex()}, why)
        return batch, records[-1].seq

    def _commit(self, batch: Batch, last_seq: int) -> None:
        self._last_commit = time.monotonic()
        try:
            rows = self.store.write(batch) if len(batch) else 0
        except RowRejected as exc:
            self.log('warn', f'the database refused a batch ({exc}); writing it row by row')
            rows = self._write_row_by_row(batch)
        self.journal.ack(last_seq)
        self.stats.rows_committed += rows
        self.stats.batches_committed += 1
        if batch.samples:
            self.stats.telemetry = self.store.telemetry.counters.report()

    def _write_row_by_row(self, batch: Batch) -> int:
        """Isolate the refused rows so the rows behind them still land."""
        written = 0
        singles = ([Batch(statuses=[r]) for r in batch.statuses]
                   + [Batch(commands=[r]) for r in batch.commands]
                   + [Batch(events=[r]) for r in batch.events]
                   + [Batch(samples=[r]) for r in batch.samples]
                   + [Batch(losses=[r]) for r in batch.losses])
        for single in singles:
            try:
                written += self.store.write(single)
                continue
            except RowRejected as exc:
                error = str(exc)
            if single.commands and not single.commands[0].payload.startswith('{"raw"'):
                row = single.commands[0]
                try:
                    written += self.store.write(
                        Batch(commands=[row._replace(payload=raw_payload(row.payload))]))
                    self.log('warn', f'payload_json of command {row.msg_uuid} refused by the '
                                     f'database ({error}); stored as {{"raw": ...}}')
                    continue
                except RowRejected as exc:
                    error = str(exc)
            row = (single.statuses or single.commands or single.events or single.samples
                   or single.losses)[0]
            self._dead_letter({type(row).__name__: row._asdict()}, error)
        return written

    def _dead_letter(self, item: dict, why: str) -> None:
        """Keep what the database will not take, on disk and in the log: never silently."""
        self.stats.rows_rejected += 1
        self.stats.last_error = why
        item = {'error': why, **item}
        with open(self.dead_letters, 'a', encoding='utf-8') as f:
            f.write(json.dumps(item, ensure_ascii=False) + '\n')
        self.log('error', f'could not store a message ({why}); kept in {self.dead_letters}')
