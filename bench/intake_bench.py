#!/usr/bin/env python3
"""Intake benchmark: the logger's intake at a fixed offered rate, with and without trouble.

One logger, one private MariaDB and the same publishers (bench/ingest_bench.py's),
three scenarios per round, side by side:
  (a) baseline: publishers paced at --rate msg/s for --seconds;
  (b) sessions: the same, while a client calls /session/start for a robot that never
      reported (it waits session_start_wait) and then --pairs StartSession/EndSession
      pairs as fast as it can;
  (c) stalled database: the same, while another connection holds
      `LOCK TABLES CommandLogs WRITE` for --stall-seconds inside the window.
Per scenario: published, received by the node and stored (its journal's
acknowledgement, as ingest_bench counts received_by_logger), lost, lost after receipt,
lost before receipt as the logger itself counted it (IntakeLosses) and whether that
agrees with the ids (lost - lost after receipt), the intake rate (rows / (last receive -
first publish)), publish-to-receive p50/p99/max, CPU per message stored of the whole
logger (node + writer + MariaDB); then the ratios (b)/(a) and (c)/(a). Figures, no verdict.

With --ladder R1,R2,...: the zero-loss rate of each scenario instead of rounds: the
rates in turn (each scenario at one rate before the next rate), a scenario no longer
climbing after its first step with a lost or doubled message; its zero-loss rate is
the highest step below that.

Run it only inside a private network namespace (it refuses otherwise):
  cd /work/main && source scripts/env.sh && export ROS_DOMAIN_ID=33 &&
  unshare -n sh -c 'ip link set lo up && exec python bench/intake_bench.py'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from common import id_prefix, off_loopback, REPO_ROOT, ros_env
from ingest_bench import Bench, DATABASE, log, MIGRATION_USER

SCENARIOS = ('baseline', 'sessions', 'db_stalled')


class Disturbance(threading.Thread):
    """Runs one scenario's trouble from a thread, starting `delay` s into the window."""

    def __init__(self, delay: float, action):
        super().__init__(daemon=True)
        self.delay, self.action, self.result = delay, action, {}

    def run(self) -> None:
        time.sleep(self.delay)
        self.result = self.action()


