"""Job bookkeeping: dispatched once, claimed once, redelivery resumes, cancellation, failures recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inference.models import Job, JobStatus
from inference.services.jobs import job_cancel, job_dispatch, job_execute, job_redispatch_stale


@pytest.fixture
def import_job(project, tmp_path, settings):
    settings.BRAINSCRIBE_IMPORT_ROOTS = [str(tmp_path)]
    (tmp_path / "empty").mkdir()
    return lambda: Job.objects.create(
        project=project, type="import", params={"path": str(tmp_path / "empty"), "layout": "generic"}
    )


def test_a_job_is_dispatched_only_once(import_job):
    job = import_job()
    assert job_dispatch(job.pk) is True
    assert job_dispatch(job.pk) is False
    assert Job.objects.get(pk=job.pk).celery_task_id


def test_a_second_copy_of_a_live_job_does_not_run_it_again(import_job):
    job = import_job()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, celery_task_id="first", heartbeat_at=timezone.now())
    assert job_execute(job_id=job.pk, task_id="second") == JobStatus.RUNNING
    assert Job.objects.get(pk=job.pk).attempts == 0


def test_the_redelivered_message_resumes_the_job(import_job):
    job = import_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, celery_task_id="first", attempts=1, heartbeat_at=timezone.now()
    )
    assert job_execute(job_id=job.pk, task_id="first") == JobStatus.SUCCEEDED
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_a_job_whose_worker_went_silent_can_be_taken_over(import_job):
    job = import_job()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, celery_task_id="first", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert job_execute(job_id=job.pk, task_id="other") == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_running_job_whose_worker_died_is_sent_again_and_finishes(import_job, celery_worker_process, wait):
    job = import_job()
    gone = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING,
        celery_task_id="lost-with-its-worker",
        attempts=1,
        heartbeat_at=gone,
        dispatched_at=gone,
        started_at=gone,
    )
    assert job_redispatch_stale() == 1
    assert job_redispatch_stale() == 0  # claimed: another beat or a starting worker leaves it alone
    finished = wait(lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED, timeout=60)
    assert finished, celery_worker_process.log_path.read_text()[-3000:]
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_the_sweep_leaves_live_jobs_alone_and_ends_cancelled_ones(import_job):
    live, cancelled = import_job(), import_job()
    now = timezone.now()
    Job.objects.filter(pk=live.pk).update(status=JobStatus.RUNNING, celery_task_id="live", heartbeat_at=now)
    Job.objects.filter(pk=cancelled.pk).update(
        status=JobStatus.RUNNING, celery_task_id="dead", heartbeat_at=now - timedelta(hours=1), cancel_requested=True
    )
    assert job_redispatch_stale() == 0
    live.refresh_from_db()
    assert live.status == JobStatus.RUNNING and live.celery_task_id == "live"
    assert Job.objects.get(pk=cancelled.pk).status == JobStatus.CANCELLED


def test_how_long_a_worker_may_stay_silent_is_a_setting(import_job, settings):
    job = import_job()
    silent = timezone.now() - timedelta(minutes=40)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, celery_task_id="slow", heartbeat_at=silent)
    settings.BRAINSCRIBE_JOB_STALE_AFTER = 3600  # a site whose workers report rarely
    assert job_redispatch_stale() == 0
    assert job_execute(job_id=job.pk, task_id="other") == JobStatus.RUNNING  # not taken over
    settings.BRAINSCRIBE_JOB_STALE_AFTER = 1800
    assert job_execute(job_id=job.pk, task_id="other") == JobStatus.SUCCEEDED


def test_finished_jobs_ignore_duplicate_deliveries(import_job):
    job = import_job()
    assert job_execute(job_id=job.pk) == JobStatus.SUCCEEDED
    assert job_execute(job_id=job.pk) == JobStatus.SUCCEEDED
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_a_failure_is_recorded_with_its_reason(project):
    job = Job.objects.create(project=project, type="import", params={"path": "/nonexistent", "layout": "generic"})
    assert job_execute(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert "is not a folder" in job.error and job.finished_at is not None and "Traceback" in job.log


def test_cancelling_a_queued_job_stops_it_before_it_starts(import_job, members):
    job = import_job()
    assert job_cancel(job=job, user=members["admin"]).status == JobStatus.CANCELLED
    assert job_execute(job_id=job.pk) == JobStatus.CANCELLED


def test_the_same_import_twice_while_active_is_a_409(members, client_for, project, tmp_path, settings):
    settings.BRAINSCRIBE_IMPORT_ROOTS = [str(tmp_path)]
    (tmp_path / "batch").mkdir()
    client = client_for(members["admin"])
    body = {"type": "import", "params": {"path": "batch"}}
    first = client.post(f"/api/projects/{project.pk}/jobs/", body, format="json")
    second = client.post(f"/api/projects/{project.pk}/jobs/", body, format="json")
    assert first.status_code == 202 and second.status_code == 409
    assert second.json()["job_id"] == first.json()["id"]


def test_unknown_job_type_is_a_400(members, client_for, project):
    response = client_for(members["admin"]).post(f"/api/projects/{project.pk}/jobs/", {"type": "magic"}, format="json")
    assert response.status_code == 400 and "Unknown job type" in response.json()["detail"]


def test_job_progress_is_visible_through_the_api(members, client_for, import_job):
    job = import_job()
    job_execute(job_id=job.pk)
    body = client_for(members["viewer"]).get(f"/api/jobs/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0 and body["result"]["created"] == 0
