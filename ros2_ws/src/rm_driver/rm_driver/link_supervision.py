"""Telling that the robot link is gone and pacing the reconnect attempts."""

from __future__ import annotations

import threading
import time
from typing import Callable


class LinkWatch:
    """The link is alive while the robot keeps talking: every SDK push (telemetry
    arrives at 1 Hz or faster) feeds the watch; silence longer than `timeout` s means
    the link is lost. The SDK sends heartbeats but exposes no public way to see the
    robot's answers, so silence is the portable signal."""

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def feed(self) -> None:
        with self._lock:
            self._last = self._clock()

    def silent_for(self) -> float:
        with self._lock:
            return self._clock() - self._last

    def expired(self) -> bool:
        return self.silent_for() > self.timeout


class Backoff:
    """Delays between reconnect attempts: initial, doubled each failure, capped."""

    def __init__(self, initial: float, maximum: float, factor: float = 2.0) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f'backoff needs 0 < initial <= maximum, got {initial}, {maximum}')
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial
