"""Time the demo generator: 40 cases (default) with 2 workers into a temporary folder.

Run: .venv/bin/python bench/bench_demo.py [--cases 40] [--workers 2] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from annotations.demo import generate_dataset

    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        summary = generate_dataset(Path(tmp) / "demo", args.cases, args.seed, workers=args.workers)
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    counts: dict[str, int] = {}
    for kind in summary.kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    # CPU seconds of this process and its workers: comparable across runs even on a busy machine.
    cpu = sum(
        resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f}, workers {args.workers}, seed {args.seed}")
    print(f"{'cases':>6} {'seconds':>8} {'cases/s':>8} {'CPU s':>7} {'MB written':>11}")
    print(
        f"{len(summary.case_ids):>6} {seconds:>8.1f} {len(summary.case_ids) / seconds:>8.2f} {cpu:>7.0f} "
        f"{size / 1e6:>11.0f}"
    )
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
