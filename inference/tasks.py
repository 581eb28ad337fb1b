"""Celery tasks. Each receives ids, calls one service, and lets the service record the outcome."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="brainscribe.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int) -> str:  # noqa: ANN001 - Celery passes the task as self
    from inference.services.jobs import job_execute

    return job_execute(job_id=job_id, worker=self.request.hostname or "", task_id=self.request.id or "")


@shared_task(name="brainscribe.dispatch_pending_jobs", ignore_result=True)
def dispatch_pending_jobs() -> int:
    from inference.services.jobs import job_dispatch_pending, job_redispatch_stale

    return job_dispatch_pending() + job_redispatch_stale()
