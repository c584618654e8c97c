"""Telemetry samples: what is kept (record mode, rate limit) and what arrived (coverage).

Plain classes, no ROS and no SQL: the writer feeds them samples in journal order.

Loss on the wire is counted from the stamps themselves: a stream's period is the mean
of its recent stamp deltas, leaving out those over 1.5 times their median (the gaps
that losses leave, while fewer than half are lost), and a stretch from the first to the
last stamp received holds round(span / period) + 1 samples. The logger does not ask the driver
for its declared rate: any publisher of the topic is measured the same way, and a
rate changed while running is followed (the period is always the recent one).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Deque, Dict, Mapping, NamedTuple, Optional, Tuple

RECORD_MODES = ('all', 'session', 'off')
TELEMETRY_STREAMS = ('odom', 'imu', 'wheel_speeds', 'battery')
STATUS_STREAM = 'status'  # stored in StatusSamples, under the record mode, never limited
PERIOD_WINDOW = 31        # recent deltas the period is judged by
_PERIOD_REFRESH = 8       # samples between two estimates (a median costs a sort)


@dataclass(frozen=True)
class TelemetrySettings:
    record: str = 'session'
    max_rate: Mapping[str, float] = field(default_factory=dict)  # stream -> Hz, 0: no limit

    def argv(self) -> list:
        """The writer process's command-line form (see from_argv)."""
        rates = ','.join(f'{s}={self.max_rate.get(s, 0.0)!r}' for s in TELEMETRY_STREAMS)
        return ['--telemetry-record', self.record, '--telemetry-max-rate', rates]

    @staticmethod
    def from_argv(record: str, rates: str) -> 'TelemetrySettings':
        pairs = (item.split('=') for item in rates.split(',') if item)
        return TelemetrySettings(record, {name: float(hz) for name, hz in pairs})


class Sample(NamedTuple):
    """One decoded sample: values in the order of its table's value columns."""

    stream: str
    serial: str
    stamp_us: int    # UTC microseconds since the epoch (the primary key's stamp)
    stamp: str       # the same as DATETIME(6) text
    values: Tuple


class RateLimiter:
    """Keeps one sample per 1/max_rate step of stamp time, per robot and stream.

    The steps follow a grid from the first sample kept (not from each kept stamp, which
    would drift later by each one's lateness), and a quarter of the source's period is
    allowed early, so jitter does not push a kept sample a whole period later: 20 Hz
    limited to 5 Hz keeps every fourth sample, and on average never more than max_rate.
    A batch decides in a Pending that takes effect only at its commit().
    """

    def __init__(self, max_rate: Mapping[str, float]):
        self._step_us = {s: int(1e6 / hz) for s, hz in max_rate.items() if hz > 0}
        self._last_kept: Dict[Tuple[int, str], Optional[int]] = {}

    def limited(self, stream: str) -> bool:
        return stream in self._step_us

    def seeded(self, robot_id: int, stream: str) -> bool:
        return (robot_id, stream) in self._last_kept

    def seed(self, robot_id: int, stream: str, newest_stamp_us: Optional[int]) -> None:
        """The newest stored stamp (after a restart), so the step goes on from there."""
        self._last_kept[(robot_id, stream)] = newest_stamp_us

    def begin(self) -> 'RateLimiter.Pending':
        return RateLimiter.Pending(self)

    class Pending:
        def __init__(self, limiter: 'RateLimiter'):
            self._limiter = limiter
            self._last_kept: Dict[Tuple[int, str], int] = {}

        def admit(self, robot_id: int, stream: str, stamp_us: int,
                  period_us: Optional[int] = None) -> bool:
            step_us = self._limiter._step_us.get(stream)
            if step_us is None:
                return True
            key = (robot_id, stream)
            step = self._last_kept.get(key)  # the grid point of the last sample kept
            if step is None:
                step = self._limiter._last_kept.get(key)
            if step is not None:
                due = step + step_us
                if stamp_us < due - (period_us or 0) // 4:
                    return False
                # a gap (lost samples, a pause) of more than a step restarts the grid
                self._last_kept[key] = due if stamp_us < due + step_us else stamp_us
            else:
                self._last_kept[key] = stamp_us
            return True

        def commit(self) -> None:
            self._limiter._last_kept.update(self._last_kept)


class PeriodEstimator:
    """A stream's typical period: the mean of its recent positive stamp deltas, leaving
    out those over 1.5 times their median (the gaps that lost samples leave)."""

    def __init__(self) -> None:
        self.last_us: Optional[int] = None
        self.period_us: Optional[int] = None
        self._deltas: Deque[int] = deque(maxlen=PERIOD_WINDOW)
        self._since = 0

    def observe(self, stamp_us: int) -> None:
        if self.last_us is not None and stamp_us <= self.last_us:
            return  # a repeat or out of order: no delta to learn from
        if self.last_us is not None:
            self._deltas.append(stamp_us - self.last_us)
            self._since += 1
            if self.period_us is None or self._since >= _PERIOD_REFRESH:
                self.period_us = self._period()
                self._since = 0
        self.last_us = stamp_us

    def _period(self) -> int:
        # the mean, not the median: timer jitter is skewed (a late tick, then early ones),
        # and a median below the mean would count samples that were never sent
        limit = statistics.median(self._deltas) * 1.5
        regular = [d for d in self._deltas if d <= limit]  # not the gaps losses leave
        return int(sum(regular) / len(regular))


@dataclass(frozen=True)
class Coverage:
    """What arrived of one stream over a stretch (a session, or since the writer started)."""

    first_us: int
    last_us: int
    received: int = 1
    period_us: Optional[int] = None

    @property
    def expected(self) -> int:
        if not self.period_us:
            return self.received  # one sample, or no period yet: nothing to judge by
        return max(self.received, round((self.last_us - self.first_us) / self.period_us) + 1)

    def add(self, stamp_us: int, period_us: Optional[int]) -> 'Coverage':
        """Counted only when newer than the last: a sample read twice is counted once."""
        if stamp_us <= self.last_us:
            return self
        return replace(self, last_us=stamp_us, received=self.received + 1,
                       period_us=period_us or self.period_us)

    @staticmethod
    def start(stamp_us: int, period_us: Optional[int]) -> 'Coverage':
        return Coverage(stamp_us, stamp_us, 1, period_us)


class StreamCounters:
    """Per robot and stream since the writer started: what /diagnostics shows."""

    def __init__(self) -> None:
        self.coverage: Dict[Tuple[str, str], Coverage] = {}
        self.stored: Dict[Tuple[str, str], int] = {}

    def received(self, serial: str, stream: str, stamp_us: int, period_us) -> None:
        key = (serial, stream)
        old = self.coverage.get(key)
        self.coverage[key] = (old.add(stamp_us, period_us) if old
                              else Coverage.start(stamp_us, period_us))

    def report(self) -> Dict[str, list]:
        """'serial stream' -> [received, expected, stored] (JSON-friendly)."""
        return {f'{serial} {stream}': [c.received, c.expected, self.stored.get(key, 0)]
                for key, c in sorted(self.coverage.items()) for serial, stream in (key,)}