class IntakeBench(Bench):

    def session_burst(self) -> dict:
        from robot_interfaces.srv import EndSession, StartSession
        serial = self.serials[0]
        outcome = {'unreported': None, 'pairs_ok': 0, 'failures': []}

        def unreported():
            began = time.monotonic()
            answer = self.client.call(StartSession, '/session/start', StartSession.Request(
                user_id='test_admin', robot_serial='SN-NEVER-REPORTED'), timeout=30.0)
            outcome['unreported'] = {'message': answer.message,
                                     'answered_after_s': round(time.monotonic() - began, 2)}
        waiting = threading.Thread(target=unreported, daemon=True)
        waiting.start()
        began = time.monotonic()
        for _ in range(self.args.pairs):
            start = self.client.call(StartSession, '/session/start', StartSession.Request(
                user_id='test_admin', robot_serial=serial, note='intake bench'), timeout=30.0)
            end = self.client.call(EndSession, '/session/end', EndSession.Request(
                session_id=start.session_id, robot_serial=serial), timeout=30.0)
            if start.success and end.success:
                outcome['pairs_ok'] += 1
            else:
                outcome['failures'].append(start.message if not start.success else end.message)
        outcome['pairs_s'] = round(time.monotonic() - began, 2)
        waiting.join(30.0)
        outcome['failures'] = outcome['failures'][:5]
        return outcome

    def stall_database(self) -> dict:
        import pymysql
        creds = self.mariadb.credentials(MIGRATION_USER, DATABASE)
        conn = pymysql.connect(host=creds.host, port=creds.port, user=creds.user,
                               password=creds.password(), database=DATABASE,
                               ssl_disabled=True)
        try:
            with conn.cursor() as cur:
                cur.execute('LOCK TABLES CommandLogs WRITE')
                locked = time.monotonic()
                time.sleep(self.args.stall_seconds)
                cur.execute('UNLOCK TABLES')
            return {'held_s': round(time.monotonic() - locked, 2)}
        finally:
            conn.close()

    def scenario(self, pubs, meter, label: str, rate: float) -> dict:
        a = self.args
        per_pub = int(rate * a.seconds / len(pubs))
        trouble = {'sessions': self.session_burst, 'db_stalled': self.stall_database}.get(label)
        disturbance = Disturbance(a.disturb_after, trouble) if trouble else None
        if disturbance:
            disturbance.start()
        diagnosed0 = self.diagnosed_losses()
        out = self.ours_scenario(pubs, meter, rate, per_pub, label)
        # the same count as /diagnostics says it (ours_scenario waited for a fresh one)
        out['lost_in_diagnostics'] = self.diagnosed_losses() - diagnosed0
        if disturbance:
            disturbance.join(60.0)
            out['disturbance'] = disturbance.result
        rows = self.db.scenario_rows(id_prefix(self.tag, out['scenario']))
        received = sorted(float(r[1]) + float(r[4]) / 1000.0 for r in rows if r[4] is not None)
        if received:
            out['intake_rate'] = round(len(received) / max(1e-9, received[-1] - out['t_first']),
                                       1)
            # a stalled intake shows here first: DDS buffers up to the history depth
            out['receive_max_ms'] = max(float(r[4]) for r in rows if r[4] is not None)
        log(f'    {label}: intake {out.get("intake_rate")} msg/s, '
            f'disturbance {out.get("disturbance")}')
        return out

    def start_client(self, name: str) -> None:
        """The harness's ROS node: session calls, and the logger's /diagnostics."""
        from diagnostic_msgs.msg import DiagnosticArray
        from robot_db_testing.ros_client import RosTestClient
        self.client = RosTestClient(name)
        self.diagnostics = self.client.collect(DiagnosticArray, '/diagnostics', 10)

    def diagnosed_losses(self) -> int:
        """Our robots' command_result losses in the logger's latest intake status."""
        for array in reversed(self.diagnostics):
            for status in array.status:
                if status.name.endswith(': intake'):
                    values = {kv.key: kv.value for kv in status.values}
                    return sum(int(values.get(f'{ns}/command_result lost', 0))
                               for ns in self.namespaces)
        return 0

    def run_rounds(self) -> list[dict]:
        """--rounds rounds of the three scenarios at --rate."""
        a = self.args
        return self.run(lambda side: [{label: self.scenario(side['pubs'], side['meter'], label,
                                                            a.rate) for label in SCENARIOS}
                                      for _ in self.each_round(a.rounds)])

    def run_ladder(self) -> dict:
        """{scenario: [its steps]}: up the --ladder, each scenario until its first loss."""
        def climb(side) -> dict:
            steps = {label: [] for label in SCENARIOS}
            climbing = list(SCENARIOS)
            for rate in self.each_round(self.args.ladder):
                for label in list(climbing):
                    out = self.scenario(side['pubs'], side['meter'], label, rate)
                    steps[label].append(out)
                    if not out['zero_loss']:
                        climbing.remove(label)
                if not climbing:
                    break
            return steps
        return self.run(climb)

    def each_round(self, items):
        """Yields each round's item (a number or a rate) after waiting for a quieter
        machine."""
        items = range(items) if isinstance(items, int) else items
        for number, item in enumerate(items, 1):
            self.wait_quiet(f'round {number}')
            yield item

    def run(self, measure):
        self.start_db()
        self.db_meter = None
        self.db.rows("INSERT INTO Users (user_id, name, role) VALUES ('test_admin', 'bench', "
                     "'Admin')")
        side = self.setup_ours()
        try:
            self.start_client('intake_bench_client')
            result = measure(side)
            self.client.close()
            return result
        finally:
            side['teardown']()


AGREES = {True: '', False: '!', None: '?'}  # the logger's loss count against the ids'


def figures(o: dict) -> dict:
    diag = o.get('lost_in_diagnostics')
    return {'published': o['published'], 'received': o['received_by_logger'],
            'stored': o['distinct'], 'lost': o['lost'],
            'lost_after_receipt': o['lost_after_receipt'],
            # '!': the logger's count disagrees with the ids' (lost - lost after receipt)
            'lost_by_logger': f'{o["lost_counted_by_logger"]}{AGREES[o["loss_count_agrees"]]}',
            # '!': /diagnostics says otherwise than IntakeLosses
            'lost_in_diag': f'{diag}{"" if diag == o["lost_counted_by_logger"] else "!"}',
            'intake_rate': o.get('intake_rate'),
            'receive_p50_ms': o.get('publish_to_receive_ms', {}).get('p50'),
            'receive_p99_ms': o.get('publish_to_receive_ms', {}).get('p99'),
            'receive_max_ms': o.get('receive_max_ms'),
            'cpu_us_per_msg': o.get('cpu_us_per_msg', {}).get('whole')}


KEYS = ('published', 'received', 'stored', 'lost', 'lost_after_receipt', 'lost_by_logger',
        'lost_in_diag', 'intake_rate', 'receive_p50_ms', 'receive_p99_ms', 'receive_max_ms',
        'cpu_us_per_msg')
LEGEND = ('lost_by_logger: lost before receipt as the logger counted it (IntakeLosses), '
          '"!" where lost - lost_after_receipt differs ("?": not known, other robots '
          'share the journal); lost_in_diag: the same in /diagnostics '
          '(lost_before_receipt per stream, delta; "!" where it differs); cpu_us_per_msg: '
          'node + writer + MariaDB CPU per message stored')


