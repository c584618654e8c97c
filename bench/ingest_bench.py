#!/usr/bin/env python3
"""Ingest benchmark of the db_logger, beside its two references, in one run.

Starts a private MariaDB (own data directory under .local/bench/) and the logger,
drives CommandResult messages from several publisher processes (bench/publisher.py)
and measures, per scenario: rows committed per second, publish-to-commit latency
p50/p99 (CommandLogs.created_at - stamp), lost and duplicated rows beside the losses
the logger itself counted before receipt (IntakeLosses), the logger's CPU and memory
and its CPU per message (node, writer, MariaDB). In the same run, on the same machine:
  (a) a bare rclpy subscriber that only counts the same messages, on the fastest
      executor rclpy offers (bench/bare_subscriber.py) -- the ceiling;
  (b) a copy of the manual's Flask /robot/log server (bench/flask_baseline/), a new
      PyMySQL connection per request, driven by bench/load_generator.py, once with
      PyMySQL as installed and once with SSL negotiation off;
and, when the rm_driver is built, the lab load (3 sim drivers + the logger).

"Zero-loss ingest rate": publishers paced at stepped aggregate rates (the same
ladder, the same publishers for ours and for (a)); a step passes when every
published id arrived exactly once and the sink kept pace (delivered / (last
delivery - first publish) >= --keep-pace x offered). The figure is the sustained
rate of the highest passing step. Flat-out figures are reported beside it.

Run it only inside a private network namespace (it refuses otherwise):
  cd /work/main && source scripts/env.sh && export ROS_DOMAIN_ID=45 &&
  unshare -n sh -c 'ip link set lo up && exec python bench/ingest_bench.py [--quick] [--nice -10]'
(--nice -10 on a shared machine: see bench/README.md)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from common import (REPO_ROOT, JsonLineProcess, ProcessMeter, SystemMeter,  # noqa: E402
                    die_with_parent, id_prefix, off_loopback, parse_id, percentile,
                    ros_env, stop_pid)

from robot_db_testing.private_mariadb import MIGRATION_USER, PrivateMariaDB  # noqa: E402

# this distro's colcon install (scripts/env.sh says which), else Kilted's
INSTALL = Path(os.environ.get('ROBOT_DB_INSTALL') or REPO_ROOT / 'ros2_ws' / 'install')
LOGGER_EXE = INSTALL / 'db_logger' / 'lib' / 'db_logger' / 'db_logger'
MIGRATE_EXE = INSTALL / 'db_logger' / 'lib' / 'db_logger' / 'migrate'
DRIVER_EXE = INSTALL / 'rm_driver' / 'lib' / 'rm_driver' / 'rm_driver'
PARAMS = REPO_ROOT / 'config' / 'pipeline.yaml'
DATABASE = 'bench_ingest'


def log(text: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {text}', flush=True)


# ---------------------------------------------------------------------------------
# database access of the harness (robot_user, SSL off: measuring, not measured)
# ---------------------------------------------------------------------------------

class Db:
    def __init__(self, db: PrivateMariaDB, database: str):
        import pymysql
        creds = db.credentials('robot_user', database)
        self.creds = creds
        self.conn = pymysql.connect(host=creds.host, port=creds.port, user=creds.user,
                                    password=creds.password(), database=database,
                                    charset='utf8mb4', autocommit=True, ssl_disabled=True,
                                    init_command="SET time_zone = '+00:00'")

    def scalar(self, sql: str, args=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
            return row[0] if row else None

    def rows(self, sql: str, args=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def commits(self) -> int:
        """COMMIT statements the server ran so far (the writer commits each batch)."""
        return int(self.rows("SHOW GLOBAL STATUS LIKE 'Com_commit'")[0][1])

    def count_prefix(self, prefix: str) -> int:
        return int(self.scalar('SELECT COUNT(*) FROM CommandLogs WHERE msg_uuid LIKE %s',
                               (prefix + '%',)))

    def scenario_rows(self, prefix: str):
        """(msg_uuid, stamp epoch, created_at epoch, publish-to-commit ms,
        publish-to-receive ms) of one scenario's rows."""
        return self.rows(
            'SELECT msg_uuid, UNIX_TIMESTAMP(stamp), UNIX_TIMESTAMP(created_at), '
            'TIMESTAMPDIFF(MICROSECOND, stamp, created_at) / 1000.0, '
            'TIMESTAMPDIFF(MICROSECOND, stamp, received_at) / 1000.0 '
            'FROM CommandLogs WHERE msg_uuid LIKE %s', (prefix + '%',))


# ---------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------

