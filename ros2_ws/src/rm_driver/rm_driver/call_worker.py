"""One thread that runs blocking SDK calls in order, so they never stall the executor."""

from __future__ import annotations

import collections
import threading
from typing import Callable, Deque, Tuple


class CallWorker:
    """Runs SDK calls in order on one thread; a newer drive replaces a queued one."""

    def __init__(self, name: str) -> None:
        self._jobs: Deque[Tuple[str, Callable[[], None]]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None], kind: str = 'call') -> None:
        with self._cond:
            if kind == 'drive':
                for index, (queued_kind, _) in enumerate(self._jobs):
                    if queued_kind == 'drive':
                        self._jobs[index] = (kind, job)
                        self._cond.notify()
                        return
            self._jobs.append((kind, job))
            self._cond.notify()

    def close(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait(0.5)
                if self._closed and not self._jobs:
                    return
                _, job = self._jobs.popleft()
            job()
