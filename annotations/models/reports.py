import uuid

from django.conf import settings
from django.db import models

from annotations.models.masks import VersionSource


class SentenceStatus(models.TextChoices):
    PROPOSED = "proposed", "proposed"
    ACCEPTED = "accepted", "accepted"
    EDITED = "edited", "edited"
    REJECTED = "rejected", "rejected"
    ADDED = "added", "added"


class SentenceKind(models.TextChoices):
    LESION = "lesion", "lesion finding"
    NORMAL = "normal", "normal region"
    GLOBAL = "global", "global finding"
    IMPRESSION = "impression", "impression"


class ReportVersion(models.Model):
    """An immutable report: an ordered list of sentences, each grounded in mask labels."""

    case = models.ForeignKey("annotations.Case", on_delete=models.CASCADE, related_name="report_versions")
    version = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    source = models.CharField(max_length=16, choices=VersionSource.choices)
    model_version = models.ForeignKey(
        "inference.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="report_versions"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="report_unique_version")]

    def __str__(self) -> str:
        return f"{self.case} report v{self.version}"


class Sentence(models.Model):
    report = models.ForeignKey(ReportVersion, on_delete=models.CASCADE, related_name="sentences")
    key = models.UUIDField(default=uuid.uuid4, help_text="Stable across versions: the same sentence, edited.")
    order = models.PositiveIntegerField()
    text = models.TextField()
    kind = models.CharField(max_length=16, choices=SentenceKind.choices, default=SentenceKind.LESION)
    modality = models.CharField(max_length=16, blank=True)
    region_label_ids = models.JSONField(default=list, help_text="Structure label indices the sentence is about.")
    lesion_component = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=VersionSource.choices)
    status = models.CharField(max_length=16, choices=SentenceStatus.choices, default=SentenceStatus.PROPOSED)
    original_text = models.TextField(blank=True, help_text="The model's text, kept beside every later edit.")
    features = models.JSONField(default=dict, blank=True, help_text="Measured numbers the sentence was written from.")
    warnings = models.JSONField(default=list, blank=True, help_text="Consistency-checker findings at save time.")

    class Meta:
        ordering = ["report", "order"]
        constraints = [models.UniqueConstraint(fields=["report", "order"], name="sentence_unique_order")]

    def __str__(self) -> str:
        return self.text[:60]
