"""A job that checks, from inside a worker, that the worker can reach what jobs need."""

from __future__ import annotations

import platform
import socket
from typing import Any

from inference.models import Job
from inference.services.jobs import JobContext


def run_healthcheck_job(job: Job, ctx: JobContext) -> dict[str, Any]:
    from brainscribe.health import check_database, check_storage

    results: dict[str, Any] = {"worker_host": socket.gethostname(), "python": platform.python_version()}
    for name, check in (("database", check_database), ("storage", check_storage)):
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001
            results[name] = f"{type(exc).__name__}: {exc}"
        ctx.progress(0.5 if name == "database" else 1.0, f"checked {name}")
    if not all(results[n] == "ok" for n in ("database", "storage")):
        raise RuntimeError(f"worker cannot reach everything it needs: {results}")
    return results
