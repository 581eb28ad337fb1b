"""Removing files no row points at: what a crash between "file written" and "row committed" leaves.

Saves write the file first and commit the row second, so an unreferenced blob is either an
orphan or a save in flight. Only blobs older than the grace period are removed, which a save in
flight never is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from annotations.models import Export, MaskVersion, Volume


@dataclass
class CleanupSummary:
    scanned: int = 0
    referenced: int = 0
    removed: list[str] = field(default_factory=list)
    kept_young: int = 0


def referenced_blobs() -> set[str]:
    from inference.models import ModelVersion

    names = set(Volume.objects.values_list("file", flat=True))
    names.update(MaskVersion.objects.values_list("file", flat=True))
    names.update(ModelVersion.objects.exclude(checkpoint="").values_list("checkpoint", flat=True))
    names.update(Export.objects.exclude(archive="").values_list("archive", flat=True))
    return names


def stored_files(prefix: str) -> list[str]:
    """Every file the store holds under ``prefix``, recursively (none when the folder is absent)."""
    prefix = prefix.rstrip("/")
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [f"{prefix}/{name}" for name in files]
    for sub in dirs:
        found.extend(stored_files(f"{prefix}/{sub}"))
    return found


def blobs_cleanup(*, grace: timedelta = timedelta(hours=1), dry_run: bool = False) -> CleanupSummary:
    summary = CleanupSummary()
    keep = referenced_blobs()
    cutoff = timezone.now() - grace
    for name in stored_files("blobs"):
        summary.scanned += 1
        if name in keep:
            summary.referenced += 1
            continue
        if default_storage.get_modified_time(name) > cutoff:
            summary.kept_young += 1
            continue
        summary.removed.append(name)
        if not dry_run:
            default_storage.delete(name)
    return summary
