#!/usr/bin/env python3
"""Telemetry at scale: insert cost into an empty OdomSamples vs one of ~10 million rows.

No ROS graph. A private MariaDB (MySQL 8's default 128 MB buffer pool) with two databases
at the newest migration, 100 robots each; `big` gets --rows OdomSamples rows (100 robots
at 20 Hz, made by INSERT ... SELECT from the SEQUENCE engine). Then, round after round,
interleaved: --insert rows (100 robots, 20 Hz, stamps after what the table holds) written into each
database (a) through the logger's own LogStore in batches of --batch (decode excluded:
what the writer process does per batch) and (b) as bare multi-row INSERTs of the same
rows (the server's share). Prints rows/s and the ratio big/empty, the bytes per row and
MiB per robot-hour of the big table (data_length + index_length after ANALYZE), and the
rate of a retention delete (one hour of every robot, by primary-key range, in chunks);
the other sample tables get --other-rows rows each for their size per row.

  cd /work/main && source scripts/env.sh && python bench/telemetry_scale.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta

from common import REPO_ROOT

from robot_db_testing.private_mariadb import MIGRATION_USER, PrivateMariaDB  # noqa: E402

ROBOTS = 100
PERIOD_US = 50000
T0 = datetime(2026, 1, 1)
COLUMNS = 'robot_id, stamp, session_id, x, y, yaw, vx, vy, wz'


def connect(server: PrivateMariaDB, database: str, user: str = MIGRATION_USER):
    import pymysql
    creds = server.credentials(user, database)
    return pymysql.connect(host=creds.host, port=creds.port, user=creds.user,
                           password=creds.password(), database=database, autocommit=False,
                           ssl_disabled=True, init_command="SET time_zone = '+00:00'")


def prepare(server: PrivateMariaDB, database: str) -> None:
    from db_logger.migrate import Migrator
    server.create_database(database)
    conn = connect(server, database)
    Migrator(conn, REPO_ROOT / 'sql').apply_pending()
    with conn.cursor() as cur:
        cur.executemany('INSERT INTO Robots (serial, model_type, status) VALUES (%s, %s, %s)',
                        [(f'SCALE-{n:03d}', 'EP01', 'Idle') for n in range(ROBOTS)])
    conn.commit()
    conn.close()


def fill(server: PrivateMariaDB, database: str, rows: int) -> dict:
    """About `rows` OdomSamples rows, 100 robots at 20 Hz, in primary-key order.

    Made by INSERT ... SELECT from MariaDB's SEQUENCE engine (seq_0_to_N), a chunk of
    stamps at a time, robot by robot (STRAIGHT_JOIN), with no ORDER BY: a copy of the
    table into itself or a sort goes through a temporary file, and here /tmp files of
    long statements have vanished under the server (errno 2).
    """
    conn = connect(server, database)
    per_robot = max(1, rows // ROBOTS)
    chunk = 10000
    began = time.monotonic()
    with conn.cursor() as cur:
        for first in range(0, per_robot, chunk):
            last = min(per_robot, first + chunk) - 1
            cur.execute(f'INSERT INTO OdomSamples ({COLUMNS}) SELECT r.robot_id, '
                        f'%s + INTERVAL s.seq * {PERIOD_US} MICROSECOND, NULL, s.seq * 0.001, '
                        f'0.5, 0.25, 0.1, 0.0, -0.2 FROM Robots r STRAIGHT_JOIN '
                        f'seq_{first}_to_{last} s', (T0,))
            conn.commit()
    conn.close()
    return {'rows': per_robot * ROBOTS, 'per_robot': per_robot,
            'seconds': round(time.monotonic() - began, 1)}


def next_rows(conn, count: int) -> list:
    """count rows, 100 robots at 20 Hz, after the newest stamp the table holds."""
    with conn.cursor() as cur:
        cur.execute('SELECT robot_id FROM Robots ORDER BY robot_id')
        ids = [r[0] for r in cur.fetchall()]
        cur.execute('SELECT MAX(stamp) FROM OdomSamples')
        newest = cur.fetchone()[0] or T0
    conn.commit()
    start = newest + timedelta(microseconds=PERIOD_US)
    return [(rid, start + timedelta(microseconds=i * PERIOD_US)) for i in range(count // ROBOTS)
            for rid in ids]


def through_logstore(server, database: str, rows: list, batch: int) -> float:
    from db_logger.connection import DatabaseConfig
    from db_logger.decoding import Batch
    from db_logger.store import LogStore
    from db_logger.telemetry import Sample, TelemetrySettings
    creds = server.credentials('robot_user', database)
    store = LogStore(DatabaseConfig(creds.host, creds.port, database, creds.user,
                                    creds.password()), telemetry=TelemetrySettings('all'))
    store.open()
    epoch = datetime(1970, 1, 1)
    samples = [Sample('odom', f'SCALE-{rid - 1:03d}', (t - epoch) // timedelta(microseconds=1),
                      t.isoformat(' ', 'microseconds'), (0.1, 0.5, 0.25, 0.1, 0.0, -0.2))
               for rid, t in rows]
    began = time.perf_counter()
    for i in range(0, len(samples), batch):
        store.write(Batch(samples=samples[i:i + batch]))
    elapsed = time.perf_counter() - began
    store.close()
    return len(samples) / elapsed


def bare_sql(server, database: str, rows: list, batch: int) -> float:
    conn = connect(server, database, 'robot_user')
    values = [(rid, t, None, 0.1, 0.5, 0.25, 0.1, 0.0, -0.2) for rid, t in rows]
    began = time.perf_counter()
    with conn.cursor() as cur:
        for i in range(0, len(values), batch):
            cur.executemany(f'INSERT INTO OdomSamples ({COLUMNS}) VALUES '
                            '(%s, %s, %s, %s, %s, %s, %s, %s, %s) '
                            'ON DUPLICATE KEY UPDATE stamp = stamp', values[i:i + batch])
            conn.commit()
    elapsed = time.perf_counter() - began
    conn.close()
    return len(values) / elapsed


# the other sample tables: their value columns as the SEQUENCE fill writes them, and rate
OTHER_TABLES = {
    'ImuSamples': ('qx, qy, qz, qw, gx, gy, gz, ax, ay, az',
                   '0, 0, 0.1, 0.99, 0.01, 0.02, 0.3, 0.1, 0.2, 9.81', 20),
    'WheelSamples': ('front_right_rpm, front_left_rpm, rear_left_rpm, rear_right_rpm',
                     'MOD(s.seq, 100), -12.5, 30, 40', 10),
    'BatterySamples': ('percent, voltage', '87.5, NULL', 1),
    'StatusSamples': ('status, battery_percent, ip_address', "'Idle', 87.5, '192.0.2.7'", 1),
}


def fill_other(server: PrivateMariaDB, database: str, table: str, per_robot: int) -> None:
    columns, values, _ = OTHER_TABLES[table]
    conn = connect(server, database)
    with conn.cursor() as cur:
        cur.execute(f'INSERT INTO {table} (robot_id, stamp, session_id, {columns}) SELECT '
                    f'r.robot_id, %s + INTERVAL s.seq * {PERIOD_US} MICROSECOND, NULL, '
                    f'{values} FROM Robots r STRAIGHT_JOIN seq_0_to_{per_robot - 1} s', (T0,))
    conn.commit()
    conn.close()


def size(server, database: str, table: str = 'OdomSamples', rate: int = 20) -> dict:
    conn = connect(server, database)
    with conn.cursor() as cur:
        cur.execute(f'ANALYZE TABLE {table}')
        cur.fetchall()
        cur.execute(f'SELECT COUNT(*) FROM {table}')
        rows = cur.fetchone()[0]
        cur.execute('SELECT data_length, index_length FROM information_schema.tables '
                    'WHERE table_schema = DATABASE() AND table_name = %s', (table,))
        data, index = cur.fetchone()
    conn.close()
    per_row = (data + index) / rows
    return {'rows': rows, 'data_mib': round(data / 2**20, 1),
            'index_mib': round(index / 2**20, 1), 'bytes_per_row': round(per_row, 1),
            'rate_hz': rate, 'mib_per_robot_hour': round(per_row * rate * 3600 / 2**20, 2)}


def retention_delete(server, database: str, chunk: int) -> dict:
    """Delete the oldest hour of every robot by primary-key range, chunk rows at a time."""
    conn = connect(server, database)
    deleted = 0
    began = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute('SELECT robot_id FROM Robots ORDER BY robot_id')
        ids = [r[0] for r in cur.fetchall()]
        for rid in ids:
            while True:
                cur.execute('DELETE FROM OdomSamples WHERE robot_id = %s AND stamp < %s '
                            'LIMIT %s', (rid, T0 + timedelta(hours=1), chunk))
                conn.commit()
                deleted += cur.rowcount
                if cur.rowcount < chunk:
                    break
    elapsed = time.perf_counter() - began
    conn.close()
    return {'rows': deleted, 'seconds': round(elapsed, 1),
            'rows_per_s': round(deleted / elapsed) if elapsed else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 2)[2])
    ap.add_argument('--rows', type=int, default=10_000_000, help='rows of the big table')
    ap.add_argument('--insert', type=int, default=50_000, help='rows per measured insert')
    ap.add_argument('--other-rows', type=int, default=1_000_000,
                    help='rows of each other sample table, for their size per row')
    ap.add_argument('--batch', type=int, default=500, help='rows per transaction (batch_size)')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--chunk', type=int, default=10000, help='rows per retention DELETE')
    ap.add_argument('--db-port', type=int, default=17862)
    ap.add_argument('--keep-db', action='store_true', help='keep the server\'s data directory')
    a = ap.parse_args(argv)
    out_dir = REPO_ROOT / '.local' / 'bench'
    run_dir = out_dir / f'scale-{time.strftime("%Y%m%d-%H%M%S")}'
    server = PrivateMariaDB(run_dir / 'mariadb', a.db_port, buffer_pool='128M')
    server.start()
    result = {'args': vars(a)}
    try:
        for database in ('scale_empty', 'scale_big'):
            prepare(server, database)
        result['fill'] = fill(server, 'scale_big', a.rows)
        print(f'big table: {result["fill"]}', flush=True)
        runs = {(kind, db): [] for kind in ('logstore', 'sql') for db in ('empty', 'big')}
        for number in range(a.rounds):
            for kind, write in (('logstore', through_logstore), ('sql', bare_sql)):
                for db in ('empty', 'big'):
                    database = f'scale_{db}'
                    if db == 'empty':
                        conn = connect(server, database)
                        with conn.cursor() as cur:
                            cur.execute('TRUNCATE TABLE TelemetryCoverage')
                            cur.execute('DELETE FROM OdomSamples')
                        conn.commit()
                        conn.close()
                    conn = connect(server, database)
                    rows = next_rows(conn, a.insert)
                    conn.close()
                    rate = write(server, database, rows, a.batch)
                    runs[(kind, db)].append(round(rate))
                    print(f'round {number + 1} {kind:<8} {db:<5}: {rate:9.0f} rows/s',
                          flush=True)
        result['rows_per_s'] = {f'{k}_{d}': v for (k, d), v in runs.items()}
        result['ratio_big_to_empty'] = {
            kind: round(statistics.median(runs[(kind, 'big')])
                        / statistics.median(runs[(kind, 'empty')]), 3)
            for kind in ('logstore', 'sql')}
        result['size'] = {'OdomSamples': size(server, 'scale_big')}
        for table, (_, _, rate) in OTHER_TABLES.items():
            fill_other(server, 'scale_big', table, a.other_rows // ROBOTS)
            result['size'][table] = size(server, 'scale_big', table, rate)
        result['size']['mib_per_robot_hour_at_driver_rates'] = round(sum(
            v['mib_per_robot_hour'] for v in result['size'].values()), 2)
        result['retention_delete'] = retention_delete(server, 'scale_big', a.chunk)
    finally:
        server.stop()
        if not a.keep_db:
            shutil.rmtree(run_dir, ignore_errors=True)
    out = out_dir / f'telemetry-scale-{time.strftime("%Y%m%d-%H%M%S")}.json'
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ('rows_per_s', 'ratio_big_to_empty', 'size',
                                             'retention_delete')}, indent=1))
    print(f'JSON: {out.relative_to(REPO_ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
