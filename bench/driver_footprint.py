#!/usr/bin/env python3
"""CPU, memory and cmd_vel handling of one rm_driver (sim backend), idle and driving.

Starts the installed driver in its own namespace and DDS domain (loopback only),
consumes every topic it publishes from a subscriber in this process, and samples
the driver's CPU % (of one core) and RSS with psutil once a second, in two
scenarios: `idle` (no commands: the steady telemetry cost) and `driving` (cmd_vel
at --cmd-rate Hz for the whole window, each one a new velocity, so every handled
cmd_vel yields one "velocity set" command_result). For driving it reports the
handling latency (publish to the command_result's stamp, both on this machine's
clock) p50/p99/max, the gaps between handled cmd_vel, the cmd_vel with no result,
and the watchdog stops.

    source scripts/env.sh && export ROS_DOMAIN_ID=61
    unshare -n sh -c 'ip link set lo up && exec python bench/driver_footprint.py'  # 2 x 60 s
    python bench/driver_footprint.py --seconds 10 --rate 20 --scenarios driving

Old code against new, interleaved: build the old tree's workspace elsewhere and
name both installs; each round runs every install once per scenario, and the
summary gives new/old ratios (the first --install is the reference):

    python bench/driver_footprint.py --install old=/tmp/old/ros2_ws/install \\
        --install new=ros2_ws/install --rounds 3 --seconds 40 --rate 20

--rate sets odom, imu and wheel_speeds (SDK rates: 1, 5, 10, 20, 50; default 50,
the SDK's highest); battery stays at --battery-rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]

import psutil  # noqa: E402

SDK_RATES = (1, 5, 10, 20, 50)
SCENARIOS = ('idle', 'driving')
# Each cmd_vel carries its sequence number in linear.x: 0.3 + (seq % SPEED_STEPS) * step,
# steps well above the driver's 1e-3 "same command" tolerance.
BASE_SPEED = 0.3
SPEED_STEP = 0.004
SPEED_STEPS = 100
GAP_LIMIT = 0.5   # s: the driver's default cmd_vel_timeout


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0,
                        help='sampling time per scenario (60)')
    parser.add_argument('--rate', type=int, default=50, choices=SDK_RATES,
                        help='odom, imu and wheel_speeds rate in Hz (50)')
    parser.add_argument('--battery-rate', type=int, default=1, choices=SDK_RATES,
                        help='battery rate in Hz (1)')
    parser.add_argument('--cmd-rate', type=float, default=4.0,
                        help='cmd_vel rate while driving, Hz (4)')
    parser.add_argument('--scenarios', default='idle,driving',
                        help='comma-separated, of idle, driving (both)')
    parser.add_argument('--install', action='append', default=[], metavar='LABEL=DIR',
                        help='a colcon install dir to run the driver from; repeat to '
                        'compare (default: new=ros2_ws/install)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='interleaved rounds over installs and scenarios (1)')
    parser.add_argument('--warmup', type=float, default=3.0,
                        help='s after the first message before sampling (3)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID, else random in 100-199)')
    parser.add_argument('--json', default='', help='also write the runs to this file')
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(',') if s]
    if not args.scenarios or set(args.scenarios) - set(SCENARIOS):
        parser.error(f'--scenarios: one or more of {", ".join(SCENARIOS)}')
    installs = args.install or [f'new={REPO_ROOT / "ros2_ws" / "install"}']
    args.installs = []
    for item in installs:
        label, _, path = item.partition('=')
        directory = Path(path).resolve()
        if not label or not (directory / 'rm_driver').is_dir():
            parser.error(f'--install {item!r}: expected LABEL=DIR with DIR/rm_driver built')
        args.installs.append((label, directory))
    return args


def speed_of(seq: int) -> float:
    return round(BASE_SPEED + (seq % SPEED_STEPS) * SPEED_STEP, 6)


def step_of(speed: float) -> int:
    return round((speed - BASE_SPEED) / SPEED_STEP) % SPEED_STEPS


class DriverWatcher:
    """Subscribes to everything the driver publishes, counts messages per topic,
    keeps the command_results and publishes cmd_vel."""

    def __init__(self, namespace: str) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from geometry_msgs.msg import Twist
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import BatteryState, Imu
        from robot_interfaces.msg import CommandResult, RobotEvent, RobotStatus, WheelSpeeds
        from robot_interfaces.qos import record_qos

        self.counts: Dict[str, int] = {}
        self.results: List = []
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
                                          lambda msg, n=name: self._count(n, msg), qos)
        self.twist = Twist
        self.cmd_vel = self.node.create_publisher(Twist, f'/{namespace}/cmd_vel', 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _count(self, name: str, msg) -> None:
        with self._lock:
            self.counts[name] += 1
            if name == 'command_result':
                self.results.append(msg)

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


class CmdVelSender(threading.Thread):
    """cmd_vel at a fixed rate, on schedule; remembers when each one was published."""

    def __init__(self, watcher: DriverWatcher, rate: float) -> None:
        super().__init__(daemon=True)
        self._watcher = watcher
        self._period = 1.0 / rate
        self._halt = threading.Event()
        self.sent: List[Tuple[int, float]] = []   # (seq, wall time of publish)

    def run(self) -> None:
        next_at = time.monotonic()
        seq = 0
        while not self._halt.is_set():
            msg = self._watcher.twist()
            msg.linear.x = speed_of(seq)
            self.sent.append((seq, time.time()))
            self._watcher.cmd_vel.publish(msg)
            seq += 1
            next_at += self._period
            self._halt.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._halt.set()
        self.join(2.0)


def handling(sent: List[Tuple[int, float]], results: List) -> Dict[str, float]:
    """Match each "velocity set" result to the latest cmd_vel published before it
    with the same speed step; latency = result stamp - publish time."""
    stamps = []
    latencies = []
    watchdog = 0
    for result in results:
        info = json.loads(result.payload_json)
        stamp = result.header.stamp.sec + result.header.stamp.nanosec * 1e-9
        if info.get('source') == 'watchdog':
            # spurious: a cmd_vel was published less than GAP_LIMIT before the stop
            watchdog += any(0.0 <= stamp - t < GAP_LIMIT for _, t in sent)
            continue
        if result.command_type != 'Velocity' or result.result != 'Success':
            continue
        step = step_of(info['linear'])
        published = [t for seq, t in sent if seq % SPEED_STEPS == step and t <= stamp + 0.01]
        if published:
            stamps.append(stamp)
            latencies.append(max(0.0, stamp - published[-1]))
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3 \
            if latencies else float('nan')

    return {'sent': len(sent), 'handled': len(latencies), 'watchdog_stops': watchdog,
            'latency_p50_ms': pct(0.50), 'latency_p99_ms': pct(0.99),
            'latency_max_ms': latencies[-1] * 1e3 if latencies else float('nan'),
            'gap_max_s': max(gaps) if gaps else float('nan'),
            'gaps_over_limit': sum(g > GAP_LIMIT for g in gaps)}


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


def driver_env(install: Path) -> Dict[str, str]:
    """This environment with `install`'s rm_driver first on the Python path (the
    interfaces are the same in every tree: they come from the sourced workspace)."""
    from robot_db_testing.processes import ros_env
    env = ros_env()
    # colcon --symlink-install puts a Python package on the path through its build dir
    paths = [str(install.parent / 'build' / 'rm_driver')]
    paths += [str(p) for p in (install / 'rm_driver' / 'lib').glob('python3*/site-packages')]
    env['PYTHONPATH'] = os.pathsep.join(paths + [env.get('PYTHONPATH', '')])
    return env


def run_one(args: argparse.Namespace, label: str, install: Path, scenario: str,
            index: int) -> Optional[Dict]:
    from robot_db_testing.processes import NodeProcess
    namespace = f'footprint_{os.getpid()}_{index}'
    rate = str(args.rate)
    argv = [install / 'rm_driver' / 'lib' / 'rm_driver' / 'rm_driver', '--ros-args',
            '-r', f'__ns:=/{namespace}', '-p', 'backend:=sim', '-p', f'odom_rate:={rate}',
            '-p', f'imu_rate:={rate}', '-p', f'wheel_speeds_rate:={rate}',
            '-p', f'battery_rate:={args.battery_rate}']
    log = REPO_ROOT / '.local' / 'bench' / f'rm_driver_footprint_{label}_{scenario}.log'
    log.unlink(missing_ok=True)
    driver = NodeProcess(argv, log, env=driver_env(install))
    watcher = DriverWatcher(namespace)
    sender: Optional[CmdVelSender] = None
    try:
        deadline = time.monotonic() + 30.0
        while watcher.snapshot()['odom'] == 0 or watcher.cmd_vel.get_subscription_count() == 0:
            if time.monotonic() > deadline or not driver.alive():
                print(f'{label}: driver published no odom within 30 s; log: {log}')
                return None
            time.sleep(0.1)
        time.sleep(args.warmup)
        if scenario == 'driving':
            sender = CmdVelSender(watcher, args.cmd_rate)
            sender.start()
        before = watcher.snapshot()
        started = time.monotonic()
        figures = sample(psutil.Process(driver.pid), args.seconds)
        elapsed = time.monotonic() - started
        after = watcher.snapshot()
        if sender is not None:
            sender.stop()
            time.sleep(1.0)   # the last results
    finally:
        if sender is not None:
            sender.stop()
        driver.stop()
        watcher.close()
    run = {'label': label, 'scenario': scenario, 'seconds': elapsed,
           'cpu_mean': statistics.mean(figures['cpu']), 'cpu_peak': max(figures['cpu']),
           'rss_mean': statistics.mean(figures['rss']),
           'rates': {name: (after[name] - before[name]) / elapsed for name in after}}
    if sender is not None:
        run.update(handling(sender.sent, watcher.results))
    return run


def report(runs: List[Dict], labels: List[str], scenarios: List[str]) -> None:
    header = (f'{"install":<8} {"scenario":<8} {"CPU%":>6} {"peak":>6} {"RSS MB":>7} '
              f'{"lat p50":>8} {"p99":>7} {"max ms":>7} {"gap max s":>9} '
              f'{">0.5s":>5} {"handled":>9} {"wdog":>4}')
    print(header)
    for run in runs:
        line = (f'{run["label"]:<8} {run["scenario"]:<8} {run["cpu_mean"]:6.1f} '
                f'{run["cpu_peak"]:6.1f} {run["rss_mean"]:7.1f}')
        if run['scenario'] == 'driving':
            line += (f' {run["latency_p50_ms"]:8.1f} {run["latency_p99_ms"]:7.1f} '
                     f'{run["latency_max_ms"]:7.1f} {run["gap_max_s"]:9.2f} '
                     f'{run["gaps_over_limit"]:5d} {run["handled"]:4d}/{run["sent"]:<4d} '
                     f'{run["watchdog_stops"]:4d}')
        print(line)
    print('received msg/s (last run): ' + ', '.join(
        f'{name} {value:.1f}' for name, value in runs[-1]['rates'].items()))
    if len(labels) < 2:
        return
    reference = labels[0]
    print(f'\nmedians over rounds, and ratio to {reference}:')
    for scenario in scenarios:
        for key, unit in (('cpu_mean', 'CPU %'), ('latency_p50_ms', 'latency p50 ms'),
                          ('latency_p99_ms', 'latency p99 ms'),
                          ('latency_max_ms', 'latency max ms')):
            if scenario == 'idle' and key != 'cpu_mean':
                continue
            values = {label: statistics.median(r[key] for r in runs if r['label'] == label
                                               and r['scenario'] == scenario)
                      for label in labels}
            base = values[reference]
            print(f'  {scenario:<8} {unit:<15} ' + ', '.join(
                f'{label} {value:.1f}' + (f' (x{value / base:.2f})' if base else '')
                for label, value in values.items()))


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    domain_id = args.domain_id if args.domain_id is not None else \
        int(os.environ.get('ROS_DOMAIN_ID') or random.randint(100, 199))
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    runs: List[Dict] = []
    index = 0
    for round_number in range(args.rounds):
        order = args.installs if round_number % 2 == 0 else list(reversed(args.installs))
        for scenario in args.scenarios:
            for label, install in order:
                index += 1
                run = run_one(args, label, install, scenario, index)
                if run is None:
                    return 1
                runs.append(run)
    print(f'rm_driver sim over {args.seconds:g} s per run (odom/imu/wheel_speeds at '
          f'{args.rate} Hz, battery at {args.battery_rate} Hz, cmd_vel at {args.cmd_rate:g} Hz '
          f'while driving, {psutil.cpu_count()} cores, {args.rounds} round(s)):')
    report(runs, [label for label, _ in args.installs], args.scenarios)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
