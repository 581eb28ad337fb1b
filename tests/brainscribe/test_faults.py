"""Faults a hospital install will meet: the broker down when a job starts, a full disk during a save."""

import gzip
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

import nibabel as nib
import numpy as np
import pytest

from inference.models import Job, JobStatus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs nothing else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextmanager
def web_broker(url: str):
    """Point this process's Celery app (the web side) at another broker, then restore it."""
    from brainscribe.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options

    def reset_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.update(broker_url=url, broker_transport_options={"socket_connect_timeout": 1})
    reset_pools()
    try:
        yield
    finally:
        app.conf.update(broker_url=saved[0], broker_transport_options=saved[1])
        reset_pools()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
@pytest.mark.django_db(transaction=True)
def test_a_job_started_while_redis_is_down_is_queued_and_runs_when_it_is_back(
    members, client_for, project, worker_env, tmp_path, wait, monkeypatch, settings, fault_record, spawn_worker
):
    redis = PrivateRedis()
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery would prefer it over the app's URL
    settings.BRAINSCRIBE_IMPORT_ROOTS = [str(tmp_path)]
    (tmp_path / "batch").mkdir()
    with web_broker(redis.url):
        started = time.perf_counter()
        response = client_for(members["admin"]).post(
            f"/api/projects/{project.pk}/jobs/", {"type": "import", "params": {"path": "batch"}}, format="json"
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["status"] == "queued" and body["dispatched"] is False
        assert "broker" in body["message"]
        assert elapsed < 10

        redis.start()
        back = time.perf_counter()
        env = worker_env | {"CELERY_BROKER_URL": redis.url}
        log = (tmp_path / "worker.log").open("w")
        worker = spawn_worker(env, log, queues="default")
        try:
            done = wait(lambda: Job.objects.get(pk=body["id"]).status == JobStatus.SUCCEEDED, timeout=90)
            assert done, (tmp_path / "worker.log").read_text()[-3000:]
            assert Job.objects.get(pk=body["id"]).attempts == 1
            fault_record(
                fault="Redis down when a job is started",
                client_saw=f"202 in {elapsed * 1000:.0f} ms: {body['message']}",
                recovery=f"job ran {time.perf_counter() - back:.1f} s after Redis and a worker were back",
                data="the job ran once (1 attempt)",
            )
        finally:
            worker.terminate()
            worker.wait(20)
            log.close()
            redis.stop()


@pytest.fixture
def full_disk(tmp_path):
    """A 4 MB filesystem as the file store, so that it can really fill up."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_a_full_disk_during_a_mask_save_answers_507_and_keeps_the_previous_version(
    members, client_for, make_case, settings, full_disk, fault_record
):
    from annotations.models import MaskVersion

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "brainscribe.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(full_disk)}},
    }
    case = make_case()
    client = client_for(members["annotator"])

    def body(value: int) -> bytes:
        labels = np.zeros(tuple(case.shape), np.uint8)
        labels[1:4, 1:4, 1:4] = value
        return gzip.compress(nib.Nifti1Image(labels, np.asarray(case.affine)).to_bytes())

    first = client.put(
        f"/api/cases/{case.pk}/masks/lesion", data=body(1), content_type="application/gzip", HTTP_IF_MATCH='"0"'
    )
    assert first.status_code == 200
    # Fill the disk to the last byte.
    with (full_disk / "filler").open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    second = client.put(
        f"/api/cases/{case.pk}/masks/lesion", data=body(2), content_type="application/gzip", HTTP_IF_MATCH='"1"'
    )
    assert second.status_code == 507
    assert "full" in second.json()["detail"]
    assert list(MaskVersion.objects.filter(case=case).values_list("version", flat=True)) == [1]
    served = client.get(f"/api/cases/{case.pk}/masks/lesion")
    assert served["ETag"] == '"1"'
    data = nib.Nifti1Image.from_bytes(gzip.decompress(b"".join(served.streaming_content))).get_fdata()
    assert data[2, 2, 2] == 1
    assert not [p for p in full_disk.rglob(".tmp-*")], "a half-written temporary file was left behind"
    (full_disk / "filler").unlink()
    third = client.put(
        f"/api/cases/{case.pk}/masks/lesion", data=body(2), content_type="application/gzip", HTTP_IF_MATCH='"1"'
    )
    assert third.status_code == 200 and third.json()["version"] == 2
    fault_record(
        fault="disk full during a mask save",
        client_saw=f"507: {second.json()['detail']}",
        recovery="the same save after space was freed: 200, version 2",
        data="version 1 intact and served, no temporary file left",
    )
