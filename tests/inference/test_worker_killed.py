"""A worker killed in the middle of an inference job: the task is redelivered and the result is
written exactly once (one model version of each mask and one report per case)."""

import os
import signal
import time
from pathlib import Path

import pytest

from annotations.models import MaskVersion, ReportVersion
from inference.models import Job, JobStatus
from inference.services.jobs import job_create
from inference.services.models import model_promote, model_register

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_killed_worker_child_redelivers_and_writes_once(
    project, tiny_demo_model, phantom_case, worker_env, tmp_path, wait, fault_record, spawn_worker
):
    model = model_register(project=project, data=tiny_demo_model, name="tiny")
    model_promote(model=model, user=None, reason="test")
    Job.objects.all().delete()  # the promotion's own jobs are not what this test watches
    cases = [phantom_case(external_id=f"k{i}", lesion_x=(-1) ** i * 7.0) for i in range(6)]
    log = (tmp_path / "worker.log").open("w")
    worker = spawn_worker(worker_env, log, queues="inference", pool="prefork")
    try:
        job = job_create(project=project, type="inference", params={"cases": [c.pk for c in cases]}, user=None)
        started = wait(lambda: 0 < Job.objects.get(pk=job.pk).progress < 0.6, timeout=120, interval=0.05)
        assert started, (tmp_path / "worker.log").read_text()[-3000:]
        victims = children(worker.pid)
        assert victims, "the prefork pool has no child to kill"
        progress_at_kill = Job.objects.get(pk=job.pk).progress
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        done = wait(lambda: Job.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=180)
        job.refresh_from_db()
        assert done and job.status == JobStatus.SUCCEEDED, (tmp_path / "worker.log").read_text()[-3000:]
        assert job.attempts == 2
        finished = time.monotonic() - killed
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    for case in cases:
        assert MaskVersion.objects.filter(case=case, model_version=model, kind="lesion").count() == 1
        assert MaskVersion.objects.filter(case=case, model_version=model, kind="structure").count() == 1
        assert ReportVersion.objects.filter(case=case, model_version=model).count() == 1
    fault_record(
        fault="worker process killed during inference (6 cases)",
        client_saw=f"job at {progress_at_kill:.0%}, still running, then succeeded",
        recovery=f"redelivered to the new child; finished {finished:.0f} s after the kill (2 attempts)",
        data="one lesion mask, one structure mask and one report per case",
    )