def report(rounds: list[dict]) -> str:
    keys = KEYS
    lines = ['round  scenario     ' + ' '.join(f'{k:>12}' for k in keys)
             + '   (b)/(a) or (c)/(a): intake_rate, received, lost']
    for number, scenarios in enumerate(rounds, 1):
        base = figures(scenarios['baseline'])
        for label in SCENARIOS:
            f = figures(scenarios[label])
            ratio = ''
            if label != 'baseline':
                ratio = '   ' + ', '.join(
                    f'{f[k] / base[k]:.3f}' if base[k] else f'{f[k]} vs {base[k]}'
                    for k in ('intake_rate', 'received', 'lost'))
            lines.append(f'{number:>5}  {label:<12} ' +
                         ' '.join(f'{str(f[k]):>12}' for k in keys) + ratio)
    return '\n'.join(lines + [LEGEND])


def ladder_report(steps: dict) -> str:
    lines = ['   rate  scenario     ' + ' '.join(f'{k:>12}' for k in KEYS)
             + '  publish/s  0-loss']
    for label in SCENARIOS:
        for o in steps[label]:
            f = figures(o)
            lines.append(f'{o["offered_rate"]:>7.0f}  {label:<12} '
                         + ' '.join(f'{str(f[k]):>12}' for k in KEYS)
                         + f' {o["publish_rate"]:>10} {"yes" if o["zero_loss"] else "NO":>7}')
    lines += [LEGEND, '', 'ZERO-LOSS RATE (highest step with nothing lost or doubled, below '
              'the first that lost)']
    for label in SCENARIOS:
        rate = zero_loss_rate(steps[label])
        ends = 'lost at ' + str(steps[label][-1]['offered_rate']) \
            if steps[label] and not steps[label][-1]['zero_loss'] else 'top of the ladder'
        lines.append(f'  {label:<12} {rate if rate is not None else "none"} msg/s offered '
                     f'({ends})')
    return '\n'.join(lines)


def zero_loss_rate(steps: list[dict]) -> float | None:
    passed = [o['offered_rate'] for o in steps if o['zero_loss']]
    return max(passed) if passed else None


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 2)[2])
    ap.add_argument('--rate', type=float, default=2000.0, help='offered msg/s in aggregate')
    ap.add_argument('--seconds', type=float, default=20.0, help='publishing window per scenario')
    ap.add_argument('--rounds', type=int, default=1, help='rounds of the three scenarios')
    ap.add_argument('--ladder', type=lambda t: [float(x) for x in t.split(',') if x],
                    help='offered msg/s, e.g. 1000,2000,4000,8000: each scenario\'s zero-loss '
                         'rate instead of --rounds at --rate'),
    ap.add_argument('--pairs', type=int, default=50, help='StartSession/EndSession pairs')
    ap.add_argument('--stall-seconds', type=float, default=10.0, help='CommandLogs lock held')
    ap.add_argument('--disturb-after', type=float, default=3.0,
                    help='s into the window the trouble begins')
    ap.add_argument('--publishers', type=int, default=2)
    ap.add_argument('--depth', type=int, default=1000)
    ap.add_argument('--db-port', type=int, default=17859)
    ap.add_argument('--domain-id', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', '33')))
    ap.add_argument('--wait-idle', type=float, default=20.0)
    ap.add_argument('--others-max', type=float, default=0.25)
    ap.add_argument('--logger-cmd', help=argparse.SUPPRESS)  # a stand-in, as ingest_bench's
    a = ap.parse_args(argv)
    # what ingest_bench's Bench reads, at its defaults
    a.nice, a.keep_pace, a.max_drain = 0, 0.9, 120.0
    a.stall = max(8.0, a.stall_seconds + 5.0)  # a drain wait outlasts the lock
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    if off_loopback('intake_bench.py'):
        return 2
    # this process's own ROS client: loopback, the run's domain
    os.environ.update(ros_env(a.domain_id))
    bench = IntakeBench(a)
    try:
        rounds = bench.run_ladder() if a.ladder else bench.run_rounds()
    finally:
        for p in list(bench.children):
            bench.stop_all([p])
        bench.mariadb.stop()
    out = bench.out_dir / f'intake-{time.strftime("%Y%m%d-%H%M%S")}.json'
    out.write_text(json.dumps({'args': vars(a), 'rounds': rounds,
                               'problems': bench.result['problems']}, indent=2, default=str))
    print(ladder_report(rounds) if a.ladder else report(rounds))
    log(f'JSON: {out.relative_to(REPO_ROOT)}; logs: {bench.run_dir.relative_to(REPO_ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
