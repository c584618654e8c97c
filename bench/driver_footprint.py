#!/usr/bin/env python3
"""CPU and memory of one rm_driver (sim backend) publishing at full telemetry rates.

Starts the installed driver in its own namespace and DDS domain (loopback only),
consumes every topic it publishes from a subscriber in this process, and samples
the driver's CPU % (of one core) and RSS with psutil once a second.

    source scripts/env.sh
    unshare -n sh -c 'ip link set lo up && python bench/driver_footprint.py'   # 60 s
    python bench/driver_footprint.py --seconds 10 --rate 20                    # shorter

--rate sets odom, imu and wheel_speeds (SDK rates: 1, 5, 10, 20, 50; default 50,
the SDK's highest); battery stays at --battery-rate. The robot idles (no commands):
this measures the steady telemetry cost.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import psutil  # noqa: E402

SDK_RATES = (1, 5, 10, 20, 50)


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='sampling time (60)')
    parser.add_argument('--rate', type=int, default=50, choices=SDK_RATES,
                        help='odom, imu and wheel_speeds rate in Hz (50)')
    parser.add_argument('--battery-rate', type=int, default=1, choices=SDK_RATES,
                        help='battery rate in Hz (1)')
    parser.add_argument('--warmup', type=float, default=3.0,
                        help='s after the first message before sampling (3)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID (default: random in 100-199)')
    return parser.parse_args(argv)


class TopicCounter:
    """Subscribes to everything the driver publishes and counts messages per topic."""

    def __init__(self, namespace: str) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import BatteryState, Imu
        from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus, WheelSpeeds
        from rm_driver.reporting import record_qos

        self.counts: Dict[str, int] = {}
        self._lock = threading.Lock()
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node('footprint_subscriber', context=self.context)
        topics = [(Odometry, 'odom', qos_profile_sensor_data),
                  (Imu, 'imu', qos_profile_sensor_data),
                  (WheelSpeeds, 'wheel_speeds', qos_profile_sensor_data),
                  (BatteryState, 'battery', qos_profile_sensor_data),
                  (RobotStatus, 'status', record_qos(1000)),
                  (RobotEvent, 'event', record_qos(1000)),
                  (CommandResult, 'command_result', record_qos(1000))]
        for msg_type, name, qos in topics:
            self.counts[name] = 0
            self.node.create_subscription(msg_type, f'/{namespace}/{name}',
                                          lambda _msg, n=name: self._count(n), qos)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except Exception:  # noqa: BLE001 - shutdown race ends the loop
                return

    def close(self) -> None:
        import rclpy
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(2.0)


def sample(process: psutil.Process, seconds: float) -> Dict[str, List[float]]:
    """CPU % (100 = one core) and RSS in MB, once a second, driver and its children."""
    cpu: List[float] = []
    rss: List[float] = []
    procs = [process] + process.children(recursive=True)
    for proc in procs:
        proc.cpu_percent(None)  # start the interval
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        cpu.append(sum(p.cpu_percent(None) for p in procs if p.is_running()))
        rss.append(sum(p.memory_info().rss for p in procs if p.is_running()) / 2 ** 20)
    return {'cpu': cpu, 'rss': rss}


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    domain_id = args.domain_id if args.domain_id is not None else random.randint(100, 199)
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    from tests.support.processes import start_node

    namespace = f'footprint_{os.getpid()}'
    log_dir = REPO_ROOT / '.local' / 'bench'
    rate = str(args.rate)
    driver = start_node('rm_driver', 'rm_driver', log_dir, [
        '-r', f'__ns:=/{namespace}', '-p', 'backend:=sim', '-p', f'odom_rate:={rate}',
        '-p', f'imu_rate:={rate}', '-p', f'wheel_speeds_rate:={rate}',
        '-p', f'battery_rate:={args.battery_rate}'], tag='_footprint')
    counter = TopicCounter(namespace)
    try:
        deadline = time.monotonic() + 30.0
        while counter.snapshot()['odom'] == 0:
            if time.monotonic() > deadline or not driver.alive():
                print(f'driver published no odom within 30 s; log: {driver.log_path}')
                return 1
            time.sleep(0.1)
        time.sleep(args.warmup)
        before = counter.snapshot()
        started = time.monotonic()
        figures = sample(psutil.Process(driver.pid), args.seconds)
        elapsed = time.monotonic() - started
        after = counter.snapshot()
    finally:
        driver.stop()
        counter.close()
    rates = {name: (after[name] - before[name]) / elapsed for name in after}
    cpu, rss = figures['cpu'], figures['rss']
    print(f'rm_driver sim footprint over {elapsed:.0f} s (odom/imu/wheel_speeds at '
          f'{args.rate} Hz, battery at {args.battery_rate} Hz, {psutil.cpu_count()} cores):')
    print(f'  CPU % of one core: mean {statistics.mean(cpu):.1f}, peak {max(cpu):.1f}')
    print(f'  RSS MB:            mean {statistics.mean(rss):.1f}, peak {max(rss):.1f}')
    print('  received msg/s:    '
          + ', '.join(f'{name} {value:.1f}' for name, value in rates.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
