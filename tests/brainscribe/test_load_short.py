"""The load experiment in short form: 10 annotators for 10 seconds against gunicorn and a private
PostgreSQL; every save answered 200 is stored exactly once and every other save got 409."""

import numpy as np
import pytest

from bench.load import audit, run_load
from bench.stack import PrivatePostgres, WebServer, manage, postgres_bin, seed, stack_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server binaries are not installed"),
]


def test_ten_annotators_lose_nothing_and_duplicate_nothing(tmp_path):
    pg = PrivatePostgres()
    pg.start()
    try:
        env = stack_env(pg.url, tmp_path)
        manage(env, "migrate", "--noinput")
        info = seed(env, users=10, cases=60, shape=(32, 36, 28))
        web = WebServer(env, workers=2, threads=4)
        try:
            result = run_load(
                web.url, info, users=10, duration_s=10, shape=(32, 36, 28), affine=np.diag([-2.0, 2.0, 2.0, 1.0])
            )
        finally:
            web.stop()
        checks = audit(env, result)
    finally:
        pg.destroy()
    assert checks["5xx or connection errors"] == 0, dict(result.statuses)
    assert checks["accepted saves"] > 20
    assert checks["duplicates"] == 0
    assert checks["accepted but missing"] == 0
    assert checks["stored but never accepted"] == 0
    shared = result.statuses["put mask (shared case)"]
    assert set(shared) <= {200, 409}, dict(shared)
