#!/usr/bin/env python3
"""One benchmark process simulating --robots robots' telemetry, as rm_driver publishes it.

Each robot is a namespace /<prefix>NNN with a RobotStatus on `status` (the driver's record
QoS, 1 Hz) and `odom`, `imu`, `wheel_speeds`, `battery` with the driver's telemetry QoS
(robot_interfaces.qos) at the driver's default rates (20, 20, 10, 1 Hz). Driven over
JSON lines (stdin commands, stdout events):
  start-up   creates the publishers, publishes one status per robot, waits (bounded) until
             every sensor publisher has a reader, prints {"event": "ready", "matched": n}
  {"cmd": "run", "t0": wall, "seconds": s}
             from wall time t0 publishes for s seconds, header.stamp = publish time, then
             prints {"event": "done", "published": {stream: n}, "late_ticks": n}
  {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import json
import sys
import time

RATES = {'odom': 20, 'imu': 20, 'wheel_speeds': 10, 'battery': 1, 'status': 1}


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--first', type=int, required=True, help='number of the first robot')
    ap.add_argument('--robots', type=int, required=True)
    ap.add_argument('--prefix', required=True, help='namespace prefix, e.g. /tele_1_r')
    ap.add_argument('--serial-prefix', required=True)
    ap.add_argument('--match-timeout', type=float, default=60.0)
    args = ap.parse_args(argv)

    import rclpy
    from nav_msgs.msg import Odometry
    from robot_interfaces.msg import RobotStatus, WheelSpeeds
    from robot_interfaces.qos import record_qos, telemetry_qos
    from sensor_msgs.msg import BatteryState, Imu

    rclpy.init(args=None)
    node = rclpy.create_node(f'bench_telemetry_{args.first}')
    types = {'odom': Odometry, 'imu': Imu, 'wheel_speeds': WheelSpeeds,
             'battery': BatteryState, 'status': RobotStatus}
    robots = []
    for n in range(args.first, args.first + args.robots):
        ns = f'{args.prefix}{n:03d}'
        serial = f'{args.serial_prefix}{n:03d}'
        pubs = {s: node.create_publisher(t, f'{ns}/{s}', record_qos() if s == 'status'
                                         else telemetry_qos())
                for s, t in types.items()}
        msgs = {s: t() for s, t in types.items()}
        msgs['status'].robot_serial, msgs['status'].model_type = serial, 'EP01'
        msgs['status'].status, msgs['status'].battery_percent = 'Idle', 90.0
        msgs['battery'].percentage, msgs['battery'].voltage = 0.9, float('nan')
        robots.append((pubs, msgs))

    def publish(stream: str, pubs, msgs, i: int) -> None:
        msg = msgs[stream]
        msg.header.stamp = node.get_clock().now().to_msg()
        if stream == 'odom':
            msg.pose.pose.position.x = i * 0.001
        elif stream == 'wheel_speeds':
            msg.front_left_rpm = float(i % 100)
        pubs[stream].publish(msg)

    for pubs, msgs in robots:
        publish('status', pubs, msgs, 0)
    sensors = [p for pubs, _ in robots for s, p in pubs.items() if s != 'status']
    deadline = time.monotonic() + args.match_timeout
    while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in sensors):
        time.sleep(0.2)
    emit(event='ready', matched=sum(p.get_subscription_count() > 0 for p in sensors),
         sensors=len(sensors))

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd['cmd'] == 'quit':
            break
        if cmd['cmd'] != 'run':
            continue
        # one tick per 50 ms (the fastest stream): every stream whose period is due
        published = {s: 0 for s in RATES}
        late = 0
        ticks = int(cmd['seconds'] * 20)
        time.sleep(max(0.0, cmd['t0'] - time.time()))
        start = time.monotonic()
        for tick in range(ticks):
            due = [s for s, hz in RATES.items() if tick % (20 // hz) == 0]
            for pubs, msgs in robots:
                for stream in due:
                    publish(stream, pubs, msgs, tick)
                    published[stream] += 1
            wait = start + (tick + 1) * 0.05 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                late += 1
        emit(event='done', published=published, late_ticks=late, ticks=ticks)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
