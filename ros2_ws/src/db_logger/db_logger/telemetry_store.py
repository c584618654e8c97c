"""SQL for the telemetry tables (002_telemetry.sql), inside LogStore's batch transaction.

What a batch changes in memory (rate-limit slots, coverage counts) takes effect only
when its transaction commits: a batch retried after an outage is judged the same way
again, and TelemetryCoverage always equals what the sample rows beside it say.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from db_logger.telemetry import (Coverage, PeriodEstimator, RateLimiter, Sample,
                                 StreamCounters, TelemetrySettings, TELEMETRY_STREAMS)

TABLES = {'odom': 'OdomSamples', 'imu': 'ImuSamples', 'wheel_speeds': 'WheelSamples',
          'battery': 'BatterySamples', 'status': 'StatusSamples'}
_VALUE_COLUMNS = {
    'odom': ('x', 'y', 'yaw', 'vx', 'vy', 'wz'),
    'imu': ('qx', 'qy', 'qz', 'qw', 'gx', 'gy', 'gz', 'ax', 'ay', 'az'),
    'wheel_speeds': ('front_right_rpm', 'front_left_rpm', 'rear_left_rpm', 'rear_right_rpm'),
    'battery': ('percent', 'voltage'),
    'status': ('status', 'battery_percent', 'ip_address'),
}
# ON DUPLICATE KEY, not INSERT IGNORE: a sample stored twice is a no-op, while a refused
# value or foreign key still raises instead of vanishing as a warning.
_INSERT = {stream: (f'INSERT INTO {TABLES[stream]} (robot_id, stamp, session_id, '
                    f'{", ".join(columns)}) VALUES ({", ".join(["%s"] * (3 + len(columns)))}) '
                    'ON DUPLICATE KEY UPDATE stamp = stamp')
           for stream, columns in _VALUE_COLUMNS.items()}
_UPSERT_COVERAGE = (
    'INSERT INTO TelemetryCoverage (session_id, stream, robot_id, received, expected, '
    'period_us, first_stamp, last_stamp) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) '
    'ON DUPLICATE KEY UPDATE received = VALUES(received), expected = VALUES(expected), '
    'period_us = VALUES(period_us), first_stamp = VALUES(first_stamp), '
    'last_stamp = VALUES(last_stamp)')
_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)

SessionOf = Callable[[int, str], Optional[int]]  # (robot_id, DATETIME(6) text) -> session


def micros(value: datetime) -> int:
    return (value - _EPOCH) // _US


def from_micros(stamp_us: int) -> datetime:
    return _EPOCH + stamp_us * _US


class TelemetryStore:
    """Stores samples by the record mode and rate limits; counts coverage per session."""

    def __init__(self, settings: TelemetrySettings):
        self.settings = settings
        self.counters = StreamCounters()
        self._limiter = RateLimiter(settings.max_rate)
        self._periods: Dict[Tuple[int, str], PeriodEstimator] = {}
        self._coverage: Dict[Tuple[int, str], Coverage] = {}  # (session_id, stream)
        self._loaded: Set[int] = set()  # sessions whose coverage rows are in _coverage

    def forget(self) -> None:
        """After a failed transaction: reload from the database what it holds."""
        self._coverage.clear()
        self._loaded.clear()
        self._limiter = RateLimiter(self.settings.max_rate)

    def write(self, cur, samples: Sequence[Sample], ids: Dict[str, int],
              session_of: SessionOf) -> Tuple[int, Callable[[], None]]:
        """Insert what is kept of samples: (rows, what to apply once the commit succeeded)."""
        record = self.settings.record
        if record == 'off' or not samples:
            return 0, lambda: None
        placed = [(s, ids[s.serial], session_of(ids[s.serial], s.stamp)) for s in samples]
        self._load_coverage(cur, {sid for s, _, sid in placed
                                  if sid is not None and s.stream in TELEMETRY_STREAMS})
        self._seed_limits(cur, {(rid, s.stream) for s, rid, _ in placed})
        limiter = self._limiter.begin()
        coverage: Dict[Tuple[int, str], Coverage] = {}
        rows: Dict[str, List[tuple]] = {stream: [] for stream in _INSERT}
        stored: Counter = Counter()
        for sample, robot_id, session_id in placed:
            period = None
            if sample.stream in TELEMETRY_STREAMS:
                period = self._period(robot_id, sample.stream, sample.stamp_us)
                self.counters.received(sample.serial, sample.stream, sample.stamp_us, period)
                if session_id is not None:
                    key = (session_id, sample.stream)
                    old = coverage.get(key) or self._coverage.get(key)
                    coverage[key] = (old.add(sample.stamp_us, period) if old else
                                     Coverage.start(sample.stamp_us, period))
            if record == 'session' and session_id is None:
                continue
            if not limiter.admit(robot_id, sample.stream, sample.stamp_us, period):
                continue
            rows[sample.stream].append((robot_id, sample.stamp, session_id, *sample.values))
            stored[(sample.serial, sample.stream)] += 1
        for stream, values in rows.items():
            if values:
                cur.executemany(_INSERT[stream], values)
        robot_of = {sid: rid for _, rid, sid in placed}
        if coverage:
            cur.executemany(_UPSERT_COVERAGE, [
                (sid, stream, robot_of[sid], c.received, c.expected, c.period_us,
                 from_micros(c.first_us), from_micros(c.last_us))
                for (sid, stream), c in coverage.items()])

        def committed() -> None:
            limiter.commit()
            self._coverage.update(coverage)
            for key, count in stored.items():
                self.counters.stored[key] = self.counters.stored.get(key, 0) + count
        return sum(stored.values()), committed

    def _period(self, robot_id: int, stream: str, stamp_us: int) -> Optional[int]:
        estimator = self._periods.get((robot_id, stream))
        if estimator is None:
            estimator = self._periods[(robot_id, stream)] = PeriodEstimator()
        estimator.observe(stamp_us)
        return estimator.period_us

    def _load_coverage(self, cur, session_ids) -> None:
        missing = sorted(set(session_ids) - self._loaded)
        if not missing:
            return
        self._loaded.update(missing)
        cur.execute('SELECT session_id, stream, received, period_us, first_stamp, last_stamp '
                    'FROM TelemetryCoverage WHERE session_id IN (%s)'
                    % ', '.join(['%s'] * len(missing)), missing)
        for sid, stream, received, period_us, first, last in cur.fetchall():
            self._coverage[(sid, stream)] = Coverage(micros(first), micros(last), received,
                                                     period_us)

    def _seed_limits(self, cur, keys) -> None:
        """A restarted writer fills no rate-limit slot that is already stored."""
        for robot_id, stream in sorted(keys):
            if self._limiter.limited(stream) and not self._limiter.seeded(robot_id, stream):
                cur.execute(f'SELECT MAX(stamp) FROM {TABLES[stream]} WHERE robot_id = %s',
                            (robot_id,))
                newest = cur.fetchone()[0]
                self._limiter.seed(robot_id, stream, None if newest is None else micros(newest))


class StreamCoverage(NamedTuple):
    stream: str
    expected: Optional[int]  # None: nothing arrived, so there is no period to judge by
    received: int            # arrived over the wire
    stored: int              # rows in the stream's table (fewer with telemetry.max_rate)


def telemetry_coverage(conn, session_id: int) -> List[StreamCoverage]:
    """Per sensor stream of a session: expected, received and stored samples.

    expected spans the session: the stream's period fitted from the session's start to
    its first sample, between first and last (TelemetryCoverage), and from the last to
    the session's end once it has ended. The session's times come from the logger's
    clock and the stamps from the driver's: a skew between them moves the edges.
    """
    with conn.cursor() as cur:
        cur.execute('SELECT start_time, end_time FROM Sessions WHERE session_id = %s',
                    (session_id,))
        session = cur.fetchone()
        if session is None:
            raise LookupError(f'session {session_id} does not exist')
        start_us, end_us = micros(session[0]), session[1] and micros(session[1])
        cur.execute('SELECT stream, received, period_us, first_stamp, last_stamp '
                    'FROM TelemetryCoverage WHERE session_id = %s', (session_id,))
        counted = {stream: Coverage(micros(first), micros(last), received, period)
                   for stream, received, period, first, last in cur.fetchall()}
        result = []
        for stream in TELEMETRY_STREAMS:
            cur.execute(f'SELECT COUNT(*) FROM {TABLES[stream]} WHERE session_id = %s',
                        (session_id,))
            stored = int(cur.fetchone()[0])
            c = counted.get(stream)
            if c is None:
                result.append(StreamCoverage(stream, None, 0, stored))
                continue
            expected = c.expected
            if c.period_us:
                expected += max(0, (c.first_us - start_us) // c.period_us)
                if end_us:
                    expected += max(0, (end_us - c.last_us) // c.period_us)
            result.append(StreamCoverage(stream, expected, c.received, stored))
        return result
