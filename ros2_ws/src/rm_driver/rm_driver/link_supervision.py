"""Telling that the robot link is gone and pacing the reconnect attempts."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable, Set


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


class FirstPushes:
    """Which subscribed streams have pushed since they were last subscribed. The SDK's
    unsub_* raises on a stream that never pushed (dds.py del_subject_info calls done() on
    the subject's task, None until the first push), so only those that did are unsubscribed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._seen: Set[str] = set()

    def restart(self) -> Callable[[str, Callable[[Any], None]], Callable[[Any], None]]:
        """Forget every stream; return a wrapper that marks `name` when its callback runs
        (pushes to an older subscription's callbacks are ignored)."""
        with self._lock:
            self._generation += 1
            self._seen.clear()
            generation = self._generation

        def wrap(name: str, callback: Callable[[Any], None]) -> Callable[[Any], None]:
            def pushed(payload: Any) -> None:
                with self._lock:
                    if generation == self._generation:
                        self._seen.add(name)
                callback(payload)
            return pushed
        return wrap

    def seen_all(self, names: Iterable[str]) -> bool:
        with self._lock:
            return self._seen.issuperset(names)


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
