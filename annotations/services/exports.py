"""Deleting an export's files: the one way an export changes after it is written.

Archives are the largest files the platform keeps, and every export of the same snapshot can be
made again byte for byte, so a site that runs out of space deletes old archives, not history. The
row stays with its manifest (every file's sha256), its snapshot and its audit trail; only the
files go. Downloads of a deleted export answer 410 with who deleted it and when.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from annotations.errors import StateConflict
from annotations.models import Export, Role
from annotations.services.access import require_role
from annotations.services.audit import audit_record
from annotations.services.blob_cleanup import stored_files


def export_delete_files(*, export: Export, user: Any, system: bool = False) -> Export:
    """Delete the export's archive and any file under its storage prefix; keep the record.

    Project admins only (``system`` for the retention command run by the operator). Deleting
    twice does nothing the second time. An export whose job is still writing is refused: its
    archive would appear after the delete.
    """
    if not system:
        require_role(user, export.project, Role.ADMIN, "delete exports")
    if export.files_deleted_at is not None:
        return export
    if not export.archive and export.job is not None and export.job.is_active:
        raise StateConflict(
            f"Export {export.pk} is still being written (job {export.job_id} is {export.job.status}); "
            "cancel the job first.",
            job_id=export.job_id,
        )
    names = set(stored_files(export.storage_prefix)) if export.storage_prefix else set()
    if export.archive:
        names.add(export.archive)
    freed = 0
    for name in sorted(names):
        if default_storage.exists(name):
            freed += default_storage.size(name)
            default_storage.delete(name)
    with transaction.atomic():
        # Conditional, so that of two admins deleting at once only one records the deletion.
        marked = Export.objects.filter(pk=export.pk, files_deleted_at__isnull=True).update(
            archive="",
            files_deleted_at=timezone.now(),
            files_deleted_by=user if getattr(user, "is_authenticated", False) else None,
        )
        if not marked:
            export.refresh_from_db()
            return export
        audit_record(
            verb="export.delete_files",
            actor=user,
            project=export.project,
            obj=export,
            data={"files": len(names), "bytes": freed, "manifest_sha256": export.manifest_sha256},
        )
    export.refresh_from_db()
    return export


def exports_prune(*, older_than: timedelta, keep_latest: int = 1, dry_run: bool = False) -> list[Export]:
    """Delete the files of finished exports older than ``older_than``, keeping the newest
    ``keep_latest`` of each project and format whatever their age (a retention policy)."""
    cutoff = timezone.now() - older_than
    chosen: list[Export] = []
    seen: dict[tuple[int, str], int] = {}
    finished = Export.objects.filter(files_deleted_at__isnull=True).exclude(archive="").select_related("project")
    for export in finished.order_by("-created_at", "-id"):
        key = (export.project_id, export.format)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > keep_latest and export.created_at < cutoff:
            chosen.append(export)
    if not dry_run:
        for export in chosen:
            export_delete_files(export=export, user=None, system=True)
    return chosen
