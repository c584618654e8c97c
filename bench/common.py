"""Helpers shared by the benchmark's processes (no rclpy import here).

Message ids: every CommandResult the benchmark publishes carries a deterministic
UUID-shaped command_id (version 4 and RFC variant bits set), so the harness knows
exactly which ids were published and can find the missing and the doubled ones:

    TTTTTTTT-SSSS-4PPP-8000-NNNNNNNNNNNN
    run tag  scen. pub.      sequence number within (scenario, publisher)
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the benchmark dies (PR_SET_PDEATHSIG),
    so a killed run leaves no publisher, logger or server behind."""
    if _prctl is not None:
        _prctl(1, 15)


# -- ids -------------------------------------------------------------------------

def msg_id(tag: int, scenario: int, pub: int, seq: int) -> str:
    return f'{tag:08x}-{scenario:04x}-4{pub:03x}-8000-{seq:012x}'


def id_prefix(tag: int, scenario: int) -> str:
    """Prefix shared by every id of one scenario (for LIKE 'prefix%')."""
    return f'{tag:08x}-{scenario:04x}-'


def parse_id(text: str) -> tuple[int, int, int, int] | None:
    """(tag, scenario, pub, seq) of an id made by msg_id, None for anything else."""
    try:
        tag, scen, pub, var, seq = text.split('-')
        if len(tag) != 8 or len(scen) != 4 or pub[0] != '4' or var != '8000':
            return None
        return int(tag, 16), int(scen, 16), int(pub[1:], 16), int(seq, 16)
    except (ValueError, IndexError):
        return None


# -- statistics ------------------------------------------------------------------

def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# -- environment of the ROS processes --------------------------------------------

def ros_env(domain_id: int) -> dict[str, str]:
    """The environment of every ROS process: loopback discovery, the run's domain."""
    env = os.environ.copy()
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.pop('ROS_STATIC_PEERS', None)
    env['PYTHONUNBUFFERED'] = '1'
    return env


def off_loopback(script: str) -> bool:
    """True (having said why on stderr) when this network namespace holds an interface
    but lo: a benchmark must then refuse to run."""
    # /proc/net is per network namespace (/sys/class/net shows the mount's namespace)
    with open('/proc/self/net/dev') as f:
        names = sorted(line.split(':')[0].strip() for line in f.readlines()[2:] if ':' in line)
    if names == ['lo']:
        return False
    print(f'refusing to run: this network namespace has {names}; run inside '
          f"`unshare -n sh -c 'ip link set lo up && python bench/{script}'`", file=sys.stderr)
    return True


# -- processes -------------------------------------------------------------------

