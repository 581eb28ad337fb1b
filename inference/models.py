"""Jobs and model versions. Job state lives here, not in the broker, so a restarted worker knows
what was running and a client can always ask how far a job got."""

from django.conf import settings
from django.db import models


class JobType(models.TextChoices):
    IMPORT = "import", "import"
    INFERENCE = "inference", "inference"
    TRAINING = "training", "training"
    SCORING = "scoring", "scoring"
    EXPORT = "export", "export"
    HEALTHCHECK = "healthcheck", "worker health check"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    project = models.ForeignKey(
        "annotations.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    type = models.CharField(max_length=16, choices=JobType.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True, help_text="The most recent lines the job wrote (a bounded tail).")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True, help_text="Two active jobs may not share a key.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="When the broker accepted the task.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(status__in=["queued", "running"]) & ~models.Q(dedupe_key=""),
                name="job_one_active_per_key",
            )
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="job_project_time"),
            models.Index(fields=["status", "dispatched_at"], name="job_status_dispatch"),
        ]

    def __str__(self) -> str:
        return f"{self.type} job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


class ModelStage(models.TextChoices):
    CHAMPION = "champion", "champion"
    CANDIDATE = "candidate", "candidate"
    RETIRED = "retired", "retired"


class ModelVersion(models.Model):
    """A trained segmentation + report model. One champion per project makes the proposals."""

    project = models.ForeignKey(
        "annotations.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="model_versions"
    )
    name = models.CharField(max_length=200)
    label_schema = models.ForeignKey("annotations.LabelSchema", on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=16, choices=ModelStage.choices, default=ModelStage.CANDIDATE)
    checkpoint = models.CharField(max_length=255, help_text="Storage name of the checkpoint (content-addressed).")
    sha256 = models.CharField(max_length=64)
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    training_job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions"
    )
    snapshot = models.ForeignKey(
        "annotations.DatasetSnapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="model_versions"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promotion_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(stage="champion"), name="model_one_champion_per_project"
            ),
            models.UniqueConstraint(fields=["project", "sha256"], name="model_unique_checkpoint_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.stage})"


class CaseScore(models.Model):
    """How much a case would teach the model, by one active-learning strategy, for one model version."""

    case = models.ForeignKey("annotations.Case", on_delete=models.CASCADE, related_name="scores")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="case_scores"
    )
    strategy = models.CharField(max_length=32)
    score = models.FloatField()
    details = models.JSONField(default=dict, blank=True, help_text="Per-region scores and what they came from.")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "strategy"]
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version", "strategy"], name="score_unique_per_model"),
        ]
        indexes = [models.Index(fields=["strategy", "model_version", "-score"], name="score_rank")]

    def __str__(self) -> str:
        return f"{self.case} {self.strategy}={self.score:.3f}"
