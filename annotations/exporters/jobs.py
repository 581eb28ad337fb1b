"""The export job: freeze (or reuse) a snapshot, write the format into a zip, store it for download.

The client's flow: ``POST /api/projects/{id}/jobs/`` with ``{"type": "export", "params": {"format": …}}``,
poll ``GET /api/jobs/{id}/`` (progress 0–1, then ``result.download_url``), then download the archive
from ``GET /api/exports/{id}/download``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import slugify

from annotations.errors import InvalidInput
from annotations.exporters.registry import EXPORTERS
from annotations.exporters.run import ExportOutcome, export_write
from annotations.exporters.sinks import ZipSink
from annotations.models import CaseStatus, DatasetSnapshot, Export, Project
from annotations.services.audit import audit_record
from annotations.services.snapshots import canonical_json, snapshot_freeze

DOWNLOAD_PATH = "/api/exports/{id}/download"
SELECTIONS = ("approved", "all")
JOB_KEYS = ("format", "snapshot", "cases")
PROGRESS_EVERY_S = 0.5


def clean_export_params(project: Project | None, params: dict[str, Any]) -> dict[str, Any]:
    """``format`` plus that format's options; ``snapshot`` (an id) or ``cases`` (approved|all)."""
    if project is None:
        raise InvalidInput("An export belongs to a project.")
    params = dict(params)
    fmt = params.pop("format", None)
    if fmt not in EXPORTERS:
        raise InvalidInput(f"params.format must be one of {', '.join(EXPORTERS)}; got {fmt!r}.")
    cleaned: dict[str, Any] = {"format": fmt}
    snapshot_id = params.pop("snapshot", None)
    selection = params.pop("cases", None)
    if snapshot_id is not None:
        if selection is not None:
            raise InvalidInput("Give either a snapshot or cases, not both: a snapshot already fixes its cases.")
        if isinstance(snapshot_id, bool) or not str(snapshot_id).isdigit():
            raise InvalidInput(f"params.snapshot must be a snapshot id; got {snapshot_id!r}.")
        if not DatasetSnapshot.objects.filter(project=project, pk=int(snapshot_id)).exists():
            raise InvalidInput(f"Project {project.name!r} has no snapshot {snapshot_id}.")
        cleaned["snapshot"] = int(snapshot_id)
    else:
        selection = selection or "approved"
        if selection not in SELECTIONS:
            raise InvalidInput(f"params.cases must be one of {', '.join(SELECTIONS)}; got {selection!r}.")
        live = project.cases.filter(deleted_at__isnull=True)
        if selection == "approved":
            live = live.filter(status=CaseStatus.APPROVED)
        if not live.exists():
            raise InvalidInput(
                f"Project {project.name!r} has no {'approved ' if selection == 'approved' else ''}cases to export yet."
            )
        cleaned["cases"] = selection
    return cleaned | EXPORTERS[fmt].clean_params(params, project_name=project.name)


def format_options(params: dict[str, Any]) -> dict[str, Any]:
    """The format's own options out of cleaned job params (what the manifest records)."""
    return {k: v for k, v in params.items() if k not in JOB_KEYS}


def export_dedupe_key(project: Project | None, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json(params)).hexdigest()[:16]
    return f"export:{project.pk if project else '-'}:{params['format']}:{digest}"


def run_export_job(job: Any, ctx: Any) -> dict[str, Any]:
    params = job.params
    project = job.project
    if "snapshot" in params:
        snapshot = DatasetSnapshot.objects.get(project=project, pk=params["snapshot"])
    else:
        # The user's role was checked when the job was created; checking again here means a role
        # removed in the meantime stops the export.
        snapshot = snapshot_freeze(project=project, user=job.created_by, cases=params.get("cases", "approved"))
    ctx.log(f"snapshot {snapshot.pk} ({snapshot.checksum[:12]}, {snapshot.n_cases} cases)")
    # A redelivered task reuses the row it created the first time.
    export = Export.objects.filter(job_id=job.pk).first() or Export.objects.create(
        project=project, snapshot=snapshot, format=params["format"], job_id=job.pk, created_by=job.created_by
    )
    last = 0.0

    def progress(done: int, total: int, what: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S or done == total:
            last = now
            # Writing the files is 95% of the work; storing the archive is the rest.
            ctx.progress(0.95 * done / max(total, 1), f"{done}/{total} cases ({what})")

    outcome = export_archive(export=export, options=format_options(params), progress=progress)
    for case_id, reason in outcome.skipped.items():
        ctx.log(f"skipped {case_id}: {reason}")
    return {
        "export_id": export.pk,
        "download_url": DOWNLOAD_PATH.format(id=export.pk),
        "format": export.format,
        "snapshot_id": snapshot.pk,
        "snapshot_checksum": snapshot.checksum,
        "n_cases": outcome.n_cases,
        "skipped": outcome.skipped,
        "n_files": outcome.n_files,
        "total_bytes": outcome.total_bytes,
        "manifest_sha256": outcome.manifest_sha256,
    }


def archive_name(export: Export) -> str:
    project = slugify(export.project.name) or "project"
    return f"exports/{export.pk}/{project}-{export.format}-{export.snapshot.checksum[:12]}.zip"


def export_archive(
    *, export: Export, options: dict[str, Any], progress: Any = None, workers: int | None = None
) -> ExportOutcome:
    """Write ``export``'s snapshot into a zip in the file store and record the manifest on the row.

    The archive's name holds the export id, so nothing is ever overwritten. On a local file store
    the zip is written next to its final name and linked into place once complete and fsynced (an
    archive of several GB is not copied a second time); elsewhere (S3) it is built in a temporary
    file, because a zip needs seeking, and handed to the storage, which uploads it in parts.
    """
    name = archive_name(export)
    final = local_path(name)
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=final.parent)
        try:
            with os.fdopen(fd, "w+b") as tmp:
                outcome = _write_zip(export, options, tmp, progress, workers)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o644)
            with contextlib.suppress(FileExistsError):  # a redelivered job wrote the same bytes already
                os.link(tmp_name, final)
        finally:
            os.unlink(tmp_name)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    else:
        with tempfile.TemporaryFile(prefix="brainscribe-export-") as tmp:
            outcome = _write_zip(export, options, tmp, progress, workers)
            tmp.seek(0)
            name = default_storage.save(name, File(tmp, name="export.zip"))
    Export.objects.filter(pk=export.pk).update(
        storage_prefix=f"exports/{export.pk}/",
        archive=name,
        manifest=outcome.manifest,
        manifest_sha256=outcome.manifest_sha256,
        n_files=outcome.n_files,
        total_bytes=outcome.total_bytes,
        finished_at=timezone.now(),
    )
    audit_record(
        verb="export.create",
        actor=export.created_by,
        project=export.project,
        obj=export,
        data={
            "format": export.format,
            "snapshot": export.snapshot.checksum,
            "cases": outcome.n_cases,
            "skipped": len(outcome.skipped),
            "manifest_sha256": outcome.manifest_sha256,
        },
    )
    export.refresh_from_db()
    return outcome


def local_path(name: str) -> Path | None:
    """Where the file store keeps ``name`` on this machine; None for object stores."""
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        return None


def _write_zip(
    export: Export, options: dict[str, Any], fileobj: Any, progress: Any, workers: int | None
) -> ExportOutcome:
    return export_write(
        snapshot=export.snapshot,
        format=export.format,
        params=options,
        sink=ZipSink(fileobj),
        progress=progress,
        workers=workers,
    )
