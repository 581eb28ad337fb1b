"""A real task through the configured broker (filesystem here, Redis in CI) to a real worker process."""

import pytest

from inference.models import Job, JobStatus
from inference.services.jobs import job_create


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_finishes_a_job_sent_through_the_broker(celery_worker_process, wait):
    job = job_create(project=None, type="healthcheck", params={}, user=None)
    assert Job.objects.get(pk=job.pk).dispatched_at is not None

    finished = wait(lambda: Job.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=90)
    job.refresh_from_db()
    assert finished, celery_worker_process.log_path.read_text()[-3000:]
    assert job.status == JobStatus.SUCCEEDED, job.error + job.log
    assert job.result["database"] == "ok" and job.result["storage"] == "ok"
    assert job.progress == 1.0 and job.attempts == 1
