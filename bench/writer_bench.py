#!/usr/bin/env python3
"""The db_logger writer's cost per row, without DDS: decoding, then the whole writer.

1. Decoding, side by side in one process: rclpy's deserialize_message (the baseline:
   what the writer used before) against db_logger.decoding.parse, over the same
   serialized CommandResults, interleaved rounds; median us/message and the ratio.
2. The writer (BatchWriter: journal read, decode, rows, SQL, ack) on a journal
   holding N CommandResults, against a private MariaDB started here: rows/s, the
   writer's CPU per row and the server's. Side by side with the same writer whose
   decoder is deserialize_message (the baseline), on an emptied table each run.

    source scripts/env.sh && python bench/writer_bench.py [--rows N] [--rounds K]

It starts no ROS node (no DDS traffic at all) and one MariaDB on 127.0.0.1 under
.local/bench/writer-*/, stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from common import REPO_ROOT, ProcessMeter  # noqa: E402

from robot_db_testing.private_mariadb import MIGRATION_USER, PrivateMariaDB  # noqa: E402

MIGRATE_EXE = REPO_ROOT / 'ros2_ws' / 'install' / 'db_logger' / 'lib' / 'db_logger' / 'migrate'
DATABASE = 'bench_writer'


def serialized_commands(count: int) -> list[bytes]:
    from rclpy.serialization import serialize_message
    from robot_interfaces.msg import CommandResult
    msg = CommandResult(robot_serial='BENCH1', command_type='Velocity', result='Success',
                        payload_json='{"linear": 0.5, "angular": 0.1}', message='bench')
    now = time.time()
    out = []
    for i in range(count):
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), i
        msg.command_id = str(uuid.uuid4())
        out.append(bytes(serialize_message(msg)))
    return out


def per_message_us(fn, payloads: list[bytes]) -> float:
    start = time.process_time()
    for payload in payloads:
        fn(payload)
    return (time.process_time() - start) / len(payloads) * 1e6


def bench_decoding(payloads: list[bytes], rounds: int) -> dict:
    from rclpy.serialization import deserialize_message
    from robot_interfaces.msg import CommandResult

    from db_logger.decoding import KIND_COMMAND, parse
    base, ours = [], []
    for _ in range(rounds):  # interleaved, so both meet the same machine
        base.append(per_message_us(lambda p: deserialize_message(p, CommandResult), payloads))
        ours.append(per_message_us(lambda p: parse(p, KIND_COMMAND), payloads))
    return {'deserialize_message_us': statistics.median(base),
            'parse_us': statistics.median(ours)}


def baseline_decoder():
    """decode_records as it was with rclpy: message objects, then the same rows."""
    from rclpy.serialization import deserialize_message
    from robot_interfaces.msg import CommandResult

    from db_logger.decoding import CommandFields
    from db_logger.rows import command_row, sql_time
    from db_logger.decoding import Batch

    def decode(records):
        batch = Batch()
        for record in records:
            msg = deserialize_message(record.payload, CommandResult)
            fields = CommandFields(msg.header.stamp.sec, msg.header.stamp.nanosec,
                                   msg.robot_serial, msg.command_id, msg.command_type,
                                   msg.payload_json, msg.result, msg.message)
            batch.commands.append(command_row(fields, sql_time(int(record.received * 1000)))[0])
        return batch, [], []
    return decode


def bench_writer(payloads: list[bytes], db: PrivateMariaDB, decode) -> dict:
    from db_logger.connection import DatabaseConfig
    from db_logger.decoding import KIND_COMMAND
    from db_logger.journal import Journal
    from db_logger.store import LogStore
    from db_logger.writer import BatchWriter

    creds = db.credentials('robot_user', DATABASE)
    config = DatabaseConfig(creds.host, creds.port, DATABASE, creds.user,
                            creds.password_file.read_text().strip())
    journal_dir = Path(tempfile.mkdtemp(prefix='writer-bench-journal-'))
    try:
        journal = Journal(journal_dir)
        received = time.time()
        for payload in payloads:
            journal.append(KIND_COMMAND, payload, received)
        lines: list[str] = []
        writer = BatchWriter(Journal(journal_dir, appender=False), LogStore(config),
                             decode, lambda level, line: lines.append(line))
        server = ProcessMeter(db.pid())
        mark = server.mark()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        writer.start()
        deadline = wall0 + 300
        while journal.acked < journal.last_seq and time.perf_counter() < deadline:
            time.sleep(0.002)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        server_cpu = server.window(mark, server.mark())['cpu_seconds']
        writer.stop()
        journal.close()
        rows = writer.stats.rows_committed
        return {'rows': rows, 'expected': len(payloads), 'rows_per_s': rows / wall,
                'writer_cpu_us_per_row': cpu / max(rows, 1) * 1e6,
                'server_cpu_us_per_row': server_cpu / max(rows, 1) * 1e6,
                'log': lines[-3:]}
    finally:
        shutil.rmtree(journal_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rows', type=int, default=50000)
    ap.add_argument('--rounds', type=int, default=5, help='decoding rounds per side')
    ap.add_argument('--writer-rounds', type=int, default=3, help='writer runs per side')
    ap.add_argument('--db-port', type=int, default=17859)
    args = ap.parse_args(argv)

    payloads = serialized_commands(args.rows)
    decoding = bench_decoding(payloads[:20000], args.rounds)
    print(f'decode, us/message (median of {args.rounds}): deserialize_message '
          f'{decoding["deserialize_message_us"]:.2f}, decoding.parse {decoding["parse_us"]:.2f}'
          f'  -> parse takes {decoding["parse_us"] / decoding["deserialize_message_us"]:.2f}x'
          ' the time')

    run_dir = REPO_ROOT / '.local' / 'bench' / time.strftime('writer-%Y%m%d-%H%M%S')
    db = PrivateMariaDB(run_dir / 'mariadb', args.db_port, buffer_pool='128M')
    try:
        db.start()
        db.create_database(DATABASE)
        mig = db.credentials(MIGRATION_USER, DATABASE)
        subprocess.run([str(MIGRATE_EXE), '--host', mig.host, '--port', str(mig.port),
                        '--user', mig.user, '--password-file', str(mig.password_file),
                        '--database', DATABASE], check=True, capture_output=True, timeout=120)
        db.admin_sql(f"USE {DATABASE}; INSERT INTO Robots (serial, model_type, status) "
                     "VALUES ('BENCH1', 'EP01', 'Idle')")
        from db_logger.decoding import decode_records
        sides = {'baseline (deserialize_message)': baseline_decoder(),
                 'ours (decoding.parse)': decode_records}
        results: dict[str, list[dict]] = {name: [] for name in sides}
        for _ in range(args.writer_rounds):  # interleaved, each on an emptied table
            for name, decode in sides.items():
                db.admin_sql(f'USE {DATABASE}; TRUNCATE TABLE CommandLogs')
                results[name].append(bench_writer(payloads, db, decode))
    finally:
        db.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(r[k] for r in runs)
                         for k in ('rows_per_s', 'writer_cpu_us_per_row',
                                   'server_cpu_us_per_row')}
        m = medians[name]
        print(f'writer, {name}: {m["rows_per_s"]:,.0f} rows/s, writer CPU '
              f'{m["writer_cpu_us_per_row"]:.1f} us/row, MariaDB CPU '
              f'{m["server_cpu_us_per_row"]:.1f} us/row (median of {len(runs)})')
    base, ours = medians.values()
    print(f'writer, ours / baseline: {ours["rows_per_s"] / base["rows_per_s"]:.2f}x the rows/s, '
          f'{ours["writer_cpu_us_per_row"] / base["writer_cpu_us_per_row"]:.2f}x the CPU per row')
    complete = all(r['rows'] == r['expected'] for runs in results.values() for r in runs)
    return 0 if complete else 1


if __name__ == '__main__':
    sys.exit(main())