class JsonLineProcess:
    """A child speaking JSON lines: commands on stdin, events on stdout.

    stderr goes to a log file. Reading is done by a thread so a wait is bounded.
    """

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, name: str):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, bufsize=1, preexec_fn=die_with_parent)
        self.pid = self.proc.pid
        self._events: list[dict] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith('{'):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self._events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, obj: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + '\n')
        self.proc.stdin.flush()

    def wait_event(self, kind: str, timeout: float, **match) -> dict | None:
        """The first not yet consumed event of this kind (and fields), or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self._events):
                    if ev.get('event') == kind and all(ev.get(k) == v for k, v in match.items()):
                        return self._events.pop(i)
                remaining = deadline - time.monotonic()
                exited = self.proc.poll() is not None and not self._reader.is_alive()
                if remaining <= 0 or exited:
                    return None
                self._cond.wait(min(remaining, 0.5))

    def stop(self, timeout: float = 10.0) -> int | None:
        """Ask politely (quit command, then SIGINT), then SIGKILL; by PID only."""
        if self.proc.poll() is None:
            try:
                self.send({'cmd': 'quit'})
            except (BrokenPipeError, OSError, ValueError):
                pass
        stop_pid(self.proc, timeout, grace=5.0)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors='replace')[-chars:]
        except OSError:
            return ''


def stop_pid(proc: subprocess.Popen, timeout: float = 10.0, grace: float = 0.0) -> None:
    """Stop one child we started, by its PID: wait `grace` s (it was asked to quit),
    then SIGINT (timeout s), SIGTERM, SIGKILL."""
    import signal
    for sig, wait in ((None, grace), (signal.SIGINT, timeout),
                      (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if proc.poll() is not None:
            return
        if sig is not None:
            try:
                proc.send_signal(sig)
            except OSError:
                return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# -- CPU and memory of a process --------------------------------------------------

def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ProcessMeter:
    """CPU time and memory of one process (and its children), sampled in a thread.

    window(): CPU% (100 = one core) between two marks, the CPU seconds of the process
    itself and of its children apart, peak and mean RSS in the window;
    peak_rss_mib(): kernel's VmHWM (peak resident set over its life).
    """

    def __init__(self, pid: int, interval: float = 0.25):
        import psutil
        self._psutil = psutil
        self.pid = pid
        self.proc = psutil.Process(pid)
        self.interval = interval
        # (monotonic, cpu s of the tree, rss B, cpu s of the process itself)
        self._samples: list[tuple[float, float, int, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sample()
        self._thread.start()

    def _tree(self):
        procs = [self.proc]
        try:
            procs += self.proc.children(recursive=True)
        except self._psutil.Error:
            pass
        return procs

    def sample(self) -> tuple[float, float, int, float] | None:
        cpu = own = 0.0
        rss = 0
        alive = False
        for p in self._tree():
            try:
                t = p.cpu_times()
                cpu += t.user + t.system
                if p.pid == self.pid:
                    own = t.user + t.system
                rss += p.memory_info().rss
                alive = True
            except self._psutil.Error:
                continue
        if not alive:
            return None
        s = (time.monotonic(), cpu, rss, own)
        with self._lock:
            self._samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.sample() is None:
                return

    def mark(self) -> float:
        self.sample()
        return time.monotonic()

    def window(self, t0: float, t1: float) -> dict:
        with self._lock:
            inside = [s for s in self._samples if t0 - 1e-6 <= s[0] <= t1 + 1e-6]
        if len(inside) < 2:
            return {'cpu_percent': None, 'rss_peak_mib': None, 'rss_mean_mib': None,
                    'samples': len(inside)}
        wall = inside[-1][0] - inside[0][0]
        cpu = inside[-1][1] - inside[0][1]
        own = inside[-1][3] - inside[0][3]
        rss = [s[2] for s in inside]
        return {'cpu_percent': round(100.0 * cpu / wall, 1) if wall > 0 else None,
                'cpu_seconds': round(cpu, 3), 'wall_seconds': round(wall, 2),
                # the process apart from its children (the logger node and its writer)
                'cpu_seconds_self': round(own, 3), 'cpu_seconds_children': round(cpu - own, 3),
                'rss_peak_mib': round(max(rss) / 2**20, 1),
                'rss_mean_mib': round(sum(rss) / len(rss) / 2**20, 1),
                'samples': len(inside)}

    def peak_rss_mib(self) -> float:
        pids = [p.pid for p in self._tree()]
        hwm = max((_vm_hwm_kib(pid) for pid in pids), default=0)
        with self._lock:
            sampled = max((s[2] for s in self._samples), default=0)
        return round(max(hwm * 1024, sampled) / 2**20, 1)

    def threads(self) -> dict:
        """{tid: (name, cpu s, run-queue wait s)} of the process's threads, from /proc."""
        tick = os.sysconf('SC_CLK_TCK')
        out = {}
        base = f'/proc/{self.pid}/task'
        try:
            tids = os.listdir(base)
        except OSError:
            return out
        for tid in tids:
            try:
                with open(f'{base}/{tid}/stat') as f:
                    stat = f.read()
                with open(f'{base}/{tid}/schedstat') as f:
                    sched = f.read().split()
            except OSError:
                continue
            name = stat[stat.index('(') + 1:stat.rindex(')')]
            fields = stat[stat.rindex(')') + 2:].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick
            out[int(tid)] = (name, cpu, int(sched[1]) / 1e9)
        return out

    def thread_window(self, before: dict, after: dict, wall: float) -> list[dict]:
        """Per thread: CPU % and % of the time spent runnable but waiting for a CPU."""
        rows = []
        for tid, (name, cpu, wait) in after.items():
            name0, cpu0, wait0 = before.get(tid, (name, 0.0, 0.0))
            d_cpu, d_wait = cpu - cpu0, wait - wait0
            if d_cpu > 0.01 * wall or d_wait > 0.01 * wall:
                rows.append({'tid': tid, 'main': tid == self.pid, 'name': name,
                             'cpu_percent': round(100 * d_cpu / wall, 1),
                             'runq_wait_percent': round(100 * d_wait / wall, 1)})
        return sorted(rows, key=lambda r: -r['cpu_percent'])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class SystemMeter:
    """How busy the machine is, and how much of it is not us (this process and
    every descendant): others = all busy CPU - ours, in cores, between two marks."""

    def __init__(self):
        import psutil
        self._psutil = psutil
        self.me = psutil.Process()

    def _ours(self) -> float:
        t = self.me.cpu_times()
        # children_*: what our children that already ended (and were reaped) used
        total = t.user + t.system + t.children_user + t.children_system
        for p in self.me.children(recursive=True):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except self._psutil.Error:
                continue
        return total

    def mark(self) -> tuple[float, float, float, tuple]:
        t = self._psutil.cpu_times()
        busy = t.user + t.system + t.nice + getattr(t, 'irq', 0) + getattr(t, 'softirq', 0) \
            + getattr(t, 'steal', 0)
        return (time.monotonic(), busy, self._ours(), os.getloadavg())

    @staticmethod
    def window(m0, m1) -> dict:
        wall = m1[0] - m0[0]
        if wall <= 0:
            return {}
        busy = (m1[1] - m0[1]) / wall
        ours = (m1[2] - m0[2]) / wall
        return {'busy_cores': round(busy, 2), 'ours_cores': round(ours, 2),
                'others_cores': round(max(0.0, busy - ours), 2),
                'loadavg1_start': round(m0[3][0], 2), 'loadavg1_end': round(m1[3][0], 2)}
