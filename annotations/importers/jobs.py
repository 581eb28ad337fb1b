"""The import job: the same loop as ``manage.py import_cases``, for folders on the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from annotations.errors import InvalidInput
from annotations.importers.archives import is_archive
from annotations.importers.run import ALL_LAYOUTS, import_path
from annotations.models import Project


def import_roots() -> list[Path]:
    return [Path(p).resolve() for p in settings.BRAINSCRIBE_IMPORT_ROOTS]


def clean_import_params(project: Project | None, params: dict[str, Any]) -> dict[str, Any]:
    """Only folders under BRAINSCRIBE_IMPORT_ROOTS may be imported through the API."""
    layout = params.get("layout", "generic")
    if layout not in ALL_LAYOUTS:
        raise InvalidInput(f"Unknown layout {layout!r}; use one of {', '.join(sorted(ALL_LAYOUTS))}.")
    raw = params.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("params.path must name a folder under one of the import roots.")
    roots = import_roots()
    candidate = Path(raw)
    resolved = (candidate if candidate.is_absolute() else (roots[0] / candidate if roots else candidate)).resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InvalidInput(
            f"{raw!r} is outside the import roots ({', '.join(str(r) for r in roots) or 'none configured'}); "
            "set BRAINSCRIBE_IMPORT_ROOTS to allow a folder."
        )
    if not (resolved.is_dir() or is_archive(resolved)):
        raise InvalidInput(f"{raw!r} is not a folder or a .zip/.tar archive on the server.")
    return {"path": str(resolved), "layout": layout}


def import_dedupe_key(project: Project | None, params: dict[str, Any]) -> str:
    return f"import:{project.pk if project else '-'}:{params['path']}"


def run_import_job(job: Any, ctx: Any) -> dict[str, Any]:
    def progress(done: int, total: int, what: str) -> None:
        ctx.progress(done / max(total, 1), f"{done}/{total} {what}")

    summary = import_path(
        project=job.project,
        root=Path(job.params["path"]),
        layout=job.params["layout"],
        user=job.created_by,
        progress=progress,
    )
    for case_id, reason in summary.failed.items():
        ctx.log(f"skipped {case_id}: {reason}")
    return summary.as_dict()
