"""SIGINT and SIGTERM as one orderly stop, safe however many arrive and however fast."""

import re
import signal
import sys
import time

POLL_S = 0.05  # how long wait() may take to see a signal
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# what CPython reports (as unraisable) for a signal caught just before its handler became
# SIG_IGN: the Python handler it was meant for is gone
IGNORED_IN_THE_SWITCH = re.compile(r'Signal \d+ ignored due to race condition')


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
        for signum in SIGNALS:
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

    def ignore_from_now_on(self) -> None:
        """Once stopped, ignore SIGINT and SIGTERM: the exiting interpreter's finalization
        gives handled signals back to SIG_DFL, and a late one (launch's SIGTERM after its
        SIGINT) would kill it. A signal caught during the switch is ignored too, as asked,
        without CPython's traceback for it."""
        if not isinstance(sys.unraisablehook, _WithoutSwitchReports):
            sys.unraisablehook = _WithoutSwitchReports(sys.unraisablehook)
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


class _WithoutSwitchReports:
    """An unraisable hook passing on everything but the switch's reports."""

    def __init__(self, hook) -> None:
        self._hook = hook

    def __call__(self, report) -> None:
        if not (isinstance(report.exc_value, OSError)
                and IGNORED_IN_THE_SWITCH.fullmatch(str(report.exc_value))):
            self._hook(report)
