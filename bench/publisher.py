#!/usr/bin/env python3
"""One benchmark publisher process: a fake robot publishing CommandResult messages.

Driven by the harness over JSON lines (stdin commands, stdout events):
  start-up    creates <ns>/command_result and <ns>/status (robot_interfaces.qos.record_qos
              with --depth), publishes one RobotStatus (so the logger knows the
              robot), waits until `--expect-subs` readers matched command_result,
              then prints {"event": "ready", ...}
  {"cmd": "run", "scenario": k, "count": n, "rate": r, "t0": wall}
              at wall time t0 publishes n messages, paced at r msg/s (0 = flat out);
              header.stamp = publish time (UTC); command_id = common.msg_id(...).
              A publish that raises is retried with backoff (counted); after
              --max-retries it is given up and its sequence number reported.
              Then waits (bounded) for every reader to acknowledge and prints
              {"event": "done", ...}
  {"cmd": "status"}  publishes one more RobotStatus
  {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import msg_id  # noqa: E402


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--index', type=int, required=True, help='publisher number (id field)')
    ap.add_argument('--namespace', required=True, help='e.g. /bench_p0')
    ap.add_argument('--serial', required=True, help='robot_serial of this fake robot')
    ap.add_argument('--tag', required=True, help='run tag, 8 hex digits')
    ap.add_argument('--depth', type=int, help='KEEP_LAST depth (default: the record QoS\'s)')
    ap.add_argument('--expect-subs', type=int, default=1)
    ap.add_argument('--match-timeout', type=float, default=30.0)
    ap.add_argument('--ack-timeout', type=float, default=30.0)
    ap.add_argument('--max-retries', type=int, default=200)
    args = ap.parse_args(argv)
    tag = int(args.tag, 16)

    import rclpy
    from rclpy.duration import Duration
    from robot_interfaces.msg import CommandResult, RobotStatus
    from robot_interfaces.qos import record_qos

    rclpy.init(args=None)
    node = rclpy.create_node(f'bench_pub_{args.index}', namespace=args.namespace)
    qos = record_qos() if args.depth is None else record_qos(args.depth)
    pub = node.create_publisher(CommandResult, 'command_result', qos)
    status_pub = node.create_publisher(RobotStatus, 'status', qos)

    def stamp_now(header) -> float:
        now = time.time()
        header.stamp.sec = int(now)
        header.stamp.nanosec = int((now - int(now)) * 1e9)
        return now

    def publish_status() -> None:
        st = RobotStatus()
        stamp_now(st.header)
        st.robot_serial = args.serial
        st.model_type = 'EP01'
        st.status = 'Active'
        st.ip_address = '127.0.0.1'
        st.battery_percent = 90.0
        status_pub.publish(st)

    publish_status()
    deadline = time.monotonic() + args.match_timeout
    while pub.get_subscription_count() < args.expect_subs and time.monotonic() < deadline:
        time.sleep(0.05)
    emit(event='ready', index=args.index, subs=pub.get_subscription_count(),
         status_subs=status_pub.get_subscription_count(), pid=os.getpid())

    # the template message: only the id and the stamp change per message
    msg = CommandResult()
    msg.robot_serial = args.serial
    msg.command_type = 'Velocity'
    msg.payload_json = '{"linear": 0.5, "angular": 0.1}'
    msg.result = 'Success'
    msg.message = 'bench'

    def run(scenario: int, count: int, rate: float, t0: float) -> None:
        retries = 0
        failed: list[int] = []
        delay = t0 - time.time()
        if delay > 0:
            time.sleep(min(delay, 60.0))
        first = time.time()
        start_mono = time.monotonic()
        i = 0
        while i < count:
            if rate > 0:
                # publish what is due by now, then sleep ~1 ms: pacing without a
                # sleep per message (sleep granularity would cap the rate)
                due = min(count, int((time.monotonic() - start_mono) * rate) + 1)
                if i >= due:
                    time.sleep(min(0.001, (i - due + 1) / rate))
                    continue
            else:
                due = count
            while i < due:
                msg.command_id = msg_id(tag, scenario, args.index, i)
                attempt = 0
                while True:
                    stamp_now(msg.header)
                    try:
                        pub.publish(msg)
                        break
                    except Exception:   # writer history full of unacknowledged samples
                        attempt += 1
                        retries += 1
                        if attempt > args.max_retries:
                            failed.append(i)
                            break
                        time.sleep(min(0.05, 0.0005 * 2 ** min(attempt, 7)))
                i += 1
        last = time.time()
        acked = pub.wait_for_all_acked(Duration(seconds=args.ack_timeout))
        emit(event='done', index=args.index, scenario=scenario, count=count,
             published=count - len(failed), failed=failed[:1000], n_failed=len(failed),
             retries=retries, t_first=first, t_last=last, acked=bool(acked),
             acked_at=time.time(), rate=rate,
             achieved_rate=round(count / (last - first), 1) if last > first else None)

    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            cmd = json.loads(line)
            if cmd.get('cmd') == 'quit':
                break
            if cmd.get('cmd') == 'status':
                publish_status()
                emit(event='status_sent', index=args.index)
            elif cmd.get('cmd') == 'run':
                run(int(cmd['scenario']), int(cmd['count']), float(cmd['rate']),
                    float(cmd['t0']))
            elif cmd.get('cmd') == 'subs':
                emit(event='subs', index=args.index, subs=pub.get_subscription_count())
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        try:
            rclpy.shutdown()
        except Exception:
            pass
    return 0


if __name__ == '__main__':
    threading.current_thread().name = 'publisher'
    sys.exit(main())
