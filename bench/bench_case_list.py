"""Worklist page latency with 10,000 and 100,000 cases on PostgreSQL, and queries per page.

    .venv/bin/python bench/bench_case_list.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]

Each size is filled with bulk inserts, then pages are requested through the real view (routing,
auth, filtering, ordering, counting, serialising) for the orderings and filters the worklist uses.
The query count must not depend on the page size.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import boot, percentile, table

QUERIES = [
    ("created order, page 1", "?page_size=50"),
    ("created order, page 100", "?page_size=50&page=100"),
    ("priority order", "?ordering=priority&page_size=50"),
    ("status filter", "?status=in_progress&page_size=50"),
    ("assigned to me", "?assignee=me&page_size=50"),
    ("split filter + priority", "?split=train&ordering=priority&page_size=50"),
]


def fill(project, n: int, users, template) -> None:
    from annotations.models import Case

    rng = random.Random(n)
    have = Case.objects.filter(project=project).count()
    batch = []
    for i in range(have, n):
        batch.append(
            Case(
                project=project,
                external_id=f"C{i:07d}",
                reference_modality="T1",
                shape=template.shape,
                affine=template.affine,
                orientation="LAS",
                modalities=["T1", "T1CE", "T2", "FLAIR"],
                status=rng.choice(["new", "predicted", "in_progress", "submitted", "approved"]),
                split=rng.choice(["train", "train", "train", "val", "test"]),
                priority=rng.random() if rng.random() < 0.7 else None,
                assignee=rng.choice(users + [None, None]),
                last_editor=rng.choice(users),
            )
        )
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    Case.objects.bulk_create(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    boot(args.database_url)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from annotations.models import Membership
    from annotations.services.projects import project_create

    User = get_user_model()
    admin = User.objects.create_user("bench-admin", password="x", is_staff=True)
    project = project_create(name="bench", label_schema="demo-aal3", user=admin)
    users = [User.objects.create_user(f"annotator{i}", password="x") for i in range(20)]
    for user in users:
        Membership.objects.create(project=project, user=user, role="annotator")
    client = APIClient()
    client.force_authenticate(users[0])

    class Template:
        shape = [182, 218, 182]
        affine = [[-1, 0, 0, 90], [0, 1, 0, -126], [0, 0, 1, -72], [0, 0, 0, 1]]

    rows = []
    url = f"/api/projects/{project.pk}/cases/"
    for size in [int(s) for s in args.sizes.split(",")]:
        started = time.perf_counter()
        fill(project, size, users, Template)
        if connection.vendor == "postgresql":
            # What autovacuum does to a live table: statistics and the visibility map for index-only counts.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE annotations_case")
        fill_s = time.perf_counter() - started
        for name, query in QUERIES:
            client.get(url + query)  # warm
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                response = client.get(url + query)
                times.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200
            rows.append([f"{size:,}", name, f"{percentile(times, 50):.1f}", f"{percentile(times, 95):.1f}"])
        counts = []
        for page_size in (10, 50, 200):
            with CaptureQueriesContext(connection) as ctx:
                client.get(f"{url}?page_size={page_size}")
            counts.append(f"{page_size}→{len(ctx.captured_queries)}")
        rows.append([f"{size:,}", "queries per page (size→queries)", " ".join(counts), f"filled in {fill_s:.0f}s"])
    print(f"GET /api/projects/{{id}}/cases/ on {connection.vendor}, {args.repeat} requests each")
    print(table(["cases", "request", "p50 ms", "p95 ms"], rows))
    worst = max(float(r[3]) for r in rows if r[1] != "queries per page (size→queries)")
    print(f"target: p95 ≤ 100 ms per page → {'met' if worst <= 100 else 'NOT met'} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
