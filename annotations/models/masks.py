from django.conf import settings
from django.db import models


class MaskKind(models.TextChoices):
    LESION = "lesion", "lesion"
    STRUCTURE = "structure", "structure"


class VersionSource(models.TextChoices):
    MODEL = "model", "model"
    HUMAN = "human", "human"
    IMPORT = "import", "import"


class MaskVersion(models.Model):
    """An immutable label map on the case's reference grid. Version numbers count from 1 per kind."""

    case = models.ForeignKey("annotations.Case", on_delete=models.CASCADE, related_name="mask_versions")
    kind = models.CharField(max_length=16, choices=MaskKind.choices)
    version = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    file = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    source = models.CharField(max_length=16, choices=VersionSource.choices)
    model_version = models.ForeignKey(
        "inference.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="mask_versions"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    counts = models.JSONField(default=dict, help_text="Voxels per label value (as strings), background excluded.")
    diff = models.JSONField(default=dict, help_text="Per label: voxels added and removed against the parent.")
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "kind", "version"]
        constraints = [models.UniqueConstraint(fields=["case", "kind", "version"], name="mask_unique_version")]
        indexes = [models.Index(fields=["case", "kind", "-version"], name="mask_latest")]

    def __str__(self) -> str:
        return f"{self.case} {self.kind} v{self.version}"
