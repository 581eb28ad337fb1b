"""Long-running work as Job rows plus Celery tasks.

The row is the truth: it is created in the request's transaction, sent to the broker after commit,
claimed by a worker with a conditional update, and updated with progress as the work goes. If the
broker is down when a job is created, the job waits as "queued, not dispatched" and is sent by
``job_dispatch_pending`` (run by the worker at start and every few seconds by beat) once the broker is
back; a job is never run inline in the web process.
"""

from __future__ import annotations

import importlib
import logging
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotations.errors import InvalidInput, StateConflict
from annotations.models import Project, Role
from annotations.services.access import require_role
from inference.models import ACTIVE_JOB_STATUSES, Job, JobStatus

logger = logging.getLogger(__name__)

LOG_TAIL_CHARS = 20_000


def stale_after() -> timedelta:
    """How long a running job's worker may stay silent before the job is presumed orphaned and may
    be taken over (BRAINSCRIBE_JOB_STALE_AFTER). Runners report at least once per case or training
    step, so a site with a slow worker raises it; a site that wants a dead worker's job back sooner
    lowers it."""
    return timedelta(seconds=settings.BRAINSCRIBE_JOB_STALE_AFTER)


class JobCancelled(Exception):
    """Raised inside a runner when someone asked for the job to stop."""


@dataclass(frozen=True)
class JobSpec:
    """How one job type runs: its runner ("module:function"), queue, who may start it, its params."""

    runner: str
    queue: str
    minimum_role: Role
    clean_params: Callable[[Project | None, dict[str, Any]], dict[str, Any]] = field(default=lambda p, params: params)
    dedupe_key: Callable[[Project | None, dict[str, Any]], str] | None = None
    needs_project: bool = True

    def load_runner(self) -> Callable[[Job, JobContext], dict[str, Any]]:
        module, _, name = self.runner.partition(":")
        return getattr(importlib.import_module(module), name)


