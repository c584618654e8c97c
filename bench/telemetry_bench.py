#!/usr/bin/env python3
"""Telemetry benchmark: the lab's and a fleet's telemetry through db_logger, beside commands.

One logger (config/pipeline.yaml: telemetry.record session, no rate limit), one private
MariaDB, and per round three scenarios, each with the command ingest of
bench/intake_bench.py's baseline (--rate msg/s of CommandResult for --seconds):
  (a) commands only (no telemetry publisher);
  (b) lab: --lab robots (3) publishing odom 20, imu 20, wheel_speeds 10, battery 1 Hz and
      a status at 1 Hz (bench/telemetry_publisher.py), each in a session;
  (c) fleet: --fleet robots (100) the same, over --fleet-procs processes (~5,100 msg/s).
Telemetry figures: published, received (the writer's TelemetryCoverage count), stored,
lost after receipt (received - stored: must be 0), lost on the wire (published -
received) beside the logger's own estimates (expected - received, and the gaps in the
publishers' sequence numbers it stored in IntakeLosses), samples stored/s,
publish-to-commit p50/p99 (a poller sees each new OdomSamples row of --probe robots
every 10 ms: latency = first seen - stamp, so up to 10 ms high), CPU and memory of the
node, its writer process and MariaDB, and the database size per robot-hour at these
rates. Command figures of (b) and (c) as ratios to (a). Figures, no verdict.

Run it only inside a private network namespace (it refuses otherwise):
  cd /work/main && source scripts/env.sh && export ROS_DOMAIN_ID=72 &&
  unshare -n sh -c 'ip link set lo up && exec python bench/telemetry_bench.py'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from common import JsonLineProcess, off_loopback, percentile, ProcessMeter, REPO_ROOT, \
    ros_env
from ingest_bench import BENCH_DIR, log
from intake_bench import figures as command_figures, IntakeBench

STREAMS = ('odom', 'imu', 'wheel_speeds', 'battery')
TABLES = {'odom': 'OdomSamples', 'imu': 'ImuSamples', 'wheel_speeds': 'WheelSamples',
          'battery': 'BatterySamples', 'status': 'StatusSamples'}
PER_HOUR = {'odom': 20 * 3600, 'imu': 20 * 3600, 'wheel_speeds': 10 * 3600,
            'battery': 3600, 'status': 3600}
SCENARIOS = ('commands_only', 'lab', 'fleet')


class LatencyProbe(threading.Thread):
    """Polls OdomSamples of a few robots; publish-to-commit = first seen - stamp."""

    def __init__(self, bench: IntakeBench, robot_ids: list[int]):
        super().__init__(daemon=True)
        self.bench, self.robot_ids = bench, robot_ids
        self.latencies_ms: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = self.bench.db_conn()
        newest = {r: 0 for r in self.robot_ids}  # exact (Decimal): a float would see rows again
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            while not self.stop.wait(0.01):
                for robot_id in self.robot_ids:
                    cur.execute('SELECT UNIX_TIMESTAMP(stamp) FROM OdomSamples WHERE '
                                'robot_id = %s AND stamp > FROM_UNIXTIME(%s) ORDER BY stamp',
                                (robot_id, newest[robot_id]))
                    rows = cur.fetchall()
                    conn.commit()  # a fresh snapshot for the next poll
                    seen = time.time()
                    for (stamp,) in rows:
                        self.latencies_ms.append((seen - float(stamp)) * 1000.0)
                    if rows:
                        newest[robot_id] = rows[-1][0]
        conn.close()


class TelemetryBench(IntakeBench):
    """IntakeBench's scenario (commands, intake rate from received_at) plus telemetry."""

    def db_conn(self):
        import pymysql
        creds = self.mariadb.credentials('robot_user', 'bench_ingest')
        return pymysql.connect(host=creds.host, port=creds.port, user=creds.user,
                               password=creds.password(), database='bench_ingest',
                               ssl_disabled=True)

    def start_robots(self, label: str, robots: int, procs: int) -> tuple[list, list[str]]:
        """Telemetry publisher processes for `robots` new robots; their serials."""
        scenario = self.scenario_no + 1
        prefix, serial_prefix = f'/tele_{scenario}_r', f'TELE-{self.tag:08x}-{scenario}-'
        per = -(-robots // procs)
        out = []
        for first in range(0, robots, per):
            argv = [sys.executable, str(BENCH_DIR / 'telemetry_publisher.py'),
                    '--first', str(first), '--robots', str(min(per, robots - first)),
                    '--prefix', prefix, '--serial-prefix', serial_prefix]
            p = JsonLineProcess(argv, self.env, self.run_dir / f'telemetry-{label}-{first}.log',
                                f'{label} telemetry {first}')
            self.children.append(p)
            out.append(p)
        for p in out:
            ready = p.wait_event('ready', 120)
            if ready is None or ready['matched'] < ready['sensors']:
                self.problem(f'{p.name}: readers matched {ready}: {p.log_tail()}')
        return out, [f'{serial_prefix}{n:03d}' for n in range(robots)]

    def sessions(self, serials: list[str], start: bool) -> list[int]:
        from robot_interfaces.srv import EndSession, StartSession
        ids = []
        for serial in serials:
            if start:
                answer = self.client.call(StartSession, '/session/start', StartSession.Request(
                    user_id='test_admin', robot_serial=serial, note='telemetry bench'), 30.0)
            else:
                answer = self.client.call(EndSession, '/session/end', EndSession.Request(
                    session_id=0, robot_serial=serial), 30.0)
            if not answer.success:
                self.problem(f'{serial}: {answer.message}')
            ids.append(answer.session_id)
        return ids

    def wait_reported(self, serials: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        marks = ','.join(['%s'] * len(serials))
        while time.monotonic() < deadline:
            if self.db.scalar(f'SELECT COUNT(*) FROM Robots WHERE serial IN ({marks}) AND '
                              'status_stamp IS NOT NULL', tuple(serials)) == len(serials):
                return
            time.sleep(0.2)
        self.problem(f'not every robot reported within {timeout:.0f} s')

    def settle(self, session_ids: list[int], timeout: float = 120.0) -> int:
        marks = ','.join(['%s'] * len(session_ids))
        sql = ' + '.join(f'(SELECT COUNT(*) FROM {t} WHERE session_id IN ({marks}))'
                         for t in TABLES.values())
        last, since, deadline = None, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.db.scalar('SELECT ' + sql, tuple(session_ids) * len(TABLES))
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > 2.0:
                break
            time.sleep(0.25)
        return int(last or 0)

    def telemetry_scenario(self, side: dict, label: str, robots: int, procs: int) -> dict:
        a = self.args
        pubs, serials = self.start_robots(label, robots, procs)
        self.wait_reported(serials, 60.0)
        session_ids = self.sessions(serials, start=True)
        marks = ','.join(['%s'] * len(serials))
        robot_ids = [r[0] for r in self.db.rows(
            f'SELECT robot_id FROM Robots WHERE serial IN ({marks}) ORDER BY robot_id',
            tuple(serials))][:a.probe]
        probe = LatencyProbe(self, robot_ids)
        probe.start()
        window = a.seconds + 2.0
        loss_rows0 = self.logger_losses()[1]
        acked0 = self.journal_acked()
        m = self.meters_mark()
        t0 = time.time() + 0.5
        for p in pubs:
            p.send({'cmd': 'run', 't0': t0, 'seconds': window})
        self.journal_shared = True
        commands = self.scenario(side['pubs'], side['meter'], label, a.rate)
        self.journal_shared = False
        dones = [p.wait_event('done', window + 120) for p in pubs]
        m_end = self.meters_mark()
        self.sessions(serials, start=False)
        stored_total = self.settle(session_ids)
        loss_rows = self.losses_settled()[1] - loss_rows0
        acked = self.journal_settled() - acked0
        probe.stop.set()
        probe.join(5.0)
        sid_marks = ','.join(['%s'] * len(session_ids))
        published = {s: sum(d['published'][s] for d in dones if d) for s in STREAMS}
        coverage = {s: (int(e or 0), int(r or 0)) for s, e, r in self.db.rows(
            f'SELECT stream, SUM(expected), SUM(received) FROM TelemetryCoverage '
            f'WHERE session_id IN ({sid_marks}) GROUP BY stream', tuple(session_ids))}
        stored = {s: int(self.db.scalar(f'SELECT COUNT(*) FROM {TABLES[s]} WHERE session_id '
                                        f'IN ({sid_marks})', tuple(session_ids)))
                  for s in (*STREAMS, 'status')}
        lat = sorted(probe.latencies_ms)
        out = {'robots': robots, 'window_s': window, 'commands': commands,
               'published': published, 'coverage_expected_received': coverage,
               'stored': stored, 'stored_total': stored_total,
               'late_publisher_ticks': [d and d['late_ticks'] for d in dones]}
        received = sum(r for _, r in coverage.values())
        out['telemetry'] = {
            'published': sum(published.values()), 'received': received,
            'stored': sum(stored[s] for s in STREAMS),
            'lost_after_receipt': received - sum(stored[s] for s in STREAMS),
            'lost_on_wire': sum(published.values()) - received,
            'lost_estimated_by_logger': sum(e - r for e, r in coverage.values()),
            # the gaps in the publishers' sequence numbers the intake counted (IntakeLosses)
            'lost_counted_by_logger': sum(self.stream_losses(serials).get(s, 0)
                                          for s in STREAMS),
            'stored_per_s': round(sum(stored[s] for s in STREAMS) / window, 1),
            'commit_p50_ms': round(percentile(lat, 50), 1) if lat else None,
            'commit_p99_ms': round(percentile(lat, 99), 1) if lat else None,
            'probe_rows': len(lat),
            # every record the node journalled in the scenario (commands, samples, statuses,
            # loss reports) against the rows they became: the journal cannot tell them apart
            'journal_records': acked,
            'journal_minus_rows': acked - loss_rows - commands['distinct'] - stored_total}
        out['processes'] = self.meters_window(m, m_end)
        self.stop_all(pubs)
        log(f'    {label}: telemetry {out["telemetry"]}')
        return out

    def stream_losses(self, serials: list[str]) -> dict:
        """{stream: lost before receipt} of these robots, as the logger counted."""
        marks = ','.join(['%s'] * len(serials))
        return {stream: int(lost) for stream, lost in self.db.rows(
            'SELECT l.stream, SUM(l.lost) FROM IntakeLosses l JOIN Robots r USING (robot_id) '
            f'WHERE r.serial IN ({marks}) GROUP BY l.stream', tuple(serials))}

    # -- CPU and memory: node (logger minus its writer), writer, MariaDB -----------------
    def meters_mark(self) -> dict:
        return {'machine': self.sys.mark(),
                **{name: meter.mark() for name, meter in self.meters.items()}}

    def meters_window(self, m0: dict, m1: dict) -> dict:
        w = {name: meter.window(m0[name], m1[name]) for name, meter in self.meters.items()}
        # busy_cores: the whole machine (2 cores here), publishers and others included
        w['machine'] = self.sys.window(m0['machine'], m1['machine'])
        logger, writer = w['logger_and_writer'], w['writer']
        if logger.get('cpu_percent') is not None and writer.get('cpu_percent') is not None:
            w['node'] = {'cpu_percent': round(logger['cpu_percent'] - writer['cpu_percent'], 1),
                         'rss_peak_mib': round(logger['rss_peak_mib'] - writer['rss_peak_mib'],
                                               1)}
        return w

    def size_per_robot_hour(self) -> dict:
        self.db.rows('ANALYZE TABLE ' + ', '.join(TABLES.values()))
        out = {}
        for stream, table in TABLES.items():
            rows, data, index = self.db.rows(
                'SELECT table_rows, data_length, index_length FROM information_schema.tables '
                'WHERE table_schema = DATABASE() AND table_name = %s', (table,))[0]
            per_row = (data + index) / rows if rows else None
            out[stream] = {'rows': rows, 'bytes_per_row': per_row and round(per_row, 1),
                           'mib_per_robot_hour': per_row and round(
                               per_row * PER_HOUR[stream] / 2**20, 2)}
        out['total_mib_per_robot_hour'] = round(sum(
            v['mib_per_robot_hour'] or 0 for v in out.values()), 2)
        return out

    def run_rounds(self) -> dict:
        import psutil
        a = self.args
        self.start_db()
        self.db_meter = None
        self.db.rows("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'bench', "
                     "'Admin')")
        side = self.setup_ours()
        writer_pid = psutil.Process(side['meter'].pid).children()[0].pid
        self.meters = {'logger_and_writer': side['meter'], 'writer': ProcessMeter(writer_pid),
                       'mariadbd': ProcessMeter(self.mariadb.pid())}
        try:
            self.start_client('telemetry_bench_client')
            rounds = []
            for number in range(a.rounds):
                self.wait_quiet(f'round {number + 1}')
                m = self.meters_mark()
                base = self.scenario(side['pubs'], side['meter'], 'commands_only', a.rate)
                rounds.append({'commands_only': {'commands': base, 'processes':
                                                 self.meters_window(m, self.meters_mark())},
                               'lab': self.telemetry_scenario(side, 'lab', a.lab, 1),
                               'fleet': self.telemetry_scenario(side, 'fleet', a.fleet,
                                                                a.fleet_procs)})
            self.client.close()
            return {'rounds': rounds, 'size': self.size_per_robot_hour()}
        finally:
            for meter in list(getattr(self, 'meters', {}).values())[1:]:
                meter.stop()
            side['teardown']()


def report(result: dict) -> str:
    lines = ['telemetry            published   received     stored  lost_after  lost_wire'
             '  est_lost  lgr_lost   stored/s  jrnl-rows  p50_ms  p99_ms']
    # (b) and (c) journal samples too: commands' own received count is (a)'s only
    cmd_keys = ('published', 'stored', 'lost', 'lost_by_logger', 'intake_rate',
                'receive_p99_ms')
    proc_lines = []
    cmd_lines = ['commands            ' + ' '.join(f'{k:>18}' for k in cmd_keys)
                 + '   ratio to (a): intake_rate, receive_p99_ms, commit p99 (latency_ms)']
    for number, r in enumerate(result['rounds'], 1):
        base = command_figures(r['commands_only']['commands'])
        base_p99 = r['commands_only']['commands'].get('latency_ms', {}).get('p99')
        for label in SCENARIOS:
            s = r[label]
            if 'telemetry' in s:
                t = s['telemetry']
                lines.append(f'{number} {label:<16} ' + ' '.join(f'{str(t[k]):>10}' for k in (
                    'published', 'received', 'stored', 'lost_after_receipt', 'lost_on_wire',
                    'lost_estimated_by_logger', 'lost_counted_by_logger', 'stored_per_s',
                    'journal_minus_rows')) +
                    f' {str(t["commit_p50_ms"]):>7} {str(t["commit_p99_ms"]):>7}')
            f = command_figures(s['commands'])
            p99 = s['commands'].get('latency_ms', {}).get('p99')
            ratio = ''
            if label != 'commands_only':
                pairs = ((f['intake_rate'], base['intake_rate']),
                         (f['receive_p99_ms'], base['receive_p99_ms']), (p99, base_p99))
                ratio = '   ' + ', '.join(f'{x / y:.3f}' if x and y else f'{x} vs {y}'
                                          for x, y in pairs)
            cmd_lines.append(f'{number} {label:<16} ' + ' '.join(f'{str(f[k]):>18}'
                                                                 for k in cmd_keys) + ratio)
            p = s['processes']
            proc_lines.append(f'{number} {label:<16} ' + '  '.join(
                f'{name} {p.get(name, {}).get("cpu_percent")}% '
                f'{p.get(name, {}).get("rss_peak_mib")} MiB'
                for name in ('node', 'writer', 'mariadbd')) +
                f'  machine busy {p["machine"].get("busy_cores")} cores')
    size = result['size']
    legend = ['lgr_lost, lost_by_logger: lost before receipt as the logger counted it '
              '(IntakeLosses: gaps in the publishers\' sequence numbers); "!" where the '
              'commands\' lost - lost after receipt differs ("?": not known, the robots\' '
              'samples share the journal)']
    return '\n'.join(lines + [''] + cmd_lines + legend + ['', 'CPU (100% = one core), peak RSS'] +
                     proc_lines + ['', 'database size per robot-hour at default rates: ' +
                                   ', '.join(f'{s} {size[s]["bytes_per_row"]} B/row '
                                             f'{size[s]["mib_per_robot_hour"]} MiB'
                                             for s in TABLES) +
                                   f'; total {size["total_mib_per_robot_hour"]} MiB'])


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 2)[2])
    ap.add_argument('--rate', type=float, default=2000.0, help='command msg/s in aggregate')
    ap.add_argument('--seconds', type=float, default=20.0, help='publishing window')
    ap.add_argument('--rounds', type=int, default=1)
    ap.add_argument('--lab', type=int, default=3, help='robots of scenario (b)')
    ap.add_argument('--fleet', type=int, default=100, help='robots of scenario (c)')
    ap.add_argument('--fleet-procs', type=int, default=4)
    ap.add_argument('--probe', type=int, default=3, help='robots whose latency is polled')
    ap.add_argument('--publishers', type=int, default=2, help='command publishers')
    ap.add_argument('--depth', type=int, default=1000)
    ap.add_argument('--db-port', type=int, default=17861)
    ap.add_argument('--domain-id', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', '72')))
    ap.add_argument('--wait-idle', type=float, default=20.0)
    ap.add_argument('--others-max', type=float, default=0.25)
    ap.add_argument('--logger-cmd', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.nice, a.keep_pace, a.max_drain, a.stall = 0, 0.9, 180.0, 10.0
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    if off_loopback('telemetry_bench.py'):
        return 2
    os.environ.update(ros_env(a.domain_id))
    bench = TelemetryBench(a)
    try:
        result = bench.run_rounds()
    finally:
        for p in list(bench.children):
            bench.stop_all([p])
        bench.mariadb.stop()
    out = bench.out_dir / f'telemetry-{time.strftime("%Y%m%d-%H%M%S")}.json'
    out.write_text(json.dumps({'args': vars(a), **result,
                               'problems': bench.result['problems']}, indent=2, default=str))
    print(report(result))
    log(f'JSON: {out.relative_to(REPO_ROOT)}; logs: {bench.run_dir.relative_to(REPO_ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
