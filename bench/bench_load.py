"""Load: 50 simulated annotators on PostgreSQL + Redis + gunicorn, then an audit of every save.

    .venv/bin/python bench/bench_load.py [--users 50] [--duration 60] [--shape 96,112,96]

Runs its own PostgreSQL cluster (fsync on, as in production) and gunicorn; Redis at
127.0.0.1:6379 is the broker. Prints requests/s, latency percentiles per endpoint, errors, and
the audit: every save answered 200 is stored exactly once, every other save was answered 409.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import percentile, table
from bench.load import audit, run_load
from bench.stack import PrivatePostgres, WebServer, manage, seed, stack_env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--shape", default="96,112,96")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    shape = tuple(int(s) for s in args.shape.split(","))
    affine = np.diag([-2.0, 2.0, 2.0, 1.0])

    pg = PrivatePostgres(fsync=True)
    pg.start()
    var = Path(tempfile.mkdtemp(prefix="brainscribe-load-"))
    env = stack_env(pg.url, var, broker_url="redis://127.0.0.1:6379/2")
    try:
        manage(env, "migrate", "--noinput")
        info = seed(env, users=args.users, cases=args.cases, shape=shape)
        web = WebServer(env, workers=args.workers, threads=args.threads)
        try:
            started = time.perf_counter()
            result = run_load(web.url, info, args.users, args.duration, shape, affine)
            elapsed = time.perf_counter() - started
        finally:
            web.stop()
        checks = audit(env, result)
    finally:
        pg.destroy()

    print(
        f"{args.users} annotators for {args.duration:.0f} s against gunicorn ({args.workers}×{args.threads}), "
        f"PostgreSQL, Redis; volumes {shape[0]}×{shape[1]}×{shape[2]}"
    )
    rows = []
    for name, samples in sorted(result.samples.items()):
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses[name].items(), key=str))
        rows.append(
            [
                name,
                len(samples),
                f"{len(samples) / elapsed:.1f}",
                f"{percentile(samples, 50):.0f}",
                f"{percentile(samples, 95):.0f}",
                f"{percentile(samples, 99):.0f}",
                codes,
            ]
        )
    rows.append(["all", result.requests, f"{result.requests / elapsed:.1f}", "", "", "", f"errors: {result.errors()}"])
    print(table(["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "answers"], rows))
    print(table(["audit", "count"], [[k, v] for k, v in checks.items()]))
    ok = checks["duplicates"] == 0 and checks["accepted but missing"] == 0 and checks["stored but never accepted"] == 0
    print(f"no lost update, no duplicate: {'yes' if ok and checks['5xx or connection errors'] == 0 else 'NO'}")


if __name__ == "__main__":
    main()
