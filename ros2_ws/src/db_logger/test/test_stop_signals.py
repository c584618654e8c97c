"""StopSignals once the node has stopped: SIGINT and SIGTERM ignored, silently.

In child processes: ignoring SIGINT in pytest's own would outlive the test.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

TIMEOUT_S = 30


def run_child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-c', textwrap.dedent(code)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_ignored_from_now_on_and_only_the_switchs_report_is_dropped():
    child = run_child('''
        import os, signal, sys, types
        from db_logger.stop_signals import StopSignals
        passed_on = []
        sys.unraisablehook = passed_on.append
        StopSignals().ignore_from_now_on()
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        for exc in (OSError('Signal 2 ignored due to race condition'),
                    OSError('Signal 15 ignored due to race condition'),
                    OSError('No space left on device'),
                    ValueError('Signal 2 ignored due to race condition')):
            sys.unraisablehook(types.SimpleNamespace(exc_value=exc))
        print(repr([r.exc_value for r in passed_on]))
    ''')
    out, err = child.communicate(timeout=TIMEOUT_S)
    assert (child.returncode, err) == (0, '')
    assert out.strip() == ("[OSError('No space left on device'), "
                           "ValueError('Signal 2 ignored due to race condition')]")


def test_a_signal_caught_during_the_switch_prints_nothing():
    # A signal caught between CPython's check for pending ones and the switch to SIG_IGN
    # reaches no handler, and CPython prints a traceback for it: with signals back to
    # back, a few times a second of switching.
    child = run_child('''
        import time
        from db_logger.stop_signals import StopSignals
        StopSignals()  # before any SIGINT: Python's own handler raises KeyboardInterrupt
        print('ready', flush=True)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            StopSignals().ignore_from_now_on()
    ''')
    assert child.stdout.readline() == 'ready\n'
    deadline = time.monotonic() + TIMEOUT_S
    for _ in range(5_000_000):
        if child.poll() is not None or time.monotonic() > deadline:
            break
        try:
            os.kill(child.pid, signal.SIGINT)
        except ProcessLookupError:
            break
    _, err = child.communicate(timeout=TIMEOUT_S)
    assert (child.returncode, err) == (0, '')
