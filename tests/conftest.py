"""Shared fixtures: users in every project role, API clients, real NIfTI files, a real Celery worker."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import nibabel as nib
import numpy as np
import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent
ROLES = ("admin", "reviewer", "annotator", "viewer")


@pytest.fixture(autouse=True)
def _media_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test stores files in its own folder, like a fresh instance."""
    if not request.config.pluginmanager.hasplugin("django"):
        return  # pure numeric tests run without Django (-p no:django)
    settings = request.getfixturevalue("settings")
    # Tests create many users; the production hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.BRAINSCRIBE_JOB_DIR = str(tmp_path_factory.mktemp("jobs"))
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "brainscribe.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(root)}},
    }


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model

    def make(username: str, **extra) -> object:
        return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)

    return make


@pytest.fixture
def staff(make_user):
    return make_user("staff", is_staff=True)


@pytest.fixture
def project(db, staff):
    from annotations.services.projects import project_create

    return project_create(name="Gliomas", label_schema="demo-aal3", user=staff)


@pytest.fixture
def members(project, make_user, staff):
    """One user per role in ``project`` (the staff creator is admin) plus an outsider."""
    from annotations.models import Membership

    users = {"admin": staff}
    for role in ROLES[1:]:
        user = make_user(role)
        Membership.objects.create(project=project, user=user, role=role)
        users[role] = user
    users["outsider"] = make_user("outsider")
    return users


@pytest.fixture
def client_for() -> Callable[[object], object]:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user: object) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


AXCODES = {"RAS": ("R", "A", "S"), "LAS": ("L", "A", "S"), "LPS": ("L", "P", "S")}


def volume_affine(orientation: str, shape: tuple[int, int, int], spacing: float = 2.0) -> np.ndarray:
    """An affine that puts the grid's centre near the world origin, in the given orientation."""
    affine = np.diag([spacing, spacing, spacing, 1.0])
    if orientation == "oblique":
        angle = np.deg2rad(12)
        rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
        tilt = np.array(
            [[1, 0, 0], [0, np.cos(angle / 2), -np.sin(angle / 2)], [0, np.sin(angle / 2), np.cos(angle / 2)]]
        )
        affine[:3, :3] = rot @ tilt @ affine[:3, :3]
    else:
        signs = {"R": 1, "L": -1, "A": 1, "P": -1, "S": 1, "I": -1}
        affine[:3, :3] = np.diag([spacing * signs[c] for c in AXCODES[orientation]])
    affine[:3, 3] = -affine[:3, :3] @ (np.array(shape) - 1) / 2
    return affine


@pytest.fixture
def nifti_bytes() -> Callable[..., bytes]:
    """Real .nii.gz bytes of a small phantom: a bright ellipsoid in a darker box."""

    def make(
        shape: tuple[int, int, int] = (24, 28, 20),
        orientation: str = "RAS",
        dtype: str = "int16",
        data: np.ndarray | None = None,
        affine: np.ndarray | None = None,
        descrip: str = "",
        gz: bool = True,
    ) -> bytes:
        if data is None:
            grid = np.indices(shape).astype(float)
            centre = (np.array(shape) - 1) / 2
            r = sum(((grid[i] - centre[i]) / (shape[i] / 3)) ** 2 for i in range(3))
            data = np.where(r < 1, 800, 200).astype(dtype)
        img = nib.Nifti1Image(data, affine if affine is not None else volume_affine(orientation, data.shape[:3]))
        img.header["descrip"] = descrip.encode()[:79]
        raw = img.to_bytes()
        return gzip.compress(raw, mtime=0) if gz else raw

    return make


@pytest.fixture
def make_case(project, nifti_bytes):
    from annotations.services.cases import case_create

    def make(external_id: str = "case-1", orientation: str = "RAS", modalities=("T1", "FLAIR"), **kwargs) -> object:
        volumes = {m: nifti_bytes(orientation=orientation) for m in modalities}
        return case_create(
            project=kwargs.pop("project", project), external_id=external_id, volumes=volumes, **kwargs
        ).case

    return make


# --- a real Celery worker in its own process ----------------------------------------------------------


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker_env(settings) -> dict[str, str]:
    """Environment for a worker process that sees this test's database and files."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        BRAINSCRIBE_JOB_DIR=str(settings.BRAINSCRIBE_JOB_DIR),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_BROKER_DIR=str(settings.CELERY_BROKER_DIR),
        PYTHONUNBUFFERED="1",
    )
    return env


def _spawn_worker(
    env: dict[str, str], log: IO[str], *, queues: str = "default,inference,training", pool: str = "solo", name: str = ""
) -> subprocess.Popen:
    """``celery worker`` in a process of its own, as production runs it: one slot, the given queues
    and pool (``prefork`` where a test kills the child that runs the task)."""
    command = [sys.executable, "-m", "celery", "-A", "brainscribe", "worker", "-Q", queues, "-P", pool, "-c", "1"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info"]
    if name:
        command += ["-n", name]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def spawn_worker() -> Callable[..., subprocess.Popen]:
    return _spawn_worker


@pytest.fixture
def celery_worker_process(transactional_db, worker_env, tmp_path) -> Iterator[subprocess.Popen]:
    """``celery worker`` as a separate process on every queue, consuming from the configured broker."""
    from brainscribe.celery import app

    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        app.control.purge()
    log = (tmp_path / "worker.log").open("w")
    proc = _spawn_worker(worker_env, log, name=f"test-{os.getpid()}@%h")
    proc.log_path = tmp_path / "worker.log"  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 60, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def wait() -> Callable[..., bool]:
    return wait_for


@pytest.fixture
def fault_record(request: pytest.FixtureRequest) -> Callable[..., None]:
    """What a fault or hostile-input test saw, carried out of pytest for `bench/bench_faults.py`.

    The test asserts on the same figures; this only lets the benchmark print them as a table, so
    the README quotes what the tests observed rather than what someone remembers. A no-op unless
    BRAINSCRIBE_FAULT_REPORT names a file.
    """
    path = os.environ.get("BRAINSCRIBE_FAULT_REPORT")

    def record(*, fault: str, client_saw: str, recovery: str, data: str) -> None:
        if path:
            row = {"test": request.node.nodeid, "fault": fault, "client_saw": client_saw}
            row |= {"recovery": recovery, "data": data}
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")

    return record
