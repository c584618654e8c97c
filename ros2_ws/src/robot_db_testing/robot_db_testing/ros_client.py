"""An rclpy node spun in a background thread, for tests that talk to real processes."""

from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional, TypeVar

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile

T = TypeVar('T')


class RosTestClient:
    """Own context, node and executor thread; collects messages and calls services."""

    def __init__(self, name: str = 'test_client'):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # shutdown races end the loop
                if not self.context.ok():
                    return
                raise

    def collect(self, msg_type, topic: str, qos: QoSProfile) -> List:
        """Subscribe and return the (live) list every received message is appended to."""
        received: List = []
        lock = threading.Lock()

        def on_msg(msg) -> None:
            with lock:
                received.append(msg)

        self.node.create_subscription(msg_type, topic, on_msg, qos)
        return received

    def call(self, srv_type, name: str, request, timeout: float = 10.0):
        """Call a service and return its response (raises TimeoutError)."""
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f'service {name} not available after {timeout} s')
            future = client.call_async(request)
            if not wait_until(future.done, timeout):
                raise TimeoutError(f'service {name} did not answer in {timeout} s')
            return future.result()
        finally:
            self.node.destroy_client(client)

    def on_spin_thread(self, call: Callable[[], T], timeout: float = 10.0) -> T:
        """Run call() on the executor's thread and return what it returned.

        For action client calls: Jazzy's ActionClient registers a request only after
        sending it, with no lock (Kilted's takes one), so a request sent from another
        thread can have its response handled first and dropped ("Ignoring unexpected
        goal response")."""
        task = self.executor.create_task(call)
        if not wait_until(task.done, timeout):
            raise TimeoutError(f'the client executor did not run {call} in {timeout} s')
        return task.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        self._thread.join(timeout=2.0)


def wait_until(predicate: Callable[[], bool], timeout: float, period: float = 0.02) -> bool:
    """Poll predicate until it holds or timeout seconds pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


def first(items: List, predicate: Callable[[object], bool]) -> Optional[object]:
    """First item matching predicate, or None."""
    return next((x for x in list(items) if predicate(x)), None)
