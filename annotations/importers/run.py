"""The import loop shared by ``manage.py import_cases`` and the import job.

One bad case is reported and skipped; the others import. Importing the same folder again creates
nothing new: cases are matched by external id and image checksums, reports by their sentences.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from annotations import nifti
from annotations.errors import CaseStoreError
from annotations.importers.archives import is_archive, safe_extract
from annotations.importers.dicom import dicom
from annotations.importers.layouts import LAYOUTS, CaseSource, ImportPathError
from annotations.importers.reports import RegionWords, has_reports, load_reports, load_splits
from annotations.models import Case, LabelKind, Project, Split, VersionSource
from annotations.services.cases import case_create, case_update
from annotations.services.reports import report_latest, report_save

ALL_LAYOUTS = {**LAYOUTS, "dicom": dicom}
Progress = Callable[[int, int, str], None]


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": len(self.created),
            "existing": len(self.existing),
            "reports": len(self.reports),
            "failed": self.failed,
            "warnings": self.warnings[:100],
        }


def _remap_lesion(data: bytes, label_map: dict[int, int]) -> bytes:
    vol = nifti.read_nifti(data, max_voxels=2**31, max_bytes=2**34)
    labels = nifti.label_values(vol.data)
    present = set(np.unique(labels).tolist()) - {0}
    unknown = sorted(present - set(label_map))
    if unknown:
        raise nifti.NiftiError(f"the segmentation holds labels {unknown} that this layout does not define")
    lut = np.zeros(int(labels.max()) + 1, dtype=np.uint8)
    for src, dst in label_map.items():
        if src < len(lut):
            lut[src] = dst
    return nifti.encode_labels(lut[labels], vol.affine)


def _read(path: Path, limit: int = 2 * 1024**3) -> bytes:
    if path.stat().st_size > limit:
        raise ImportPathError(f"{path.name} is larger than {limit // 2**20} MB")
    return path.read_bytes()


def import_case(project: Project, source: CaseSource, user: Any, split: str) -> tuple[Case, bool]:
    if source.problems and not source.volumes:
        raise ImportPathError("; ".join(source.problems))
    volumes = {m: _read(p) for m, p in source.volumes.items()}
    masks = {k: _read(p) for k, p in source.masks.items()}
    if "lesion" in masks and source.lesion_label_map:
        try:
            masks["lesion"] = _remap_lesion(masks["lesion"], source.lesion_label_map)
        except nifti.NiftiError as exc:
            raise ImportPathError(f"lesion mask: {exc}") from None
    # The reference goes first: case_create takes the first volume as the grid unless told otherwise.
    result = case_create(
        project=project,
        external_id=source.external_id,
        volumes=volumes,
        masks=masks,
        reference=source.reference,
        split=split,
        user=user,
    )
    return result.case, result.created


def import_path(
    *, project: Project, root: Path, layout: str, user: Any = None, progress: Progress | None = None
) -> ImportSummary:
    if layout not in ALL_LAYOUTS:
        raise ImportPathError(f"unknown layout {layout!r}; use one of {', '.join(sorted(ALL_LAYOUTS))}")
    root = Path(root)
    if is_archive(root):
        with tempfile.TemporaryDirectory(prefix="brainscribe-import-") as tmp:
            unpacked = safe_extract(root, Path(tmp), max_bytes=settings.BRAINSCRIBE_MAX_IMPORT_BYTES)
            return import_path(project=project, root=unpacked, layout=layout, user=user, progress=progress)
    if not root.is_dir():
        raise ImportPathError(f"{root} is not a folder or a .zip/.tar archive")
    root = root.resolve()
    summary = ImportSummary()
    splits = load_splits(root)
    if layout == "dicom":
        # Conversion happens lazily, each case in a temp folder that lives while it is imported.
        n_sources = sum(1 for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        sources: Iterable[CaseSource] = ALL_LAYOUTS[layout](root)
    else:
        sources = list(ALL_LAYOUTS[layout](root))
        n_sources = len(sources)
    reports = {}
    if has_reports(root):
        labels = project.label_schema.labels.filter(kind=LabelKind.STRUCTURE).values_list(
            "index", "side", "coarse_region"
        )
        reports = load_reports(root, RegionWords.from_labels(labels))
    total = n_sources + len(reports)
    done = 0
    for source in sources:
        try:
            split = splits.get(source.external_id, Split.UNASSIGNED)
            case, created = import_case(project, source, user, split)
            (summary.created if created else summary.existing).append(source.external_id)
            if not created and split != Split.UNASSIGNED and case.split == Split.UNASSIGNED:
                case_update(case=case, user=user, split=split)
            summary.warnings.extend(f"{source.external_id}: {p}" for p in source.problems)
        except (CaseStoreError, ImportPathError, OSError) as exc:
            summary.failed[source.external_id] = getattr(exc, "message", None) or str(exc)
        done += 1
        if progress:
            progress(done, total, source.external_id)
    for case_id, report in reports.items():
        try:
            if _import_report(project, case_id, report.sentences, user):
                summary.reports.append(case_id)
        except (CaseStoreError, ImportPathError) as exc:
            summary.failed[f"{case_id} (report)"] = getattr(exc, "message", None) or str(exc)
        done += 1
        if progress:
            progress(done, total, f"{case_id} report")
    return summary


def _import_report(project: Project, case_id: str, sentences: list[dict[str, Any]], user: Any) -> bool:
    case = Case.objects.filter(project=project, external_id=case_id, deleted_at__isnull=True).first()
    if case is None:
        raise ImportPathError(f"no case {case_id!r} in this project to attach the report to")
    latest = report_latest(case)
    if latest is not None and latest.source != VersionSource.IMPORT:
        raise ImportPathError(
            f"case {case_id!r} has a report edited on the platform (version {latest.version}); "
            "an import never replaces clinicians' work"
        )
    if latest is not None:
        have = [(s.text, s.region_label_ids, s.kind) for s in latest.sentences.all()]
        want = [(s["text"], sorted(set(s["region_label_ids"])), s["kind"]) for s in sentences]
        if have == want:
            return False
    report_save(
        case=case,
        sentences=sentences,
        expected_version=latest.version if latest else 0,
        user=user,
        source=VersionSource.IMPORT,
        comment="imported reference report",
    )
    return True
