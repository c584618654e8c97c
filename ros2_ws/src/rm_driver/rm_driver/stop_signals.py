"""SIGINT and SIGTERM as one orderly stop, safe however many arrive and however fast."""

import signal
import time

POLL_S = 0.05  # how long wait() may take to see a signal


class StopSignals:
    """Handlers for SIGINT and SIGTERM that only raise a flag; is_set() and wait() as a
    threading.Event's, for the main loop.

    A plain flag, not a threading.Event: Python runs a handler between any two bytecodes
    of the main thread, inside another handler or inside Event.wait() too, and a handler
    calling Event.set() there waits forever for the lock the interrupted code holds (a
    burst of Ctrl-C, or a process group signalled while launch forwards another).
    """

    def __init__(self) -> None:
        self._requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, *_) -> None:
        self._requested = True

    def is_set(self) -> bool:
        return self._requested

    def wait(self, timeout: float) -> bool:
        """Sleep up to timeout s; True as soon as a stop is asked for."""
        deadline = time.monotonic() + timeout
        while not self._requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, POLL_S))
        return True
