#!/usr/bin/env python3
"""Reference (a): a bare rclpy subscriber that only counts CommandResult messages.

Same QoS as the logger (robot_interfaces.qos.record_qos(depth)), on the fastest
executor rclpy offers here: rclpy.experimental.EventsExecutor when importable (Jazzy
and newer), else SingleThreadedExecutor; it says which in its "ready" event.
The callback only counts and notes the arrival time, so what it reaches is the
ceiling of any Python node on this machine (the executor, not a database).

JSON lines: stdin {"cmd": "counts"} -> stdout {"event": "counts", "topics": {topic:
[n, last_wall_time]}, ...}; {"cmd": "quit"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--topics', nargs='+', required=True, help='fully qualified topic names')
    ap.add_argument('--depth', type=int, help='KEEP_LAST depth (default: the record QoS\'s)')
    ap.add_argument('--executor', choices=['auto', 'events', 'single'], default='auto')
    args = ap.parse_args(argv)

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from robot_interfaces.msg import CommandResult
    from robot_interfaces.qos import record_qos

    executor_cls, executor_name = SingleThreadedExecutor, 'SingleThreadedExecutor'
    if args.executor in ('auto', 'events'):
        try:
            from rclpy.experimental import EventsExecutor
            executor_cls, executor_name = EventsExecutor, 'rclpy.experimental.EventsExecutor'
        except ImportError:
            if args.executor == 'events':
                raise

    rclpy.init(args=None)
    node = rclpy.create_node('bench_bare_subscriber')
    qos = record_qos() if args.depth is None else record_qos(args.depth)
    counters: dict[str, list] = {}
    subs = []
    for topic in args.topics:
        c = counters[topic] = [0, 0.0]

        def cb(_msg, c=c, now=time.time):
            c[0] += 1
            c[1] = now()
        subs.append(node.create_subscription(CommandResult, topic, cb, qos))

    executor = executor_cls()
    executor.add_node(node)

    def spin() -> None:
        # EventsExecutor.spin() (and spin_until_future_complete) of the Kilted wheels
        # here execute no callback at all, while spin_once() in a loop does: checked on
        # these machines, rclpy 9.1.2. So: spin_once in a loop, for either executor.
        while True:
            executor.spin_once(timeout_sec=0.1)
    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    emit(event='ready', executor=executor_name, pid=os.getpid(), topics=args.topics)

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd.get('cmd') == 'quit':
            break
        if cmd.get('cmd') == 'counts':
            emit(event='counts', at=time.time(),
                 topics={t: [c[0], c[1]] for t, c in counters.items()})
    emit(event='bye', topics={t: [c[0], c[1]] for t, c in counters.items()})
    # shutting an executor down from another thread differs between distributions;
    # the counts are out, so leave at once
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
