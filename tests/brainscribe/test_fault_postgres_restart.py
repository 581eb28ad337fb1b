"""PostgreSQL restarted while clinicians save: clear 503s, retries succeed, no half-written version,
and the only leftovers are files the cleanup command removes. Runs against a private PostgreSQL
cluster and a real gunicorn, so restarting the database disturbs nothing else."""

import gzip
import threading
import time
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import requests

from bench.stack import PrivatePostgres, WebServer, manage, postgres_bin, seed, stack_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server binaries are not installed"),
]

SHAPE = (48, 56, 40)
AFFINE = np.diag([-2.0, 2.0, 2.0, 1.0])


@pytest.fixture
def stack(tmp_path):
    pg = PrivatePostgres()
    pg.start()
    env = stack_env(pg.url, tmp_path)
    manage(env, "migrate", "--noinput")
    info = seed(env, users=2, cases=2, shape=SHAPE)
    web = WebServer(env, workers=2, threads=2)
    try:
        yield {"pg": pg, "web": web, "env": env, "info": info, "media": tmp_path / "media"}
    finally:
        web.stop()
        pg.destroy()


def _body(step: int) -> bytes:
    labels = np.zeros(SHAPE, np.uint8)
    labels[step % SHAPE[0], 5:9, 5:9] = 1 + step % 3
    return gzip.compress(nib.Nifti1Image(labels, AFFINE).to_bytes(), compresslevel=1)


def _saver(url, token, case_id, stop, log):
    """A clinician saving again and again; on 503 they retry the same save."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    version, step = 0, 0
    while not stop.is_set():
        body = _body(step)
        try:
            r = session.put(
                f"{url}/api/cases/{case_id}/masks/lesion",
                data=body,
                timeout=30,
                headers={"If-Match": f'"{version}"', "Content-Type": "application/gzip"},
            )
            code = r.status_code
            payload = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
        except requests.RequestException as exc:
            code, payload = "conn-error", {"detail": str(exc)}
        log.append((case_id, version, step, code, payload, time.monotonic()))
        if code == 200:
            version = payload["version"]
            step += 1
        elif code == 409:
            # The save may have committed although its answer was lost; accept only if it is ours.
            version = payload["current_version"]
            step += 1
        else:
            time.sleep(0.2)


def test_saves_survive_a_postgres_restart(stack, fault_record):
    url, info = stack["web"].url, stack["info"]
    stop, logs = threading.Event(), [[], []]
    threads = [
        threading.Thread(target=_saver, args=(url, info["tokens"][i], info["cases"][i], stop, logs[i]))
        for i in range(2)
    ]
    for t in threads:
        t.start()
    time.sleep(2)
    # A restart as an admin or an upgrade does it: down for a couple of seconds, then back.
    stack["pg"].stop()
    time.sleep(2)
    stack["pg"].start()
    back = time.monotonic()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(60)

    codes = [entry[3] for log in logs for entry in log]
    assert 500 not in codes and 502 not in codes, codes
    unavailable = [e for log in logs for e in log if e[3] == 503]
    assert unavailable, f"the restart was not noticed by any save: {codes}"
    assert all("database" in e[4]["detail"] for e in unavailable)
    accepted = {(e[0], e[4]["version"]) for log in logs for e in log if e[3] == 200}
    # Saves kept succeeding after the restart.
    for log in logs:
        assert log[-1][3] in (200, 409) or any(e[3] == 200 for e in log[-5:])

    check = """
import json
from annotations.models import MaskVersion
from annotations.blobs import blob_read
import hashlib
rows = list(MaskVersion.objects.values_list("case_id", "version", "file", "sha256"))
bad = [f for _, _, f, s in rows if hashlib.sha256(blob_read(f)).hexdigest() != s]
print(json.dumps({"rows": [[c, v] for c, v, _, _ in rows], "bad": bad}))
"""
    import json

    result = json.loads(manage(stack["env"], "shell", "-v", "0", "-c", check).strip().splitlines()[-1])
    stored = {tuple(r) for r in result["rows"]}
    assert not result["bad"], "a version's file does not match its checksum"
    # Every accepted save is stored exactly once, versions are contiguous per case, nothing extra.
    assert accepted <= stored
    for case_id in info["cases"]:
        versions = sorted(v for c, v in stored if c == case_id)
        assert versions == list(range(1, len(versions) + 1))

    out = manage(stack["env"], "cleanup_blobs", "--grace-minutes", "0")
    assert "Removed" in out
    remaining = {p.name.split(".")[0] for p in Path(stack["media"], "blobs").rglob("*.nii.gz")}
    result = json.loads(manage(stack["env"], "shell", "-v", "0", "-c", check).strip().splitlines()[-1])
    assert not result["bad"]
    referenced = manage(
        stack["env"],
        "shell",
        "-v",
        "0",
        "-c",
        "from annotations.services.blob_cleanup import referenced_blobs;print('\\n'.join(sorted(referenced_blobs())))",
    ).split()
    assert remaining == {Path(name).name.split(".")[0] for name in referenced}

    seen = Counter(codes)
    first_after = min((e[5] for log in logs for e in log if e[3] == 200 and e[5] > back), default=None)
    fault_record(
        fault="PostgreSQL restarted during saves (2 clients)",
        client_saw=", ".join(f"{code} ×{n}" for code, n in sorted(seen.items(), key=str))
        + f"; 503 says: {unavailable[0][4]['detail']}",
        recovery="first save accepted "
        + (f"{first_after - back:.1f} s after the database was back" if first_after else "never"),
        data=f"{len(accepted)} accepted saves stored once, contiguous versions, checksums match; "
        + f"cleanup_blobs: {out.strip().splitlines()[-1]}",
    )
