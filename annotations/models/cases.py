from django.conf import settings
from django.db import models


class Split(models.TextChoices):
    UNASSIGNED = "unassigned", "unassigned"
    TRAIN = "train", "train"
    VAL = "val", "validation"
    TEST = "test", "test"


class CaseStatus(models.TextChoices):
    NEW = "new", "new"
    PREDICTED = "predicted", "predicted"
    IN_PROGRESS = "in_progress", "in progress"
    SUBMITTED = "submitted", "submitted"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"


class Case(models.Model):
    """One imaging study. Its reference volume fixes the grid every mask must be drawn on."""

    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="cases")
    external_id = models.CharField(max_length=128, help_text="Pseudonymised study identifier, unique per project.")
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.UNASSIGNED)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_cases"
    )
    priority = models.FloatField(null=True, blank=True, help_text="Active-learning score; higher is shown first.")
    priority_strategy = models.CharField(max_length=64, blank=True)
    reference_modality = models.CharField(max_length=16)
    shape = models.JSONField(help_text="Reference grid shape (i, j, k).")
    affine = models.JSONField(help_text="Reference grid voxel-to-world (RAS mm) affine, 4×4.")
    orientation = models.CharField(max_length=8, blank=True, help_text="Axis codes of the reference grid, e.g. LAS.")
    modalities = models.JSONField(default=list, help_text="Modalities present, denormalised for fast lists.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "external_id"], name="case_unique_external_id")]
        # The worklist's orderings and filters, each an index the planner can walk in order so that a
        # page costs the same with 100 or 100,000 cases (measured by bench/bench_case_list.py).
        # The two priority orderings (DESC NULLS LAST) are PostgreSQL-only indexes, created in
        # migration 0004, because SQLite cannot index NULLS LAST.
        indexes = [
            models.Index(
                "project", "created_at", "id", name="case_worklist_created", condition=models.Q(deleted_at__isnull=True)
            ),
            models.Index(
                "project",
                "status",
                "created_at",
                "id",
                name="case_worklist_status",
                condition=models.Q(deleted_at__isnull=True),
            ),
            models.Index(
                "project",
                "assignee",
                "created_at",
                "id",
                name="case_worklist_assignee",
                condition=models.Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class Volume(models.Model):
    """One imaging sequence of a case, stored once, content-addressed, never replaced."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="volumes")
    modality = models.CharField(max_length=16)
    file = models.CharField(max_length=255, help_text="Storage name (content-addressed).")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    shape = models.JSONField()
    affine = models.JSONField()
    spacing = models.JSONField()
    dtype = models.CharField(max_length=16)
    orientation = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "modality"]
        constraints = [models.UniqueConstraint(fields=["case", "modality"], name="volume_unique_modality")]

    def __str__(self) -> str:
        return f"{self.case} {self.modality}"
