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


class ExportFormat(models.TextChoices):
    NNUNET = "nnunet", "nnU-Net v2 raw"
    MONAI = "monai", "MONAI / Decathlon datalist"
    RADGENOME = "radgenome", "RadGenome-Brain JSON + masks"
    BIDS = "bids", "BIDS derivatives"
    JSONL = "jsonl", "grounded JSONL"


class Export(models.Model):
    """One export of a frozen snapshot in one format, with a checksummed manifest of its files."""

    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="exports")
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.PROTECT, related_name="exports")
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    job = models.ForeignKey("inference.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    storage_prefix = models.CharField(max_length=255, blank=True, help_text="Where the exported files are stored.")
    archive = models.CharField(max_length=255, blank=True, help_text="Storage name of the downloadable archive.")
    manifest = models.JSONField(default=dict, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    n_files = models.PositiveIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # An admin may delete an export's files to free space; the row, its manifest (every file's
    # sha256) and its snapshot stay, so what was exported is still on record and can be exported again.
    files_deleted_at = models.DateTimeField(null=True, blank=True)
    files_deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format} export of {self.snapshot}"