class JobContext:
    """What a runner uses to report progress and notice cancellation, without touching the row itself."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._log: list[str] = [job.log] if job.log else []

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        updates: dict[str, Any] = {"progress": fraction, "heartbeat_at": timezone.now()}
        if message:
            updates["message"] = message[:500]
        Job.objects.filter(pk=self.job.pk).update(**updates)
        self.check_cancelled()

    def report(self, data: dict[str, Any]) -> None:
        """Merge partial results into the job row while it runs (e.g. the learning curve so far)."""
        current = Job.objects.filter(pk=self.job.pk).values_list("result", flat=True).first() or {}
        Job.objects.filter(pk=self.job.pk).update(result={**current, **data}, heartbeat_at=timezone.now())
        self.job.result = {**current, **data}

    def log(self, line: str) -> None:
        self._log.append(line.rstrip("\n"))
        text = "\n".join(self._log)[-LOG_TAIL_CHARS:]
        self._log = [text]
        Job.objects.filter(pk=self.job.pk).update(log=text, heartbeat_at=timezone.now())

    def check_cancelled(self) -> None:
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()


def job_types() -> dict[str, JobSpec]:
    from inference.jobtypes import JOB_TYPES

    return JOB_TYPES


def job_create(*, project: Project | None, type: str, params: dict[str, Any] | None, user: Any) -> Job:
    """Validate, record and (after commit) dispatch a job. A duplicate of an active job is a 409."""
    spec = job_types().get(type)
    if spec is None:
        raise InvalidInput(f"Unknown job type {type!r}; use one of {', '.join(sorted(job_types()))}.")
    if spec.needs_project and project is None:
        raise InvalidInput(f"A {type} job belongs to a project.")
    if project is not None:
        require_role(user, project, spec.minimum_role, f"start {type} jobs")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("params must be an object.")
    cleaned = spec.clean_params(project, dict(params or {}))
    key = spec.dedupe_key(project, cleaned) if spec.dedupe_key else ""
    try:
        with transaction.atomic():
            if key:
                running = Job.objects.filter(dedupe_key=key, status__in=ACTIVE_JOB_STATUSES).first()
                if running is not None:
                    raise StateConflict(
                        f"The same {type} job is already {running.status} (job {running.pk}).", job_id=running.pk
                    )
            job = Job.objects.create(
                project=project,
                type=type,
                params=cleaned,
                dedupe_key=key,
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
            transaction.on_commit(lambda: job_dispatch(job.pk))
    except IntegrityError:
        running = Job.objects.filter(dedupe_key=key, status__in=ACTIVE_JOB_STATUSES).first()
        raise StateConflict(
            f"The same {type} job is already queued or running (job {running.pk if running else '?'}).",
            job_id=running.pk if running else None,
        ) from None
    return job


def job_dispatch(job_id: int) -> bool:
    """Send one job to its queue, exactly once. False (the job stays pending) when the broker is away.

    The row is claimed for dispatch before publishing, so the after-commit hook, beat and a starting
    worker can all try without ever sending the same job twice.
    """
    from inference.tasks import run_job

    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return False
    task_id = str(uuid.uuid4())
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED, dispatched_at__isnull=True).update(
        dispatched_at=timezone.now(), celery_task_id=task_id
    )
    if not claimed:
        return False
    spec = job_types()[job.type]
    try:
        run_job.apply_async(
            args=[job.pk],
            queue=spec.queue,
            task_id=task_id,
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        )
    except Exception as exc:  # noqa: BLE001 - kombu raises many types when the broker is away
        logger.warning("job %s not dispatched, broker unavailable: %s", job_id, exc)
        Job.objects.filter(pk=job_id, celery_task_id=task_id).update(
            dispatched_at=None,
            celery_task_id="",
            message="Waiting for the job queue (broker unreachable); it will start when the broker is back.",
        )
        return False
    Job.objects.filter(pk=job_id, celery_task_id=task_id).update(message="")
    return True


def job_dispatch_pending() -> int:
    """Send every queued job the broker never accepted (e.g. it was down when they were created)."""
    ids = list(
        Job.objects.filter(status=JobStatus.QUEUED, dispatched_at__isnull=True)
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )
    return sum(job_dispatch(pk) for pk in ids)


def job_redispatch_stale(*, older_than: timedelta | None = None) -> int:
    """Send again every running job whose worker stopped reporting (killed, machine lost, the demo
    stopped with Ctrl-C). Without this such a job waits for the broker's visibility timeout (hours
    with Redis) or, with the server-less broker, forever. Each runner resumes where it stopped:
    inference skips finished cases, training loads its last epoch checkpoint.
    """
    from inference.tasks import run_job

    now = timezone.now()
    cutoff = now - (older_than if older_than is not None else stale_after())
    sent = 0
    stale = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).order_by("heartbeat_at")[:200]
    for job in stale:
        if job.cancel_requested:
            Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
                status=JobStatus.CANCELLED, finished_at=now, message="Cancelled; its worker had already stopped."
            )
            continue
        task_id = str(uuid.uuid4())
        # The claim moves the heartbeat to now, so a second sweep (another beat, another worker
        # starting) leaves it alone, and job_execute recognises the new message by its task id.
        claimed = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at).update(
            heartbeat_at=now, celery_task_id=task_id, message="Its worker stopped; sent again to resume."
        )
        if not claimed:
            continue
        try:
            run_job.apply_async(args=[job.pk], queue=job_types()[job.type].queue, task_id=task_id, retry=False)
        except Exception as exc:  # noqa: BLE001 - kombu raises many types when the broker is away
            logger.warning("stale job %s not sent again, broker unavailable: %s", job.pk, exc)
            Job.objects.filter(pk=job.pk, celery_task_id=task_id).update(heartbeat_at=job.heartbeat_at)
            continue
        logger.info("job %s: its worker stopped reporting at %s; sent again", job.pk, job.heartbeat_at)
        sent += 1
    return sent


def job_cancel(*, job: Job, user: Any) -> Job:
    if job.project is not None:
        spec = job_types()[job.type]
        require_role(user, job.project, spec.minimum_role, f"cancel {job.type} jobs")
    if not job.is_active:
        raise StateConflict(f"Job {job.pk} is {job.status}; only queued or running jobs can be cancelled.")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    # A job that no worker has claimed yet stops here; a running one stops at its next progress call.
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), message="Cancelled before it started."
    )
    job.refresh_from_db()
    return job


def job_execute(*, job_id: int, worker: str = "", task_id: str = "") -> str:
    """Run a job in a worker. Safe to call twice for the same job (a redelivered task)."""
    now = timezone.now()
    # Claimable: a queued job, the redelivery of the very message that started it (its worker died),
    # or a running job whose heartbeat stopped long ago. A second copy of a live job is not.
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after())
    if task_id:
        claimable |= Q(status=JobStatus.RUNNING, celery_task_id=task_id)
    claimed = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        worker=worker[:200],
        celery_task_id=task_id or F("celery_task_id"),
        dispatched_at=Coalesce(F("dispatched_at"), now),
    )
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("job %s does not exist; nothing to run", job_id)
        return "missing"
    if not claimed:
        if job.status == JobStatus.QUEUED and job.cancel_requested:
            _finish(job_id, JobStatus.CANCELLED, message="Cancelled before it started.")
            return JobStatus.CANCELLED
        return job.status  # finished already: a duplicate delivery does nothing
    ctx = JobContext(job)
    runner = job_types()[job.type].load_runner()
    try:
        result = runner(job, ctx) or {}
    except JobCancelled:
        _finish(job_id, JobStatus.CANCELLED, message="Cancelled.")
        return JobStatus.CANCELLED
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        tail = traceback.format_exc()[-4000:]
        ctx.log(tail)
        _finish(job_id, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], message="Failed.")
        return JobStatus.FAILED
    partial = Job.objects.filter(pk=job_id).values_list("result", flat=True).first() or {}
    _finish(job_id, JobStatus.SUCCEEDED, result={**partial, **result}, message="Done.", progress=1.0)
    return JobStatus.SUCCEEDED


def _finish(job_id: int, status: str, **fields: Any) -> None:
    Job.objects.filter(pk=job_id).update(
        status=status, finished_at=timezone.now(), heartbeat_at=timezone.now(), **fields
    )
