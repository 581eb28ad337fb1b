"""A real Brainscribe stack in subprocesses, for load and fault experiments.

``PrivatePostgres`` runs a throw-away PostgreSQL cluster (initdb as the postgres user, its own port)
that an experiment may restart or stop without touching the machine's main cluster.
``WebServer`` runs gunicorn against a given database and file store. Both clean up after themselves.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# Debian's Chromium, headless, drawing WebGL in software (SwiftShader): what NiiVue needs on a
# machine without a GPU (see ../shared/notes). The browser tests and bench_browser.py share them.
CHROMIUM = os.environ.get("BRAINSCRIBE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self, fsync: bool = False) -> None:
        self.fsync = fsync
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries are not installed")
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="brainscribe-pg-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        for path in (self.data, self.socket_dir):
            path.mkdir()
            shutil.chown(path, "postgres", "postgres")
        self._as_postgres(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"]
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, cmd: list[str]) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(runner + cmd, check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off"
        self._as_postgres(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                str(self.socket_dir / "server.log"),
                action,
                *extra,
            ]
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def stack_env(database_url: str, var_dir: Path, broker_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        BRAINSCRIBE_VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        SECRET_KEY="experiment-only-secret-key",
        HTTPS="false",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        STATIC_NO_MANIFEST="1",
        CELERY_BROKER_DIR=str(var_dir / "broker"),
        DATABASE_CONN_MAX_AGE="60",
        LOGIN_FAILURE_LIMIT="1000",
    )
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout


class WebServer:
    def __init__(self, env: dict[str, str], workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.log = open(Path(env["BRAINSCRIBE_VAR_DIR"]) / "web.log", "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "brainscribe.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(workers),
                "-k",
                "gthread",
                "--threads",
                str(threads),
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


SEED_SCRIPT = """
import gzip, json, sys
import numpy as np, nibabel as nib
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from annotations.models import Membership
from annotations.services.cases import case_create
from annotations.services.projects import project_create
spec = json.loads(sys.stdin.read())
User = get_user_model()
admin = User.objects.create_user("admin", password="x", is_staff=True)
project = project_create(name="experiment", label_schema="demo-aal3", user=admin)
tokens = []
for i in range(spec["users"]):
    user = User.objects.create_user(f"annotator{i}", password="x")
    Membership.objects.create(project=project, user=user, role="annotator")
    tokens.append(Token.objects.create(user=user).key)
shape = tuple(spec["shape"])
affine = np.diag([-2.0, 2.0, 2.0, 1.0])
data = np.zeros(shape, np.int16)
data[2:-2, 2:-2, 2:-2] = 400
body = gzip.compress(nib.Nifti1Image(data, affine).to_bytes(), compresslevel=1)
cases = [case_create(project=project, external_id=f"L{i:04d}", volumes={"T1": body, "FLAIR": body}).case.pk
         for i in range(spec["cases"])]
# The first case is held by the admin: never handed out by next-case, so it stays editable by all
# annotators and serves as the case several of them save on at once.
from annotations.models import Case
Case.objects.filter(pk=cases[0]).update(assignee=admin, status="in_progress")
print(json.dumps({"project": project.pk, "tokens": tokens, "cases": cases}))
"""


def seed(env: dict[str, str], users: int, cases: int, shape: tuple[int, int, int] = (48, 56, 40)) -> dict:
    import json

    out = manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        SEED_SCRIPT,
        stdin=json.dumps({"users": users, "cases": cases, "shape": list(shape)}),
    )
    return json.loads(out.strip().splitlines()[-1])
