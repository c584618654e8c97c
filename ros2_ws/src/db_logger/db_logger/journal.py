"""A durable, append-only journal of received messages, acknowledged after commit.

Every message the logger receives is appended here before anything else happens to
it; the writer reads records in order and acknowledges them once their database
transaction has committed. After a crash or SIGKILL, whatever was appended and not
acknowledged is read again on the next start. A record is one write() of
[length][crc32][seq, receive time, kind][payload], so a killed process leaves
whole records; a torn tail (power loss) fails its CRC and is cut off.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

_FRAME = struct.Struct('<II')     # body length, crc32(body)
_HEADER = struct.Struct('<QdB')   # seq, receive time (UNIX s), kind
SEGMENT_BYTES = 16 * 1024 * 1024
_SEGMENT_GLOB = 'segment-*.log'
# a directory mtime this old can only change when a file comes or goes: no coarse timestamp
# tick (ns to 2 s, by file system) can hide a later one
_QUIET_DIR_NS = 5 * 10**9


class JournalError(RuntimeError):
    """The journal directory cannot be used; the message says why."""


@dataclass(frozen=True)
class Record:
    seq: int
    received: float
    kind: int
    payload: bytes


def _segment_name(first_seq: int) -> str:
    return f'segment-{first_seq:020d}.log'


def _segment_first_seq(path: Path) -> int:
    return int(path.stem.split('-')[1])


class Journal:
    """Append from any thread; one reader reads and acknowledges.

    The reader may be this object or, with appender=False, another process's: the
    two share only the files (segments, ack), so the db_logger's writer process
    reads what its node appends.
    """

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES,
                 appender: bool = True):
        self.directory = Path(directory).expanduser()
        self.segment_bytes = segment_bytes
        self._append_lock = threading.Lock()
        self._acked = self._read_ack()
        self._delivered = self._acked  # highest seq handed to the reader
        segments = self._segments()
        self._read_path: Optional[Path] = segments[0] if segments else None
        self._read_offset = 0
        self._idle_marks: Optional[Tuple[Path, int, int, int]] = None  # see _marks()
        if not appender:
            self._lock_fd = self._write_fd = -1
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / 'lock', os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f'journal_dir {str(self.directory)!r}: {exc.strerror}') from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(self._lock_fd, 32, 0).decode(errors='replace').strip()
            os.close(self._lock_fd)
            raise JournalError(f'journal_dir {str(self.directory)!r} is in use by another '
                               f'db_logger (pid {owner or "?"})') from exc
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, str(os.getpid()).encode(), 0)

        last_seq = self._acked
        for path in segments:
            last_seq = max(last_seq, self._recover_segment(path))
        self._next_seq = last_seq + 1
        if segments and segments[-1].stat().st_size < self.segment_bytes:
            self._write_path = segments[-1]
        else:
            self._write_path = self.directory / _segment_name(self._next_seq)
        self._write_fd = os.open(self._write_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._write_size = os.fstat(self._write_fd).st_size
        self._read_path = self._read_path or self._write_path

    # -- appending (subscription callbacks) ---------------------------------------

    def append(self, kind: int, payload: bytes, received: float) -> int:
        """Write one record durably (one write() call); return its sequence number."""
        with self._append_lock:
            seq = self._next_seq
            body = _HEADER.pack(seq, received, kind) + payload
            os.write(self._write_fd, _FRAME.pack(len(body), zlib.crc32(body)) + body)
            self._next_seq = seq + 1
            self._write_size += _FRAME.size + len(body)
            if self._write_size >= self.segment_bytes:
                self._rotate()
            return seq

    def _rotate(self) -> None:
        os.fsync(self._write_fd)
        os.close(self._write_fd)
        self._write_path = self.directory / _segment_name(self._next_seq)
        self._write_fd = os.open(self._write_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._write_size = 0

    # -- reading and acknowledging (the writer thread) -----------------------------

    def read(self, max_records: int) -> List[Record]:
        """The next unread records in order (at most max_records); [] when caught up."""
        records: List[Record] = []
        if self._read_path is None:  # a reader that started before the first append
            segments = self._segments()
            if not segments:
                return records
            self._read_path = segments[0]
        # an idle reader polls: two stats instead of an open, a read and a listing
        marks = self._marks()
        if marks is not None and marks == self._idle_marks:
            return records
        while len(records) < max_records:
            got, self._read_offset = self._read_segment(
                self._read_path, self._read_offset, max_records - len(records))
            # a segment may begin with records acknowledged before a restart
            records.extend(r for r in got if r.seq > self._delivered)
            if got:
                continue
            nxt = self._next_segment(self._read_path)
            if nxt is None:
                break
            # the appender starts a segment only after its last whole write to the
            # previous one: an empty read of a segment that has a successor is its end
            self._read_path, self._read_offset = nxt, 0
        if records:
            self._delivered = records[-1].seq
        quiet = marks is not None and time.time_ns() - marks[3] > _QUIET_DIR_NS
        self._idle_marks = marks if quiet and not records else None
        return records

    def ack(self, seq: int) -> None:
        """Records up to seq are committed: remember it, delete finished segments."""
        if seq <= self._acked:
            return
        self._acked = seq
        tmp = self.directory / 'ack.tmp'
        with open(tmp, 'wb') as f:
            f.write(struct.pack('<Q', seq))
        os.replace(tmp, self.directory / 'ack')
        segments = self._segments()
        # the newest segment may still be written to; never delete it
        for path, nxt in zip(segments, segments[1:]):
            if path == self._read_path or _segment_first_seq(nxt) - 1 > seq:
                break
            path.unlink()

    def sync(self) -> None:
        """fsync the segment being written (power-loss durability; a kill needs none)."""
        with self._append_lock:
            os.fsync(self._write_fd)

    def depth(self) -> int:
        """Records appended and not yet acknowledged (appender side)."""
        return self.last_seq - self.acked

    @property
    def last_seq(self) -> int:
        with self._append_lock:
            return self._next_seq - 1

    @property
    def acked(self) -> int:
        """The last acknowledged seq, by whichever process reads this journal."""
        return max(self._acked, self._read_ack())

    def close(self) -> None:
        if self._write_fd >= 0:
            with self._append_lock:
                os.fsync(self._write_fd)
                os.close(self._write_fd)
            os.close(self._lock_fd)

    def on_disk(self) -> Iterator[Record]:
        """Every record still in the segments, acknowledged or not (for inspection)."""
        for path in self._segments():
            offset = 0
            while True:
                records, offset = self._read_segment(path, offset, 10000)
                if not records:
                    break
                yield from records

    # -- internals ------------------------------------------------------------------

    def _read_ack(self) -> int:
        try:
            data = (self.directory / 'ack').read_bytes()
            return struct.unpack('<Q', data)[0] if len(data) == 8 else 0
        except FileNotFoundError:
            return 0

    def _marks(self) -> Optional[Tuple[Path, int, int, int]]:
        """(segment being read, its size and mtime, the directory's mtime): taken before a
        read that finds nothing, unchanged until an append writes the segment (its mtime
        also tells a torn tail cut and rewritten to the same size) or a new one is created."""
        try:
            segment = os.stat(self._read_path)
            return (self._read_path, segment.st_size, segment.st_mtime_ns,
                    os.stat(self.directory).st_mtime_ns)
        except OSError:
            return None

    def _segments(self) -> List[Path]:
        return sorted(self.directory.glob(_SEGMENT_GLOB), key=_segment_first_seq)

    def _next_segment(self, path: Path) -> Optional[Path]:
        first = _segment_first_seq(path)
        later = [p for p in self.directory.glob(_SEGMENT_GLOB) if _segment_first_seq(p) > first]
        return min(later, key=_segment_first_seq) if later else None

    @staticmethod
    def _read_segment(path: Path, offset: int, limit: int) -> Tuple[List[Record], int]:
        records: List[Record] = []
        try:
            with open(path, 'rb') as f:
                f.seek(offset)
                data = f.read(min(limit * 512, 8 * 1024 * 1024) or 4096)
        except FileNotFoundError:
            return records, offset
        pos = 0
        while len(records) < limit and pos + _FRAME.size <= len(data):
            length, crc = _FRAME.unpack_from(data, pos)
            end = pos + _FRAME.size + length
            if end > len(data):
                if pos == 0 and length > len(data):
                    # one record larger than our read: read exactly it
                    with open(path, 'rb') as f:
                        f.seek(offset)
                        data = f.read(_FRAME.size + length)
                    if len(data) < _FRAME.size + length:
                        break
                    continue
                break  # incomplete: being written right now
            body = data[pos + _FRAME.size:end]
            if zlib.crc32(body) != crc:
                break
            seq, received, kind = _HEADER.unpack_from(body)
            records.append(Record(seq, received, kind, bytes(body[_HEADER.size:])))
            pos = end
        return records, offset + pos

    def _recover_segment(self, path: Path) -> int:
        """Cut a torn tail off path; return the last valid seq in it (0 if none)."""
        offset, last = 0, 0
        while True:
            records, new_offset = self._read_segment(path, offset, 10000)
            if not records:
                break
            last = records[-1].seq
            offset = new_offset
        if path.stat().st_size > offset:
            with open(path, 'r+b') as f:
                f.truncate(offset)
        return last
