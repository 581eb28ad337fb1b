from django.conf import settings
from django.db import models


class DatasetSnapshot(models.Model):
    """A frozen manifest of case → approved mask and report versions.

    Training and export read a snapshot, never live rows, so a run can be reproduced and two exports
    of the same snapshot are identical. The checksum covers the canonical JSON of the manifest.
    """

    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="snapshots")
    checksum = models.CharField(max_length=64)
    manifest = models.JSONField()
    n_cases = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "checksum"], name="snapshot_unique_checksum")]

    def __str__(self) -> str:
        return f"snapshot {self.checksum[:12]} ({self.n_cases} cases)"
