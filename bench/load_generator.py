#!/usr/bin/env python3
"""Load generator for baseline (b): concurrent POST /robot/log on 127.0.0.1.

Like the manual's robot client (requests.post without a session): one new TCP
connection per request, body {"robot_serial", "command_type", "result"} plus the
benchmark's "command_id" (a common.msg_id) and "stamp" (send time, epoch s).
`--concurrency` threads, each sending back to back, until `--duration` seconds
have passed or `--max-requests` were sent. Prints one JSON line with the result:
ok/errors, rate, client latency percentiles, and the ids answered 200 as
{thread: count} (each thread's sequence numbers run 0..n-1 with ok/failed listed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import msg_id, percentile  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--tag', required=True)
    ap.add_argument('--scenario', type=int, required=True)
    ap.add_argument('--duration', type=float, default=10.0)
    ap.add_argument('--max-requests', type=int, default=200000)
    ap.add_argument('--concurrency', type=int, default=8)
    ap.add_argument('--timeout', type=float, default=10.0)
    ap.add_argument('--serial', default='BENCH-FLASK')
    args = ap.parse_args(argv)
    tag = int(args.tag, 16)

    lock = threading.Lock()
    budget = [args.max_requests]
    results = [{'ok': 0, 'sent': 0, 'failed_seqs': [], 'errors': {}, 'lat': []}
               for _ in range(args.concurrency)]
    start = time.monotonic()
    t_first = time.time()
    end = start + args.duration

    def worker(k: int) -> None:
        r = results[k]
        seq = 0
        while time.monotonic() < end:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            body = json.dumps({'robot_serial': args.serial, 'command_type': 'Velocity',
                               'result': 'Success',
                               'command_id': msg_id(tag, args.scenario, k, seq),
                               'stamp': time.time()})
            t0 = time.monotonic()
            r['sent'] += 1
            try:
                conn = http.client.HTTPConnection('127.0.0.1', args.port, timeout=args.timeout)
                conn.request('POST', '/robot/log', body, {'Content-Type': 'application/json'})
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    r['ok'] += 1
                    r['lat'].append(time.monotonic() - t0)
                else:
                    r['failed_seqs'].append(seq)
                    key = f'http {resp.status}'
                    r['errors'][key] = r['errors'].get(key, 0) + 1
            except Exception as exc:   # connection refused/reset, timeout
                r['failed_seqs'].append(seq)
                key = type(exc).__name__
                r['errors'][key] = r['errors'].get(key, 0) + 1
            seq += 1

    threads = [threading.Thread(target=worker, args=(k,), daemon=True)
               for k in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.duration + args.timeout + 5)
    elapsed = time.monotonic() - start
    lat = sorted(x for r in results for x in r['lat'])
    errors: dict[str, int] = {}
    for r in results:
        for key, n in r['errors'].items():
            errors[key] = errors.get(key, 0) + n
    ok = sum(r['ok'] for r in results)
    out = {
        'event': 'result', 'concurrency': args.concurrency, 'elapsed': round(elapsed, 3),
        't_first': t_first, 't_last': time.time(),
        'sent': sum(r['sent'] for r in results), 'ok': ok, 'errors': errors,
        'rate': round(ok / elapsed, 1) if elapsed > 0 else None,
        'latency_ms': {'p50': round(1000 * percentile(lat, 50), 1) if lat else None,
                       'p99': round(1000 * percentile(lat, 99), 1) if lat else None},
        'per_thread': [{'sent': r['sent'], 'failed_seqs': r['failed_seqs'][:1000]}
                       for r in results],
        'threads_alive': sum(t.is_alive() for t in threads),
    }
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
