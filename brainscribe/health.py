"""``GET /healthz``: does each backing service answer? For load balancers and for humans."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from brainscribe.celery import app as celery_app
from brainscribe.celery import ensure_broker_folders


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    ensure_broker_folders()
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        # A default channel proves the transport itself (folder or socket) works, not just the URL.
        _ = conn.default_channel


def check_storage() -> None:
    name = f"healthz/{uuid.uuid4().hex}"
    saved = default_storage.save(name, ContentFile(b"ok"))
    try:
        with default_storage.open(saved) as fh:
            if fh.read() != b"ok":
                raise OSError("storage returned different bytes than were written")
    finally:
        default_storage.delete(saved)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down", reported with its text
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return all(r["ok"] for r in results.values()), results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    ok, components = run_checks()
    return JsonResponse({"status": "ok" if ok else "unavailable", "components": components}, status=200 if ok else 503)
