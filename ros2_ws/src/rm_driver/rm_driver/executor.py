"""The driver's executor: quick callbacks inline, blocking ones on worker threads.

rclpy's MultiThreadedExecutor hands every callback to a thread pool: each timer tick
costs a thread hop and several wait-set rebuilds, and its shutdown() destroys the
guard condition that callbacks still queued in the pool trigger when they start
("exception was never retrieved: cannot use Destroyable because destruction was
requested"). Here telemetry, cmd_vel and the watchdog run on the spinning thread;
only the `blocking` callback group (move goals, set_mode) and tasks (the action
server runs each goal as one) go to the pool, and stop() lets the pool finish before
the executor is shut down. Uses only Executor API common to Humble, Jazzy and Kilted.
"""

from __future__ import annotations

from concurrent.futures import Future as PoolFuture, ThreadPoolExecutor, wait
import threading
from typing import List, Optional

from rclpy.callback_groups import CallbackGroup
from rclpy.executors import Executor, ShutdownException, TimeoutException


class InlineExecutor(Executor):
    """Spin with spin_forever() on one thread, end with stop() from another."""

    def __init__(self, blocking: CallbackGroup, workers: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self._blocking = blocking
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix='rm_driver_blocking')
        self._in_pool: List[PoolFuture] = []
        self._halt = threading.Event()

    def spin_once(self, timeout_sec: Optional[float] = None) -> None:
        try:
            handler, entity, _ = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
        except (ShutdownException, TimeoutException):
            return
        # A task (entity None) may be a whole move: never on this thread.
        if entity is None or entity.callback_group is self._blocking:
            self._in_pool.append(self._pool.submit(_run, handler))
        else:
            _run(handler)
        done = [f for f in self._in_pool if f.done()]
        self._in_pool = [f for f in self._in_pool if not f.done()]
        for future in done:
            future.result()  # a callback's exception ends the spin, as in rclpy

    def spin_forever(self) -> None:
        """Spin until halt() (or the context shuts down)."""
        while not self._halt.is_set() and self.context.ok():
            self.spin_once()

    def stop(self, timeout_sec: float) -> bool:
        """From another thread, after the spinning thread ended: let the pool finish
        what it was given (bounded), then shut down. Return whether it finished."""
        self._pool.shutdown(wait=False)
        _, pending = wait(self._in_pool, timeout=timeout_sec)
        self.shutdown(timeout_sec=0.0)
        return not pending

    def halt(self) -> None:
        """Make spin_forever() return (callable from any thread)."""
        self._halt.set()
        self.wake()


def _run(handler) -> None:
    handler()
    handler.result()  # raises what the callback raised (a task run twice: the 2nd no-ops)
