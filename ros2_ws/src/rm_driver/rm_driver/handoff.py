"""Hand calls made on foreign threads (the SDK's) to the thread that drains them.

The SDK calls back from its own dispatcher and timer threads; the node's state and
publishers belong to its executor. post() only appends to a deque and wakes the
executor (a guard condition in the node); drain() runs the calls, in order, on the
executor's thread.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Deque, Optional, Tuple

Call = Tuple[Callable[..., Any], Tuple[Any, ...]]


class ThreadHandoff:
    """A FIFO of calls: post() from any thread, drain() on the owner's thread."""

    def __init__(self, wake: Optional[Callable[[], None]] = None,
                 on_error: Optional[Callable[[BaseException], None]] = None) -> None:
        self._calls: Deque[Call] = collections.deque()
        self._lock = threading.Lock()
        self._wake = wake
        self._on_error = on_error

    def set_wake(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._calls.append((fn, args))
        if self._wake is not None:
            self._wake()

    def pending(self) -> int:
        with self._lock:
            return len(self._calls)

    def drain(self) -> int:
        """Run every queued call; return how many ran. One failing call does not
        stop the others (it goes to on_error, or is raised after the rest ran)."""
        with self._lock:
            calls = list(self._calls)
            self._calls.clear()
        first_error: Optional[BaseException] = None
        for fn, args in calls:
            try:
                fn(*args)
            except Exception as error:  # noqa: BLE001 - reported below, the rest still run
                if self._on_error is not None:
                    self._on_error(error)
                elif first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error
        return len(calls)
