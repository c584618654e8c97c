"""When each replayed message is due: plain logic with the clock and the outputs injected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Protocol

from db_logger.session_samples import Row


class Stop(Protocol):
    """What the player asks of a stop (a threading.Event has it; so has StopSignals)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


@dataclass
class ReplaySchedule:
    """Maps session time (stamps, ns) to wall time (a monotonic clock, s) at a rate factor.

    origin_ns is the session time played at wall time `started`: a sample stamped
    origin_ns + d is due d / rate seconds after the start.
    """

    origin_ns: int
    rate: float
    started: float = 0.0

    def due(self, stamp_ns: int) -> float:
        return self.started + (stamp_ns - self.origin_ns) / 1e9 / self.rate

    def session_time_ns(self, wall: float) -> int:
        return self.origin_ns + int((wall - self.started) * self.rate * 1e9)


class Player:
    """Publishes rows at their due times; optionally the session time on /clock.

    rows() gives a fresh pass over the session (stamp order) each call; a loop starts the
    next pass as the last one ends. The clock is published before every message (so a
    use_sim_time consumer's time has reached its stamp) and every clock_period in between.
    """

    def __init__(self, rows: Callable[[], Iterable[Row]], schedule: ReplaySchedule,
                 publish: Callable[[Row], None], now: Callable[[], float],
                 stop: Stop, clock: Optional[Callable[[int], None]] = None,
                 clock_period: float = 0.025, loop: bool = False) -> None:
        self._rows = rows
        self.schedule = schedule
        self._publish = publish
        self._now = now
        self._stop = stop
        self._clock = clock
        self._clock_period = clock_period
        self._loop = loop
        self.published = 0
        self.passes = 0

    def run(self) -> int:
        """Play until the end (or forever with loop) or until stop is set; return how many
        messages were published."""
        while not self._stop.is_set():
            self.schedule.started = self._now()
            played = 0
            for row in self._rows():
                if not self._wait_until(self.schedule.due(row.stamp_ns), row.stamp_ns):
                    return self.published
                if self._clock is not None:
                    self._clock(row.stamp_ns)
                self._publish(row)
                self.published += 1
                played += 1
            self.passes += 1
            if not self._loop or played == 0:
                break
        return self.published

    def _wait_until(self, due: float, stamp_ns: int) -> bool:
        """Sleep until due, publishing the clock meanwhile, never past stamp_ns (the next
        message's: the clock never goes back); False when stopped."""
        while True:
            remaining = due - self._now()
            if remaining <= 0:
                return not self._stop.is_set()
            step = remaining if self._clock is None else min(remaining, self._clock_period)
            if self._stop.wait(step):
                return False
            now = self._now()  # once: a second reading may be past due already
            if self._clock is not None and now < due:
                self._clock(min(self.schedule.session_time_ns(now), stamp_ns))
