"""SIGINT and SIGTERM as one orderly stop, safe however many arrive and however fast."""

import signal


class StopSignals:
    """Installs handlers for SIGINT and SIGTERM that only raise a flag; the main loop
    polls `requested`.

    A plain flag, not a threading.Event or a call into the program: Python runs a handler
    between any two bytecodes, inside another handler too, and a signal handled while the
    first one's Event.set() holds its lock waits forever for it (a burst of Ctrl-C, or a
    process group signalled while launch forwards another).
    """

    def __init__(self) -> None:
        self.requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, *_) -> None:
        self.requested = True
