"""The registry of job types: name → how it runs. Add a job type here, nowhere else."""

from __future__ import annotations

from annotations.exporters.jobs import clean_export_params, export_dedupe_key
from annotations.importers.jobs import clean_import_params, import_dedupe_key
from annotations.models import Role
from inference.services.active_learning import clean_scoring_params, scoring_dedupe_key
from inference.services.inference import clean_inference_params, inference_dedupe_key
from inference.services.jobs import JobSpec
from inference.services.training import clean_training_params, training_dedupe_key

JOB_TYPES: dict[str, JobSpec] = {
    "healthcheck": JobSpec(
        runner="inference.services.healthcheck:run_healthcheck_job",
        queue="default",
        minimum_role=Role.ADMIN,
        needs_project=False,
    ),
    "import": JobSpec(
        runner="annotations.importers.jobs:run_import_job",
        queue="default",
        minimum_role=Role.ADMIN,
        clean_params=clean_import_params,
        dedupe_key=import_dedupe_key,
    ),
    "scoring": JobSpec(
        runner="inference.services.active_learning:run_scoring_job",
        queue="inference",
        minimum_role=Role.ADMIN,
        clean_params=clean_scoring_params,
        dedupe_key=scoring_dedupe_key,
    ),
    "inference": JobSpec(
        runner="inference.services.inference:run_inference_job",
        queue="inference",
        minimum_role=Role.REVIEWER,
        clean_params=clean_inference_params,
        dedupe_key=inference_dedupe_key,
    ),
    "export": JobSpec(
        runner="annotations.exporters.jobs:run_export_job",
        queue="default",
        minimum_role=Role.REVIEWER,
        clean_params=clean_export_params,
        dedupe_key=export_dedupe_key,
    ),
    "training": JobSpec(
        runner="inference.services.training:run_training_job",
        queue="training",
        minimum_role=Role.ADMIN,
        clean_params=clean_training_params,
        dedupe_key=training_dedupe_key,
    ),
}
