"""The Celery application: three queues, late acknowledgement, no server needed by default.

Queues: ``default`` for short bookkeeping, ``inference`` for model predictions, ``training`` for
retraining (GPU workers listen there). Tasks are acknowledged after they finish and rejected back to
the queue when their worker dies, so every task must be idempotent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, celeryd_init, worker_ready
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainscribe.settings")

QUEUES = ("default", "inference", "training")

app = Celery("brainscribe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.beat_schedule = {
    # Jobs created while the broker was unreachable wait in the database, and running jobs whose
    # worker died stop beating; this sends both.
    "dispatch-pending-jobs": {"task": "brainscribe.dispatch_pending_jobs", "schedule": 15.0},
}
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders before the first message; create them on demand."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@before_task_publish.connect
def _folders_before_publish(**_: Any) -> None:
    ensure_broker_folders()


@celeryd_init.connect
def _folders_before_worker(**_: Any) -> None:
    ensure_broker_folders()


@worker_ready.connect
def _dispatch_jobs_waiting_for_the_broker(**_: Any) -> None:
    """Jobs created while the broker was down are sent as soon as a worker (hence the broker) is up,
    and so are running jobs whose worker died without a word."""
    from inference.services.jobs import job_dispatch_pending, job_redispatch_stale

    job_dispatch_pending()
    job_redispatch_stale()