class Bench:
    last_missing: dict = {}
    # True while other robots' records share the journal: the commands' own
    # received_by_logger (and the loss check that needs it) is then unknown
    journal_shared = False

    def __init__(self, args):
        self.args = args
        self.tag = random.getrandbits(32)
        self.scenario_no = 0
        stamp = time.strftime('%Y%m%d-%H%M%S')
        self.out_dir = REPO_ROOT / '.local' / 'bench'
        self.run_dir = self.out_dir / f'run-{stamp}-{self.tag:08x}'
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.domain_id = args.domain_id
        # reference (a) in a domain of its own: the logger must not hear its publishers
        self.bare_domain_id = args.domain_id + 1 if args.domain_id < 100 else args.domain_id - 1
        self.env = ros_env(self.domain_id)
        self.env['PYTHONIOENCODING'] = 'utf-8'
        # the server as the lab runs it: MySQL 8's default buffer pool, not the tests' 64M
        self.mariadb = PrivateMariaDB(self.run_dir / 'mariadb', args.db_port, buffer_pool='128M')
        self.db: Db | None = None
        self.children: list = []          # everything we started, stopped in finally
        self.sys = SystemMeter()
        self.result: dict = {
            'started': datetime.datetime.now(datetime.timezone.utc).isoformat(),
            'tag': f'{self.tag:08x}', 'ros_domain_id': self.domain_id,
            'ros_domain_id_bare': self.bare_domain_id,
            'machine': machine_facts(), 'args': vars(args), 'ours': {}, 'bare': {},
            'flask': {}, 'lab': {}, 'problems': []}
        self.serials = [f'BENCH-{self.tag:08x}-P{i}' for i in range(args.publishers)]
        self.namespaces = [f'/bench_p{i}' for i in range(args.publishers)]

    def problem(self, text: str) -> None:
        log(f'PROBLEM: {text}')
        self.result['problems'].append(text)

    def wait_quiet(self, phase: str) -> None:
        """Wait (bounded by --wait-idle s) until other processes use < --others-max
        cores over 3 s: this machine is shared, and what others run is not ours."""
        deadline = time.monotonic() + self.args.wait_idle
        while True:
            m0 = self.sys.mark()
            time.sleep(3.0)
            w = self.sys.window(m0, self.sys.mark())
            if w['others_cores'] < self.args.others_max:
                break
            if time.monotonic() > deadline:
                self.problem(f'{phase}: the machine stayed busy with other processes '
                             f'({w["others_cores"]} cores, load {w["loadavg1_end"]}) for '
                             f'{self.args.wait_idle:.0f} s; measuring anyway')
                break
            log(f'    waiting for a quieter machine: others use {w["others_cores"]} cores, '
                f'load {w["loadavg1_end"]}')
        self.result.setdefault('quiet_checks', {})[phase] = w

    def next_scenario(self) -> int:
        self.scenario_no += 1
        return self.scenario_no

    # -- database ---------------------------------------------------------------
    def start_db(self) -> None:
        log(f'private MariaDB in {self.mariadb.base_dir} on 127.0.0.1:{self.mariadb.port}')
        self.mariadb.start()
        self.mariadb.create_database(DATABASE)
        mig = self.mariadb.credentials(MIGRATION_USER, DATABASE)
        cmd = [str(MIGRATE_EXE), '--host', mig.host, '--port', str(mig.port), '--user', mig.user,
               '--password-file', str(mig.password_file), '--database', DATABASE]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=self.env)
        (self.run_dir / 'migrate.log').write_text(res.stdout + res.stderr)
        if res.returncode != 0:
            raise RuntimeError(f'migrate failed ({res.returncode}): '
                               f'{(res.stdout + res.stderr)[-800:]}')
        self.db = Db(self.mariadb, DATABASE)
        if self.args.nice and self.mariadb.pid():
            # mariadbd runs in a session of its own: give its group the same nice
            self.result['mariadbd_autogroup'] = set_autogroup_nice(self.mariadb.pid(),
                                                                   self.args.nice)
        self.result['mariadb_version'] = self.db.scalar('SELECT VERSION()')
        self.result['schema_versions'] = [r[0] for r in self.db.rows(
            'SELECT version FROM schema_migrations ORDER BY version')]

    # -- processes ----------------------------------------------------------------
    def start_logger(self, label: str, env: dict) -> tuple[subprocess.Popen, Path]:
        creds = self.mariadb.credentials('robot_user', DATABASE)
        journal = self.run_dir / f'journal-{label}'
        journal.mkdir(exist_ok=True)
        argv = [str(LOGGER_EXE), '--ros-args', '--params-file', str(PARAMS),
                '-p', f'db.host:={creds.host}', '-p', f'db.port:={creds.port}',
                '-p', f'db.name:={DATABASE}', '-p', f'db.user:={creds.user}',
                '-p', f'db.password_file:={creds.password_file}',
                '-p', f'journal_dir:={journal}']
        if self.args.logger_cmd:
            argv = [sys.executable, self.args.logger_cmd] + argv[1:]
        log_path = self.run_dir / f'logger-{label}.log'
        f = open(log_path, 'wb')
        proc = subprocess.Popen(argv, env=env, stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        f.close()
        self.children.append(proc)
        log(f'logger started (pid {proc.pid}), log {log_path.relative_to(REPO_ROOT)}')
        return proc, log_path

    def start_publishers(self, expect_subs: int, env: dict, label: str) -> list[JsonLineProcess]:
        def start(i: int, attempt: int) -> JsonLineProcess:
            argv = [sys.executable, str(BENCH_DIR / 'publisher.py'), '--index', str(i),
                    '--namespace', self.namespaces[i], '--serial', self.serials[i],
                    '--tag', f'{self.tag:08x}', '--depth', str(self.args.depth),
                    '--expect-subs', str(expect_subs)]
            p = JsonLineProcess(argv, env, self.run_dir / f'publisher-{label}-{i}.{attempt}.log',
                                f'{label} pub{i}')
            self.children.append(p)
            return p

        pubs = [start(i, 0) for i in range(self.args.publishers)]
        for i, p in enumerate(pubs):
            ev = p.wait_event('ready', 60)
            if ev is None:
                # seen once: a publisher gone at once, exit status unknown, empty log
                self.problem(f'{p.name} did not start (exit status {p.proc.poll()}, log '
                             f'{p.log_tail()!r}); starting it again')
                self.stop_all([p])
                p = pubs[i] = start(i, 1)
                ev = p.wait_event('ready', 60)
            if ev is None:
                raise RuntimeError(f'{p.name} not ready (exit status {p.proc.poll()}): '
                                   f'{p.log_tail()}')
            if ev['subs'] < expect_subs:
                self.problem(f'{p.name}: only {ev["subs"]} of {expect_subs} readers matched '
                             f'its command_result in 30 s')
        return pubs

    def stop_all(self, procs) -> None:
        for p in procs:
            if isinstance(p, JsonLineProcess):
                p.stop()
            else:
                stop_pid(p)
            if p in self.children:
                self.children.remove(p)

    # -- one publishing scenario ----------------------------------------------------
    def publish(self, pubs, scenario: int, rate_total: float, per_pub: int) -> dict:
        """Every publisher sends per_pub messages at rate_total/len(pubs) (0 = flat out)."""
        t0 = time.time() + 0.5
        rate = rate_total / len(pubs) if rate_total else 0.0
        for p in pubs:
            p.send({'cmd': 'run', 'scenario': scenario, 'count': per_pub, 'rate': rate, 't0': t0})
        expected_time = per_pub / rate if rate else per_pub / 2000.0
        dones = []
        for p in pubs:
            ev = p.wait_event('done', 0.5 + expected_time * 3 + 60, scenario=scenario)
            if ev is None:
                raise RuntimeError(f'{p.name}: no "done" for scenario {scenario}: {p.log_tail()}')
            dones.append(ev)
        published = {d['index']: (d['count'], set(d['failed'])) for d in dones}
        out = {
            'scenario': scenario, 'offered_rate': rate_total or 'flat out',
            'publishers': len(pubs), 'per_publisher': per_pub,
            'published': sum(d['published'] for d in dones),
            'publish_failed': sum(d['n_failed'] for d in dones),
            'publish_retries': sum(d['retries'] for d in dones),
            'all_acked': all(d['acked'] for d in dones),
            't_first': min(d['t_first'] for d in dones),
            't_last': max(d['t_last'] for d in dones),
        }
        span = max(1e-9, out['t_last'] - out['t_first'])
        out['publish_rate'] = round(out['published'] / span, 1)
        return out, published

    @staticmethod
    def check_ids(published: dict, seen: list[str], tag: int,
                  scenario: int) -> tuple[int, int, int]:
        """(lost, duplicated, unexpected) given published {pub: (count, failed)} and seen ids."""
        counts: dict[tuple[int, int], int] = {}
        unexpected = 0
        for text in seen:
            parsed = parse_id(text)
            if parsed is None or parsed[0] != tag or parsed[1] != scenario:
                unexpected += 1
                continue
            key = (parsed[2], parsed[3])
            counts[key] = counts.get(key, 0) + 1
        lost = 0
        missing: dict[int, list[list[int]]] = {}   # pub -> [first, last] ranges of seqs
        for pub, (count, failed) in published.items():
            for seq in range(count):
                if seq not in failed and (pub, seq) not in counts:
                    lost += 1
                    ranges = missing.setdefault(pub, [])
                    if ranges and ranges[-1][1] == seq - 1:
                        ranges[-1][1] = seq
                    else:
                        ranges.append([seq, seq])
        dup = sum(n - 1 for n in counts.values() if n > 1)
        for (pub, seq) in counts:
            if pub not in published or seq >= published[pub][0]:
                unexpected += 1
        # which messages went missing (seq ranges per publisher, the first 10 of each):
        # whole runs of ~history depth point at DDS keep-last overwrite before the reader
        Bench.last_missing = {p: r[:10] for p, r in missing.items()}
        return lost, dup, unexpected

    # -- ours ---------------------------------------------------------------------
    def wait_robots(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.db.scalar('SELECT COUNT(*) FROM Robots WHERE serial IN (%s)' %
                               ','.join(['%s'] * len(self.serials)), tuple(self.serials))
            if n == len(self.serials):
                return True
            time.sleep(0.2)
        return False

    def wait_drain(self, prefix: str, expected: int, meter) -> tuple[int, float, tuple]:
        """Poll the row count until all arrived, or no progress for --stall s (bounded).

        Also returns the marks taken when the last row arrived, so CPU figures cover
        the work and not the wait for rows that never come."""
        start = time.monotonic()
        last_n, last_change = -1, start
        marks = self.end_marks(meter)
        while True:
            n = self.db.count_prefix(prefix)
            now = time.monotonic()
            if n != last_n:
                last_n, last_change = n, now
                marks = self.end_marks(meter)
            if n >= expected or now - last_change > self.args.stall or \
                    now - start > self.args.max_drain:
                return n, now - start, marks
            time.sleep(0.1)

    def end_marks(self, meter) -> tuple:
        db_mark = self.db_meter.mark() if getattr(self, 'db_meter', None) else None
        return meter.mark(), self.sys.mark(), meter.threads(), db_mark

    def journal_acked(self) -> int:
        """The logger's journal is acknowledged up to this record (= messages received
        and committed since the run began, the journal being new: sequence numbers
        count every message the node took)."""
        from db_logger.journal import Journal
        return Journal(self.ours_journal, appender=False).acked

    def journal_settled(self, timeout: float = 3.0) -> int:
        """journal_acked() once it stops moving (the ack follows each commit)."""
        deadline = time.monotonic() + timeout
        last = self.journal_acked()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.journal_acked()
            if now == last:
                break
            last = now
        return last

    def logger_losses(self) -> tuple[int, int]:
        """(messages of our robots' command_result the logger counted as lost before
        receipt, IntakeLosses rows of every robot): the table's totals so far."""
        marks = ','.join(['%s'] * len(self.serials))
        lost = self.db.scalar(
            'SELECT COALESCE(SUM(l.lost), 0) FROM IntakeLosses l JOIN Robots r USING '
            f"(robot_id) WHERE l.stream = 'command_result' AND r.serial IN ({marks})",
            tuple(self.serials))
        return int(lost), int(self.db.scalar('SELECT COUNT(*) FROM IntakeLosses'))

    def losses_settled(self) -> tuple[int, int]:
        """logger_losses() once the intake's last report can have been stored: it journals
        one per robot and stream at most once a second (intake.LOSS_REPORT_S)."""
        from db_logger.intake import LOSS_REPORT_S
        time.sleep(LOSS_REPORT_S + 0.3)
        self.journal_settled()
        return self.logger_losses()

    def ours_scenario(self, pubs, meter, rate_total: float, per_pub: int, label: str) -> dict:
        scenario = self.next_scenario()
        prefix = id_prefix(self.tag, scenario)
        losses0 = self.logger_losses()
        commits0 = self.db.commits()
        acked0 = self.journal_acked()
        m0 = meter.mark()
        s0 = self.sys.mark()
        th0 = meter.threads()
        db_m0 = self.db_meter.mark() if self.db_meter else None
        pub, published = self.publish(pubs, scenario, rate_total, per_pub)
        n, waited, (m1, s1, th1, db_m1) = self.wait_drain(prefix, pub['published'], meter)
        threads = meter.thread_window(th0, th1, m1 - m0)
        rows = self.db.scenario_rows(prefix)
        lost, dup, unexpected = self.check_ids(published, [r[0] for r in rows],
                                               self.tag, scenario)
        lat = sorted(float(r[3]) for r in rows)
        created = [float(r[2]) for r in rows]
        out = dict(pub, label=label, sink='db_logger', rows=len(rows),
                   distinct=len({r[0] for r in rows}), lost=lost, duplicated=dup,
                   unexpected=unexpected, drain_wait_s=round(waited, 2))
        # where a loss happened: before the node took the message (DDS), or after; the
        # journal also holds the logger's loss records, one per IntakeLosses row
        losses1 = self.losses_settled()
        # transactions: a fixed cost each, for the writer and the server alike
        out['db_commits'] = self.db.commits() - commits0
        out['loss_records'] = losses1[1] - losses0[1]
        out['received_by_logger'] = self.journal_settled() - acked0 - out['loss_records']
        out['lost_after_receipt'] = out['received_by_logger'] - out['distinct']
        # what the logger itself counted (IntakeLosses) against what the ids say
        out['lost_counted_by_logger'] = losses1[0] - losses0[0]
        out['loss_count_agrees'] = None if self.journal_shared else (
            out['lost'] - out['lost_after_receipt'] == out['lost_counted_by_logger'])
        if self.journal_shared:
            out['received_by_logger_includes_other_robots'] = True
        if lost:
            out['missing_seq_ranges'] = Bench.last_missing
        if rows:
            t_end = max(created)
            out['last_commit_after_last_publish_s'] = round(t_end - pub['t_last'], 3)
            out['rate'] = round(len(rows) / max(1e-9, t_end - pub['t_first']), 1)
            out['latency_ms'] = {'p50': round(percentile(lat, 50), 1),
                                 'p99': round(percentile(lat, 99), 1),
                                 'max': round(lat[-1], 1), 'min': round(lat[0], 1)}
            recv = sorted(float(r[4]) for r in rows if r[4] is not None)
            if recv:
                # the part of it spent before the logger's callback (DDS + executor)
                out['publish_to_receive_ms'] = {'p50': round(percentile(recv, 50), 1),
                                                'p99': round(percentile(recv, 99), 1)}
        else:
            out['rate'] = 0.0
        out['logger'] = meter.window(m0, m1)
        out['logger_threads'] = threads
        out['machine'] = self.sys.window(s0, s1)
        if self.db_meter:
            out['mariadbd'] = self.db_meter.window(db_m0, db_m1)
        out['cpu_us_per_msg'] = cpu_us_per_msg(out['distinct'], {
            'node': out['logger'].get('cpu_seconds_self'),
            'writer': out['logger'].get('cpu_seconds_children'),
            'mariadb': (out.get('mariadbd') or {}).get('cpu_seconds')})
        self.judge(out, rate_total)
        log(self.describe(out))
        return out

    def judge(self, out: dict, rate_total: float) -> None:
        ok = (out['lost'] == 0 and out['duplicated'] == 0 and out['publish_failed'] == 0
              and out['unexpected'] == 0)
        out['zero_loss'] = ok
        if rate_total:
            out['kept_pace'] = out['rate'] >= self.args.keep_pace * rate_total
            out['pass'] = ok and out['kept_pace']

    @staticmethod
    def describe(o: dict) -> str:
        lat = o.get('latency_ms')
        lat_s = f' p50 {lat["p50"]} ms p99 {lat["p99"]} ms' if lat else ''
        cpu = o.get('logger', {}).get('cpu_percent') if 'logger' in o else None
        return (f'{o["sink"]:>9} {o["label"]:<14} offered {o["offered_rate"]}: published '
                f'{o["published"]} at {o["publish_rate"]}/s, delivered {o["rows"]}, '
                f'rate {o["rate"]}/s, lost {o["lost"]}, dup {o["duplicated"]}, retries '
                f'{o["publish_retries"]}{lat_s}' + (f', cpu {cpu}%' if cpu is not None else '')
                + (f', received by the logger {o["received_by_logger"]} (lost after: '
                   f'{o["lost_after_receipt"]}), lost before receipt as the logger counted: '
                   f'{o["lost_counted_by_logger"]}'
                   + {True: '', False: ' DISAGREES', None: ' (not checked)'}[
                       o['loss_count_agrees']]
                   if 'received_by_logger' in o else '')
                + (', cpu us/msg ' + ' '.join(f'{k} {v}' for k, v in o['cpu_us_per_msg'].items())
                   if o.get('cpu_us_per_msg') else '')
                + f', others {o.get("machine", {}).get("others_cores")} cores'
                + (' [threads ' + ', '.join(
                    f'{"main" if t["main"] else t["name"] + ":" + str(t["tid"])} '
                    f'{t["cpu_percent"]}%/wait {t["runq_wait_percent"]}%'
                    for t in (o.get('logger_threads') or o.get('process_threads') or [])[:3])
                   + ']' if (o.get('logger_threads') or o.get('process_threads')) else '')
                + (f' -> {"PASS" if o["pass"] else "fail"}' if 'pass' in o else ''))

    def run_step(self, side: dict, rate: float, per_pub: int, label: str) -> dict:
        """One paced step on one side; repeated once when it fails (--ladder-retry)."""
        out = side['step'](rate, per_pub, label)
        side['res'].setdefault('ladder', []).append(out)
        if not out['pass'] and self.args.ladder_retry:
            out = side['step'](rate, per_pub, f'{label} (retry)')
            side['res']['ladder'].append(out)
        return out

    def phase_ingest(self) -> None:
        """Ours and reference (a) side by side: the logger in one ROS domain, the bare
        subscriber in another, each with its own publishers; every ladder step runs on
        ours and then on (a), so both meet the same background load."""
        a = self.args
        log('== ingest: db_logger (ours) and the bare rclpy subscriber (a), interleaved ==')
        self.wait_quiet('ingest')
        sides = []
        try:
            if not a.skip_ours:
                sides.append(self.setup_ours())
            if not a.skip_bare:
                sides.append(self.setup_bare())
            for side in sides:
                side['res']['paced'] = []
            for rate in a.rates:
                per_pub = max(1, int(round(rate * a.paced_duration / a.publishers)))
                for side in sides:
                    if side['name'] == 'ours' or rate >= 1000:
                        side['res']['paced'].append(side['step'](rate, per_pub,
                                                                 f'paced {int(rate)}'))
            active = list(sides)
            for rate in a.ladder:
                per_pub = max(1, int(round(rate * a.ladder_duration / a.publishers)))
                for side in list(active):
                    if not self.run_step(side, rate, per_pub, f'ladder {int(rate)}')['pass']:
                        active.remove(side)   # stops at its first step failed twice
                if not active:
                    break
            for side in sides:
                self.set_best(side['res'])
                side['res']['flat_out'] = side['step'](0, a.flat_count, 'flat out')
            for side in sides:
                side['res']['peak_rss_mib'] = side['meter'].peak_rss_mib()
        finally:
            for side in sides:
                side['teardown']()

    def setup_ours(self) -> dict:
        logger, log_path = self.start_logger('ingest', self.env)
        self.ours_journal = self.run_dir / 'journal-ingest'
        meter = ProcessMeter(logger.pid)
        self.db_meter = ProcessMeter(self.mariadb.pid()) if self.mariadb.pid() else None
        side = {'name': 'ours', 'res': self.result['ours'], 'meter': meter, 'pubs': []}

        def teardown():
            self.stop_all(side['pubs'])
            meter.stop()
            if self.db_meter:
                self.db_meter.stop()
            self.result['ours']['logger_exit_code_during_run'] = logger.poll()
            self.stop_all([logger])
            self.result['ours']['logger_exit_code'] = logger.returncode
            text = log_path.read_text(errors='replace')
            self.result['ours']['logger_log_tail'] = text[-3000:]
            self.result['ours']['logger_log_warnings'] = sum(
                1 for line in text.splitlines() if '[WARN]' in line or '[ERROR]' in line)
        side['teardown'] = teardown
        time.sleep(0.5)
        if logger.poll() is not None:
            raise RuntimeError(f'logger exited at once ({logger.returncode}): '
                               f'{log_path.read_text(errors="replace")[-1500:]}')
        t_pub = time.monotonic()
        side['pubs'] = self.start_publishers(1, self.env, 'ours')
        log(f'publishers matched by the logger after {time.monotonic() - t_pub:.1f} s')
        if not self.wait_robots(30):
            raise RuntimeError('the logger did not register the publishers\' robots (Robots '
                               f'rows) in 30 s: {log_path.read_text(errors="replace")[-1500:]}')
        log(f'Robots rows present after {time.monotonic() - t_pub:.1f} s')
        side['res']['idle'] = meter.window(*self._idle(meter, 3.0))
        side['step'] = lambda rate, per_pub, label: self.ours_scenario(
            side['pubs'], meter, rate, per_pub, label)
        return side

    def setup_bare(self) -> dict:
        a = self.args
        env = ros_env(self.bare_domain_id)
        env['PYTHONIOENCODING'] = 'utf-8'
        topics = [f'{ns}/command_result' for ns in self.namespaces]
        sub = JsonLineProcess([sys.executable, str(BENCH_DIR / 'bare_subscriber.py'),
                               '--topics', *topics, '--depth', str(a.depth)],
                              env, self.run_dir / 'bare_subscriber.log', 'bare')
        self.children.append(sub)
        side = {'name': 'bare', 'res': self.result['bare'], 'pubs': [], 'meter': None}

        def teardown():
            self.stop_all(side['pubs'])
            if side['meter']:
                side['meter'].stop()
            self.stop_all([sub])
        side['teardown'] = teardown
        ev = sub.wait_event('ready', 60)
        if ev is None:
            raise RuntimeError(f'bare subscriber not ready: {sub.log_tail()}')
        self.result['bare']['executor'] = ev['executor']
        self.result['bare']['ros_domain_id'] = self.bare_domain_id
        log(f'bare subscriber on {ev["executor"]} (ROS_DOMAIN_ID {self.bare_domain_id})')
        meter = side['meter'] = ProcessMeter(sub.pid)
        side['pubs'] = self.start_publishers(1, env, 'bare')
        side['res']['idle'] = meter.window(*self._idle(meter, 3.0))
        side['step'] = lambda rate, per_pub, label: self.bare_scenario(
            sub, side['pubs'], meter, rate, per_pub, label)
        return side

    @staticmethod
    def set_best(res: dict) -> None:
        """Zero-loss rate: the sustained rate of the highest passing paced run."""
        passing = [x for x in res.get('paced', []) + res.get('ladder', []) if x.get('pass')]
        best = max(passing, key=lambda x: x['offered_rate'], default=None)
        res['zero_loss_rate'] = best['rate'] if best else None
        res['zero_loss_offered'] = best['offered_rate'] if best else None

    @staticmethod
    def _idle(meter, seconds: float) -> tuple[float, float]:
        t0 = meter.mark()
        time.sleep(seconds)
        return t0, meter.mark()

    def bare_counts(self, sub) -> dict:
        sub.send({'cmd': 'counts'})
        ev = sub.wait_event('counts', 10)
        if ev is None:
            raise RuntimeError(f'bare subscriber does not answer: {sub.log_tail()}')
        return ev['topics']

    def bare_scenario(self, sub, pubs, meter, rate_total, per_pub, label) -> dict:
        scenario = self.next_scenario()
        before = self.bare_counts(sub)
        m0 = meter.mark()
        s0 = self.sys.mark()
        th0 = meter.threads()
        pub, published = self.publish(pubs, scenario, rate_total, per_pub)
        expected = pub['published']
        start = time.monotonic()
        last_n, last_change = -1, start
        marks = (meter.mark(), self.sys.mark(), meter.threads())
        while True:
            now_counts = self.bare_counts(sub)
            n = sum(now_counts[t][0] - before[t][0] for t in now_counts)
            now = time.monotonic()
            if n != last_n:
                last_n, last_change = n, now
                marks = (meter.mark(), self.sys.mark(), meter.threads())
            if n >= expected or now - last_change > min(self.args.stall, 3.0) or \
                    now - start > self.args.max_drain:
                break
            time.sleep(0.1)
        m1, s1, th1 = marks   # when the last message arrived: not the idle wait after it
        threads = meter.thread_window(th0, th1, m1 - m0)
        t_end = max(c[1] for c in now_counts.values())
        out = dict(pub, label=label, sink='bare', rows=n, distinct=None,
                   lost=max(0, expected - n), duplicated=max(0, n - expected), unexpected=0,
                   drain_wait_s=round(now - start, 2))
        out['rate'] = round(n / max(1e-9, t_end - pub['t_first']), 1) if n else 0.0
        out['last_receive_after_last_publish_s'] = round(t_end - pub['t_last'], 3)
        out['process'] = meter.window(m0, m1)
        out['process_threads'] = threads
        out['cpu_us_per_msg'] = cpu_us_per_msg(n, {'bare': out['process'].get('cpu_seconds')})
        out['machine'] = self.sys.window(s0, s1)
        self.judge(out, rate_total)
        log(self.describe(out))
        return out

    # -- reference (b): the manual's Flask server -------------------------------------
    def phase_flask(self) -> None:
        log('== reference (b): the manual\'s Flask /robot/log server ==')
        self.wait_quiet('flask')
        from importlib.metadata import version
        self.result['flask']['pymysql_version'] = version('PyMySQL')
        robot_id = self.register_flask_robot()
        for variant, flag in (('as_installed', []), ('ssl_off', ['--ssl-disabled'])):
            self.result['flask'][variant] = self.flask_variant(variant, flag, robot_id)

    def register_flask_robot(self) -> int:
        serial = f'BENCH-{self.tag:08x}-FLASK'
        with self.db.conn.cursor() as cur:
            cur.execute("INSERT IGNORE INTO Robots (serial, model_type, status) "
                        "VALUES (%s, 'EP01', 'Active')", (serial,))
        return int(self.db.scalar('SELECT robot_id FROM Robots WHERE serial = %s', (serial,)))

    def flask_variant(self, variant: str, flag: list[str], robot_id: int) -> dict:
        a = self.args
        creds = self.mariadb.credentials('robot_user', DATABASE)
        env = dict(self.env, ROBOT_DB_HOST=creds.host, ROBOT_DB_PORT=str(creds.port),
                   ROBOT_DB_NAME=DATABASE, ROBOT_DB_USER=creds.user,
                   ROBOT_DB_PASSWORD_FILE=str(creds.password_file))
        env.pop('ROBOT_DB_PASSWORD', None)
        port = free_port()
        log_path = self.run_dir / f'flask-{variant}.log'
        f = open(log_path, 'wb')
        server_app = BENCH_DIR / 'flask_baseline' / 'server_app.py'
        server = subprocess.Popen([sys.executable, str(server_app),
                                   '--port', str(port), '--robot-id', str(robot_id), *flag],
                                  env=env, stdout=f, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        f.close()
        self.children.append(server)
        try:
            if not wait_port(port, 30):
                raise RuntimeError(f'Flask server did not listen: {log_path.read_text()[-1500:]}')
            meter = ProcessMeter(server.pid)
            scenario = self.next_scenario()
            m0 = meter.mark()
            s0 = self.sys.mark()
            gen = subprocess.run(
                [sys.executable, str(BENCH_DIR / 'load_generator.py'), '--port', str(port),
                 '--tag', f'{self.tag:08x}', '--scenario', str(scenario),
                 '--duration', str(a.flask_duration), '--concurrency', str(a.flask_concurrency)],
                env=self.env, capture_output=True, text=True,
                timeout=a.flask_duration + 120, preexec_fn=die_with_parent)
            m1 = meter.mark()
            s1 = self.sys.mark()
            lines = [ln for ln in gen.stdout.splitlines() if ln.startswith('{')]
            if not lines:
                raise RuntimeError(f'load generator: {gen.stderr[-1500:]}')
            lg = json.loads(lines[-1])
            prefix = id_prefix(self.tag, scenario)
            rows = self.db.scenario_rows(prefix)
            published = {k: (t['sent'], set(t['failed_seqs']))
                         for k, t in enumerate(lg['per_thread'])}
            lost, dup, unexpected = self.check_ids(published, [r[0] for r in rows],
                                                   self.tag, scenario)
            lat = sorted(float(r[3]) for r in rows)
            out = {'variant': variant, 'concurrency': lg['concurrency'], 'sent': lg['sent'],
                   'ok': lg['ok'], 'errors': lg['errors'], 'elapsed': lg['elapsed'],
                   'rate': lg['rate'], 'rows': len(rows),
                   'distinct': len({r[0] for r in rows}), 'lost': lost, 'duplicated': dup,
                   'unexpected': unexpected, 'client_latency_ms': lg['latency_ms'],
                   'server': meter.window(m0, m1), 'server_peak_rss_mib': meter.peak_rss_mib(),
                   'machine': self.sys.window(s0, s1)}
            if lat:
                out['latency_ms'] = {'p50': round(percentile(lat, 50), 1),
                                     'p99': round(percentile(lat, 99), 1)}
            meter.stop()
            if lg['errors'] or lost or dup or lg['threads_alive']:
                self.problem(f'flask {variant}: errors {lg["errors"]}, lost {lost}, dup {dup}, '
                             f'threads still running {lg["threads_alive"]}; server log: '
                             f'{log_path.read_text(errors="replace")[-600:]}')
            log(f'    flask {variant:<12} {out["ok"]} ok / {out["sent"]} sent in '
                f'{out["elapsed"]} s = {out["rate"]}/s (concurrency {out["concurrency"]}), rows '
                f'{out["rows"]}, lost {lost}, dup {dup}, errors {lg["errors"]}, server cpu '
                f'{out["server"]["cpu_percent"]}%')
            return out
        finally:
            self.stop_all([server])

    # -- lab load -------------------------------------------------------------------
    def phase_lab(self) -> None:
        a = self.args
        log('== lab load: 3 sim drivers + the logger ==')
        if not DRIVER_EXE.exists():
            self.result['lab'] = {'skipped': f'{DRIVER_EXE.relative_to(REPO_ROOT)} is not built'}
            log(f'    skipped: {DRIVER_EXE} is not built')
            return
        self.wait_quiet('lab')
        logger, log_path = self.start_logger('lab', self.env)
        drivers = []
        meters = {}
        try:
            meters['db_logger'] = ProcessMeter(logger.pid)
            for i in range(1, a.lab_robots + 1):
                ns = f'/ep{i:02d}'
                dlog = self.run_dir / f'driver-ep{i:02d}.log'
                f = open(dlog, 'wb')
                d = subprocess.Popen([str(DRIVER_EXE), '--ros-args', '--params-file', str(PARAMS),
                                      '-r', f'__ns:={ns}', '-p', 'backend:=sim'],
                                     env=self.env, stdout=f, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
                f.close()
                self.children.append(d)
                drivers.append((ns, d, dlog))
                meters[f'rm_driver {ns}'] = ProcessMeter(d.pid)
            if self.mariadb.pid():
                meters['mariadbd'] = ProcessMeter(self.mariadb.pid())
            log(f'    warm-up {a.lab_warmup:.0f} s, then {a.lab_duration:.0f} s measured')
            time.sleep(a.lab_warmup)
            marks = {k: m.mark() for k, m in meters.items()}
            s0 = self.sys.mark()
            counts0 = self.lab_counts()
            time.sleep(a.lab_duration)
            res = {'robots': a.lab_robots, 'duration_s': a.lab_duration, 'processes': {},
                   'machine': self.sys.window(s0, self.sys.mark())}
            for k, m in meters.items():
                w = m.window(marks[k], m.mark())
                w['peak_rss_life_mib'] = m.peak_rss_mib()
                res['processes'][k] = w
            counts1 = self.lab_counts()
            res['rows_per_s'] = {t: round((counts1[t] - counts0[t]) / a.lab_duration, 2)
                                 for t in counts0}
            for ns, d, dlog in drivers:
                if d.poll() is not None:
                    self.problem(f'driver {ns} exited ({d.returncode}) during lab load: '
                                 f'{dlog.read_text(errors="replace")[-800:]}')
            if logger.poll() is not None:
                self.problem(f'logger exited ({logger.returncode}) during lab load')
            res['robots_rows'] = [list(r) for r in self.db.rows(
                "SELECT serial, status, battery_percent FROM Robots "
                "WHERE serial NOT LIKE 'BENCH-%%'")]
            self.result['lab'] = res
            for k, w in res['processes'].items():
                log(f'    {k:<18} cpu {w["cpu_percent"]}% rss mean {w["rss_mean_mib"]} MiB '
                    f'peak {w["rss_peak_mib"]} MiB')
            log(f'    rows/s: {res["rows_per_s"]}')
        finally:
            for m in meters.values():
                m.stop()
            self.stop_all([d for _, d, _ in drivers])
            self.stop_all([logger])

    def lab_counts(self) -> dict:
        return {t: int(self.db.scalar(f'SELECT COUNT(*) FROM {t}'))
                for t in ('CommandLogs', 'EventLogs')}

    # -- all ----------------------------------------------------------------------------
    def run(self) -> int:
        a = self.args
        try:
            self.start_db()
            self.db_meter = None
            if not (a.skip_ours and a.skip_bare):
                self.guard(self.phase_ingest, 'ingest')
            if not a.skip_flask:
                self.guard(self.phase_flask, 'flask')
            if not a.skip_lab:
                self.guard(self.phase_lab, 'lab')
        finally:
            for p in list(self.children):
                self.stop_all([p])
            try:
                self.mariadb.stop()
            except Exception as exc:
                self.problem(f'stopping MariaDB: {exc}')
        self.result['finished'] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.summarize()
        out = self.out_dir / f'ingest-{time.strftime("%Y%m%d-%H%M%S")}.json'
        out.write_text(json.dumps(self.result, indent=2, default=str))
        print(report(self.result))
        log(f'JSON: {out.relative_to(REPO_ROOT)}; logs: {self.run_dir.relative_to(REPO_ROOT)}')
        if not a.keep_db:
            shutil.rmtree(self.run_dir / 'mariadb', ignore_errors=True)
        return 0 if self.result['summary'].get('all_targets_met') else 1

    def guard(self, fn, name: str) -> None:
        try:
            fn()
        except Exception as exc:
            self.problem(f'phase {name} aborted: {exc}')
            self.result.setdefault('tracebacks', {})[name] = traceback.format_exc()

    def summarize(self) -> None:
        r = self.result
        ours, bare, flask = r['ours'], r['bare'], r['flask']
        s = {}
        ours_rate = ours.get('zero_loss_rate')
        bare_rate = bare.get('zero_loss_rate')
        fi = (flask.get('as_installed') or {}).get('rate')
        fs = (flask.get('ssl_off') or {}).get('rate')

        def ratio(x, y):
            return round(x / y, 2) if x and y else None
        s['ours_zero_loss_rate'] = ours_rate
        s['bare_zero_loss_rate'] = bare_rate
        s['flask_as_installed_rate'] = fi
        s['flask_ssl_off_rate'] = fs
        s['ours_over_bare'] = ratio(ours_rate, bare_rate)
        s['ours_over_flask_as_installed'] = ratio(ours_rate, fi)
        s['ours_over_flask_ssl_off'] = ratio(ours_rate, fs)
        s['flat_out_ours_over_bare'] = ratio((ours.get('flat_out') or {}).get('rate'),
                                             (bare.get('flat_out') or {}).get('rate'))
        p1000 = next((p for p in ours.get('paced', []) if p['offered_rate'] == 1000), None)
        s['p99_ms_at_1000'] = (p1000 or {}).get('latency_ms', {}).get('p99')
        runs = ours.get('paced', []) + ours.get('ladder', []) + \
            ([ours['flat_out']] if ours.get('flat_out') else [])
        runs_all = runs + bare.get('paced', []) + bare.get('ladder', []) + \
            ([bare['flat_out']] if bare.get('flat_out') else [])
        s['lost_total_ours'] = sum(x['lost'] for x in runs)
        s['lost_after_receipt_ours'] = sum(x.get('lost_after_receipt', 0) for x in runs)
        s['lost_counted_by_logger_ours'] = sum(x.get('lost_counted_by_logger', 0) for x in runs)
        s['loss_count_disagrees'] = [
            f'{x["label"]}: lost {x["lost"]} - after receipt {x["lost_after_receipt"]} != '
            f'counted by the logger {x["lost_counted_by_logger"]}'
            for x in runs if x.get('loss_count_agrees') is False]
        s['dup_total_ours'] = sum(x['duplicated'] for x in runs)
        variants = [flask.get(v) or {} for v in ('as_installed', 'ssl_off')]
        s['lost_total_flask'] = sum(v.get('lost', 0) for v in variants)
        s['dup_total_flask'] = sum(v.get('duplicated', 0) for v in variants)
        s['runs_with_loss'] = [f'{x["sink"]} {x["label"]}: lost {x["lost"]}' for x in runs_all
                               if x['lost']]
        targets = {
            'ours >= 0.8 x bare': s['ours_over_bare'] is not None and s['ours_over_bare'] >= 0.8,
            'ours >= 50 x flask as installed': s['ours_over_flask_as_installed'] is not None
            and s['ours_over_flask_as_installed'] >= 50,
            'ours >= 5 x flask ssl off': s['ours_over_flask_ssl_off'] is not None
            and s['ours_over_flask_ssl_off'] >= 5,
            'p99 at 1000 msg/s < 250 ms': s['p99_ms_at_1000'] is not None
            and s['p99_ms_at_1000'] < 250,
            '0 lost, 0 dup in every ours run (paced and flat out)': bool(runs)
            and s['lost_total_ours'] == 0 and s['dup_total_ours'] == 0,
            'the logger\'s loss count agrees with the ids in every ours run': bool(runs)
            and not s['loss_count_disagrees'],
        }
        paced = [x for x in runs if x is not ours.get('flat_out')]
        s['lost_paced_ours'] = sum(x['lost'] for x in paced)
        s['dup_paced_ours'] = sum(x['duplicated'] for x in paced)
        s['lost_flat_out'] = {'ours': (ours.get('flat_out') or {}).get('lost'),
                              'bare': (bare.get('flat_out') or {}).get('lost'),
                              'of': (ours.get('flat_out') or {}).get('published')}
        s['targets'] = targets
        lim = self.args.others_max
        # without --nice, unrelated processes compete on equal terms: figures taken while
        # they used more than --others-max cores are low bounds. With --nice they mostly
        # take what ours leave idle (the sinks' run-queue wait, in the JSON, tells).
        s['contaminated'] = [] if self.args.nice else (
            [f'{x["sink"]} {x["label"]}' for x in runs_all
             if x.get('machine', {}).get('others_cores', 0) > lim] +
            [f'flask {v}' for v in ('as_installed', 'ssl_off')
             if (flask.get(v) or {}).get('machine', {}).get('others_cores', 0) > lim])
        s['all_targets_met'] = all(targets.values()) and not r['problems']
        r['summary'] = s


# ---------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------

def cpu_us_per_msg(messages: int, cpu_seconds: dict) -> dict:
    """CPU microseconds per message stored (or received) of each part, and of all of
    them as 'whole' when there are several; None where a part was not measured."""
    if not messages or any(v is None for v in cpu_seconds.values()):
        return {}
    out = {k: round(v * 1e6 / messages, 1) for k, v in cpu_seconds.items()}
    if len(out) > 1:
        out['whole'] = round(sum(cpu_seconds.values()) * 1e6 / messages, 1)
    return out


def logger_lost(x: dict) -> str:
    """The logger's own count of the run's losses before receipt; '!' where it
    disagrees with the benchmark's (lost - lost after receipt)."""
    if 'lost_counted_by_logger' not in x:
        return '-'
    return fmt(x['lost_counted_by_logger']) + {True: '', False: '!', None: '?'}[
        x['loss_count_agrees']]


def cpu_table(ours: dict, bare: dict) -> list[str]:
    """CPU per message of the whole logger beside the bare subscriber's, per offered
    rate both ran (paced and ladder steps, the first run of each rate)."""
    def by_rate(res):
        runs = {}
        for x in res.get('paced', []) + res.get('ladder', []):
            if x.get('cpu_us_per_msg'):
                runs.setdefault(x['offered_rate'], x)
        return runs
    o, b = by_rate(ours), by_rate(bare)
    rates = sorted(set(o) & set(b))
    if not rates:
        return []
    head = (f'{"offered/s":>9} {"stored":>7} {"commits":>7} {"node":>7} {"writer":>7} '
            f'{"mariadb":>7} {"whole":>7} {"recvd":>7} {"bare":>7} {"whole/bare":>10}')
    out = ['CPU PER MESSAGE (us of CPU, user+system, per message stored / received; '
           'same offered rate and publishers)', head, '-' * len(head)]
    for rate in rates:
        c, cb = o[rate]['cpu_us_per_msg'], b[rate]['cpu_us_per_msg']
        out.append(f'{fmt(rate):>9} {fmt(o[rate]["distinct"]):>7} '
                   f'{fmt(o[rate].get("db_commits")):>7} {fmt(c["node"]):>7} '
                   f'{fmt(c["writer"]):>7} {fmt(c["mariadb"]):>7} {fmt(c["whole"]):>7} '
                   f'{fmt(b[rate]["rows"]):>7} {fmt(cb["bare"]):>7} '
                   f'{ratio_s(c["whole"] / cb["bare"] if cb["bare"] else None):>10}')
    return out + ['whole = node + writer + mariadb; commits = COMMITs the server ran in '
                  'the scenario; target whole/bare <= 1.5', '']


def runq_wait(x: dict) -> float | None:
    threads = x.get('logger_threads') or x.get('process_threads')
    return round(sum(t['runq_wait_percent'] for t in threads), 1) if threads else None


def ratio_s(v) -> str:
    return '-' if v is None else f'{v:.2f}'


def fmt(v, suffix='') -> str:
    if v is None:
        return '-'
    if isinstance(v, float):
        v = f'{v:,.1f}' if abs(v) < 100 else f'{v:,.0f}'
    elif isinstance(v, int):
        v = f'{v:,}'
    return f'{v}{suffix}'


def report(r: dict) -> str:
    s = r.get('summary', {})
    ours, bare, flask, lab = r['ours'], r['bare'], r['flask'], r['lab']
    out = ['', '=' * 100,
           f'INGEST BENCHMARK  tag {r["tag"]}  domain {r["ros_domain_id"]}  '
           f'{r["machine"]["cpus"]} CPUs  MariaDB {r.get("mariadb_version", "?")}  '
           f'publishers {r["args"]["publishers"]}  nice {r["args"].get("nice", 0)}', '=' * 100]
    head = (f'{"sink":<9} {"scenario":<20} {"offered/s":>9} {"published":>9} {"pub/s":>8} '
            f'{"delivered":>9} {"rate/s":>8} {"lost":>5} {"aftr":>5} {"lgr":>5} {"dup":>4} '
            f'{"p50 ms":>7} {"p99 ms":>7} {"cpu%":>6} {"rqw%":>5} {"rss MiB":>7} {"othr":>5} '
            f'{"ok":>4}')
    out += [head, '-' * len(head)]
    for sink, res in (('db_logger', ours), ('bare (a)', bare)):
        runs = res.get('paced', []) + res.get('ladder', []) + \
            ([res['flat_out']] if res.get('flat_out') else [])
        for x in runs:
            lat = x.get('latency_ms') or {}
            proc = x.get('logger') or x.get('process') or {}
            ok = ('PASS' if x['pass'] else 'fail') if 'pass' in x else \
                ('0-loss' if x['zero_loss'] else 'LOSS')
            out.append(f'{sink:<9} {x["label"]:<20} {fmt(x["offered_rate"]):>9} '
                       f'{fmt(x["published"]):>9} {fmt(x["publish_rate"]):>8} {fmt(x["rows"]):>9} '
                       f'{fmt(x["rate"]):>8} {fmt(x["lost"]):>5} '
                       f'{fmt(x.get("lost_after_receipt")):>5} {logger_lost(x):>5} '
                       f'{fmt(x["duplicated"]):>4} '
                       f'{fmt(lat.get("p50")):>7} {fmt(lat.get("p99")):>7} '
                       f'{fmt(proc.get("cpu_percent")):>6} {fmt(runq_wait(x)):>5} '
                       f'{fmt(proc.get("rss_peak_mib")):>7} '
                       f'{fmt(x.get("machine", {}).get("others_cores")):>5} {ok:>4}')
    for v in ('as_installed', 'ssl_off'):
        x = flask.get(v)
        if x:
            lat = x.get('latency_ms') or {}
            out.append(f'{"flask (b)":<9} {v + " c=" + str(x["concurrency"]):<20} {"-":>9} '
                       f'{fmt(x["sent"]):>9} {"-":>8} {fmt(x["rows"]):>9} {fmt(x["rate"]):>8} '
                       f'{fmt(x["lost"]):>5} {"-":>5} {"-":>5} {fmt(x["duplicated"]):>4} '
                       f'{fmt(lat.get("p50")):>7} '
                       f'{fmt(lat.get("p99")):>7} '
                       f'{fmt(x["server"].get("cpu_percent")):>6} {"-":>5} '
                       f'{fmt(x["server"].get("rss_peak_mib")):>7} '
                       f'{fmt(x.get("machine", {}).get("others_cores")):>5} '
                       f'{"ok" if not x["lost"] and not x["duplicated"] else "LOSS":>4}')
    out += ['', 'rate/s = delivered / (last commit or receive - first publish); p50/p99 = '
            'created_at - stamp per row (publish to the INSERT of its batch);',
            'lost = published ids not stored; aftr = of them lost after the logger received '
            'them; lgr = lost before receipt as the logger counted them (IntakeLosses), '
            '"!" = lost - aftr != lgr;',
            'cpu% = 100 per core, of the logger / bare subscriber / Flask server over the '
            'scenario; rqw% = its threads\' time runnable but waiting for a CPU;',
            'othr = cores used meanwhile by processes that are not this benchmark\'s (the '
            'machine is shared)', '']
    if s.get('contaminated'):
        out += [f'NOTE: other processes used > {r["args"]["others_max"]} cores during: '
                + ', '.join(s['contaminated']) + ' -- those figures are low bounds', '']
    out += cpu_table(ours, bare)
    out.append(f'bare subscriber executor: {bare.get("executor", "-")}; PyMySQL '
               f'{flask.get("pymysql_version", "-")}')
    out.append(f'logger: idle cpu {fmt((ours.get("idle") or {}).get("cpu_percent"))}%, '
               f'peak RSS (VmHWM) {fmt(ours.get("peak_rss_mib"))} MiB, exit code '
               f'{ours.get("logger_exit_code")}, WARN/ERROR lines '
               f'{ours.get("logger_log_warnings")}')
    out += ['', 'SIDE BY SIDE (zero-loss ingest = sustained rate of the highest passing '
            'paced step)',
            f'  ours (db_logger)            {fmt(s.get("ours_zero_loss_rate"))} rows/s '
            f'(offered {fmt(ours.get("zero_loss_offered"))})',
            f'  (a) bare subscriber         {fmt(s.get("bare_zero_loss_rate"))} msg/s '
            f'(offered {fmt(bare.get("zero_loss_offered"))})   '
            f'ours/(a) = {ratio_s(s.get("ours_over_bare"))}'
            f'   [target >= 0.8]',
            f'  (b) Flask, as installed     {fmt(s.get("flask_as_installed_rate"))} rows/s'
            f'   ours/(b) = {ratio_s(s.get("ours_over_flask_as_installed"))}   [target >= 50]',
            f'  (b) Flask, SSL off          {fmt(s.get("flask_ssl_off_rate"))} rows/s'
            f'   ours/(b) = {ratio_s(s.get("ours_over_flask_ssl_off"))}   [target >= 5]',
            f'  flat out: ours {fmt((ours.get("flat_out") or {}).get("rate"))}/s vs (a) '
            f'{fmt((bare.get("flat_out") or {}).get("rate"))}/s  '
            f'ratio {ratio_s(s.get("flat_out_ours_over_bare"))}',
            f'  p99 at 1,000 msg/s: {fmt(s.get("p99_ms_at_1000"))} ms   [target < 250]',
            f'  lost/dup, ours paced runs: {s.get("lost_paced_ours")}/{s.get("dup_paced_ours")}; '
            f'ours flat out: {(s.get("lost_flat_out") or {}).get("ours")} lost of '
            f'{(s.get("lost_flat_out") or {}).get("of")} (bare subscriber flat out: '
            f'{(s.get("lost_flat_out") or {}).get("bare")} lost); '
            f'flask: {s.get("lost_total_flask")}/{s.get("dup_total_flask")}',
            f'  ours, every run: {s.get("lost_after_receipt_ours")} messages lost after the '
            'logger received them (the rest never reached it: DDS); the logger counted '
            f'{s.get("lost_counted_by_logger_ours")} lost before receipt',
            '  loss counts: ' + ('; '.join(s.get('loss_count_disagrees') or [])
                                 or 'the logger\'s agree with the ids\' in every run')]
    if lab.get('processes'):
        out += ['', f'LAB LOAD ({lab["robots"]} sim robots, {lab["duration_s"]:.0f} s): '
                f'rows/s {lab.get("rows_per_s")}']
        for k, w in lab['processes'].items():
            out.append(f'  {k:<18} cpu {fmt(w.get("cpu_percent"))}%  rss mean '
                       f'{fmt(w.get("rss_mean_mib"))} MiB  peak {fmt(w.get("rss_peak_mib"))} MiB')
    elif lab.get('skipped'):
        out += ['', f'LAB LOAD skipped: {lab["skipped"]}']
    out += ['', 'TARGETS']
    for k, v in (s.get('targets') or {}).items():
        out.append(f'  [{"x" if v else " "}] {k}')
    if r['problems']:
        out += ['', 'PROBLEMS'] + [f'  - {p}' for p in r['problems']]
    out.append('=' * 100)
    return '\n'.join(out)


# ---------------------------------------------------------------------------------

def machine_facts() -> dict:
    import platform
    return {'cpus': os.cpu_count(), 'python': platform.python_version(),
            'kernel': platform.release(), 'host': socket.gethostname()}


def set_autogroup_nice(pid: int, nice: int) -> str:
    """With autogroup scheduling (sched_autogroup_enabled), CPU is shared between
    sessions first and a process's nice only counts inside its session: the
    session's group gets the nice too (sched(7)). Returns what /proc says after."""
    path = f'/proc/{pid}/autogroup'
    try:
        with open(path, 'w') as f:
            f.write(str(nice))
        with open(path) as f:
            return f.read().strip()
    except OSError as exc:
        return f'not set: {exc}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 2)[2])

    def floats(text):
        return [float(x) for x in text.split(',') if x]
    ap.add_argument('--quick', action='store_true', help='short run (~2-3 min)')
    ap.add_argument('--publishers', type=int, default=4, help='publisher processes')
    ap.add_argument('--rates', type=floats, default=None,
                    help='paced aggregate rates for latency, msg/s (default 100,1000)')
    ap.add_argument('--paced-duration', type=float, default=None, help='s per paced run')
    ap.add_argument('--ladder', type=floats, default=None,
                    help='aggregate rates stepped up for the zero-loss rate, msg/s')
    ap.add_argument('--ladder-duration', type=float, default=None, help='s per ladder step')
    ap.add_argument('--no-ladder-retry', dest='ladder_retry', action='store_false',
                    help='stop at the first failing step without repeating it once')
    ap.add_argument('--flat-count', type=int, default=None, help='messages per publisher flat out')
    ap.add_argument('--keep-pace', type=float, default=0.9,
                    help='a step passes when the sustained rate >= this x offered')
    ap.add_argument('--depth', type=int, default=1000, help='QoS history depth')
    ap.add_argument('--stall', type=float, default=8.0,
                    help='s without a new row before a drain wait gives up')
    ap.add_argument('--max-drain', type=float, default=120.0, help='s a drain wait lasts at most')
    ap.add_argument('--flask-duration', type=float, default=None)
    ap.add_argument('--flask-concurrency', type=int, default=8)
    ap.add_argument('--lab-robots', type=int, default=3)
    ap.add_argument('--lab-warmup', type=float, default=None)
    ap.add_argument('--lab-duration', type=float, default=None)
    for phase in ('ours', 'bare', 'flask', 'lab'):
        ap.add_argument(f'--skip-{phase}', action='store_true')
    ap.add_argument('--wait-idle', type=float, default=None,
                    help='s to wait, before each phase, for other processes to quiet down')
    ap.add_argument('--others-max', type=float, default=0.25,
                    help='cores other processes may use for the machine to count as quiet')
    ap.add_argument('--nice', type=int, default=0,
                    help='scheduling niceness for the whole run, every process it starts '
                         'inherits it (e.g. -10 as root: ours and the references alike get '
                         'ahead of unrelated load on a shared machine; recorded in the JSON)')
    ap.add_argument('--db-port', type=int, default=17858)
    ap.add_argument('--domain-id', type=int,
                    default=int(os.environ['ROS_DOMAIN_ID']) if os.environ.get('ROS_DOMAIN_ID')
                    else random.randint(50, 99))
    ap.add_argument('--keep-db', action='store_true', help='keep the MariaDB data directory')
    ap.add_argument('--logger-cmd', help=argparse.SUPPRESS)   # a stand-in, for developing
    ap.add_argument('--allow-host-network', action='store_true',
                    help='run outside a private network namespace (not recommended)')
    a = ap.parse_args(argv)
    quick = a.quick
    defaults = {
        'rates': [100.0, 1000.0],
        'paced_duration': 5.0 if quick else 10.0,
        # the full ladder goes up to where the bare subscriber fails too: its ceiling
        # is the reference
        'ladder': [4000.0, 8000.0, 12000.0, 16000.0] if quick else
                  [2000.0, 4000.0, 6000.0, 8000.0, 10000.0, 12000.0, 16000.0, 20000.0, 24000.0,
                   28000.0, 32000.0, 36000.0, 40000.0, 44000.0, 48000.0, 56000.0],
        'ladder_duration': 3.0 if quick else 5.0,
        'flat_count': 5000 if quick else 15000,
        'flask_duration': 5.0 if quick else 10.0,
        'lab_warmup': 5.0 if quick else 10.0,
        'lab_duration': 20.0 if quick else 45.0,
        'wait_idle': 10.0 if quick else 30.0,
    }
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    return a


def main(argv=None) -> int:
    import signal

    def on_term(signum, _frame):
        # SIGTERM/SIGHUP (timeout, a closed terminal): unwind, so `finally` stops our
        # children by PID and the private MariaDB
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    a = parse_args(argv)
    if not a.allow_host_network and off_loopback('ingest_bench.py ...'):
        return 2
    if not LOGGER_EXE.exists() and not a.logger_cmd and not a.skip_ours:
        print(f'{LOGGER_EXE} is not built', file=sys.stderr)
        return 2
    autogroup_before = None
    if a.nice:
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)
        try:
            with open('/proc/self/autogroup') as f:
                autogroup_before = int(f.read().split()[-1])
        except (OSError, ValueError):
            pass
        set_autogroup_nice(os.getpid(), a.nice)
    bench = Bench(a)
    if a.nice:
        with open('/proc/self/autogroup') as f:
            bench.result['autogroup'] = f.read().strip()
    log(f'run {bench.run_dir.relative_to(REPO_ROOT)}, ROS_DOMAIN_ID={a.domain_id}, '
        f'{a.publishers} publishers' + (' (quick)' if a.quick else ''))
    try:
        return bench.run()
    finally:
        if autogroup_before is not None:
            # the session's group outlives us (the shell that started us is in it)
            set_autogroup_nice(os.getpid(), autogroup_before)


if __name__ == '__main__':
    sys.exit(main())
