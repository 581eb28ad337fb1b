"""Boot Django for a benchmark against a throw-away database and file store.

The database is the one DATABASE_URL names (SQLite by default) with Django's test-database
machinery: a fresh ``test_…`` database is created, migrated and dropped afterwards.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable


def boot(database_url: str | None = None) -> Callable[[], None]:
    tmp = tempfile.mkdtemp(prefix="brainscribe-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainscribe.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("STATIC_NO_MANIFEST", "1")
    os.environ.setdefault("HTTPS", "false")
    os.environ["BRAINSCRIBE_VAR_DIR"] = tmp
    os.environ["MEDIA_ROOT"] = os.path.join(tmp, "media")
    os.environ.setdefault("CELERY_BROKER_DIR", os.path.join(tmp, "broker"))
    if database_url:
        os.environ["DATABASE_URL"] = database_url

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)

    def teardown() -> None:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(teardown)
    return teardown


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])
