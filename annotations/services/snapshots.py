"""Freezing a dataset snapshot: which cases, pinned to which mask and report versions.

Training and export read a snapshot, never live rows: a case approved, reopened and edited after
the freeze does not change a running export or a model's training set. An approved case is pinned
to the versions its last approve review recorded (what the reviewer actually looked at), not to
whatever is newest. The manifest holds only content (no times, no users), so freezing the same
state twice gives the same checksum and returns the snapshot that already exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Max

from annotations import nifti
from annotations.errors import InvalidInput
from annotations.models import (
    Case,
    CaseStatus,
    DatasetSnapshot,
    LabelKind,
    MaskVersion,
    Project,
    ReportVersion,
    Review,
    ReviewAction,
    Role,
    Volume,
)
from annotations.services.access import require_role
from annotations.services.audit import audit_record

SNAPSHOT_FORMAT = 1
CHUNK = 500

CaseSelection = Literal["approved", "all"] | Iterable[Case | int] | None


def canonical_json(obj: Any) -> bytes:
    """The one byte form used for checksums and exported JSON: sorted keys, fixed indent, UTF-8."""
    return (json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def snapshot_checksum(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(manifest)).hexdigest()


def snapshot_freeze(*, project: Project, user: Any, cases: CaseSelection = None) -> DatasetSnapshot:
    """Freeze ``cases`` of ``project``: by default the approved ones (the labelled set).

    ``cases="all"`` takes every case that is not deleted; an iterable of cases or ids takes those.
    Approved cases are pinned to their last approve review; the others to their latest versions
    (their manifest entry says ``approved: false`` so a training run can treat them as unlabelled).
    """
    require_role(user, project, Role.REVIEWER, "freeze a dataset snapshot")
    selection, case_rows = _select(project, cases)
    manifest = snapshot_manifest(project=project, selection=selection, cases=case_rows)
    checksum = snapshot_checksum(manifest)
    existing = DatasetSnapshot.objects.filter(project=project, checksum=checksum).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            snapshot = DatasetSnapshot.objects.create(
                project=project,
                checksum=checksum,
                manifest=manifest,
                n_cases=len(manifest["cases"]),
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
            audit_record(
                verb="snapshot.freeze",
                actor=user,
                project=project,
                obj=snapshot,
                data={"checksum": checksum, "cases": snapshot.n_cases, "selection": selection},
            )
    except IntegrityError:
        # Someone froze the same state at the same moment; theirs is ours.
        return DatasetSnapshot.objects.get(project=project, checksum=checksum)
    return snapshot


def _select(project: Project, cases: CaseSelection) -> tuple[str, list[Case]]:
    live = Case.objects.filter(project=project, deleted_at__isnull=True)
    if cases is None or cases == "approved":
        return "approved", list(live.filter(status=CaseStatus.APPROVED))
    if cases == "all":
        return "all", list(live)
    if isinstance(cases, str):
        raise InvalidInput(f"cases must be 'approved', 'all' or a list of cases; got {cases!r}.")
    ids = sorted({c.pk if isinstance(c, Case) else int(c) for c in cases})
    found = []
    for start in range(0, len(ids), CHUNK):
        found += list(live.filter(pk__in=ids[start : start + CHUNK]))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        shown = ", ".join(str(m) for m in missing[:10])
        raise InvalidInput(f"Cases {shown} are not (or no longer) in project {project.name!r}.")
    return "explicit", found


def snapshot_manifest(*, project: Project, selection: str, cases: list[Case]) -> dict[str, Any]:
    """The manifest of ``cases`` as they are now; pure content, deterministic for the same state."""
    entries = []
    cases = sorted(cases, key=lambda c: c.external_id)
    for start in range(0, len(cases), CHUNK):
        entries += _entries(cases[start : start + CHUNK])
    schema = project.label_schema
    labels: dict[str, list[dict[str, Any]]] = {LabelKind.STRUCTURE: [], LabelKind.LESION: []}
    for label in schema.labels.order_by("kind", "index"):
        labels[label.kind].append(
            {
                "index": label.index,
                "name": label.name,
                "side": label.side,
                "coarse_region": label.coarse_region,
                "color": label.color,
            }
        )
    return {
        "snapshot_format": SNAPSHOT_FORMAT,
        "project": project.pk,
        "selection": selection,
        "label_schema": {"slug": schema.slug, "labels": labels},
        "cases": entries,
    }


def _entries(cases: list[Case]) -> list[dict[str, Any]]:
    ids = [c.pk for c in cases]
    approvals: dict[int, Review] = {}
    for review in Review.objects.filter(case_id__in=ids, action=ReviewAction.APPROVE).order_by("created_at", "id"):
        approvals[review.case_id] = review  # the last one wins
    pins: dict[int, tuple[dict[str, int], int | None]] = {}
    unpinned = [c.pk for c in cases if not (c.status == CaseStatus.APPROVED and c.pk in approvals)]
    latest_masks: dict[int, dict[str, int]] = {pk: {} for pk in unpinned}
    for row in MaskVersion.objects.filter(case_id__in=unpinned).values("case_id", "kind").annotate(v=Max("version")):
        latest_masks[row["case_id"]][row["kind"]] = row["v"]
    latest_reports = dict(
        ReportVersion.objects.filter(case_id__in=unpinned)
        .values("case_id")
        .annotate(v=Max("version"))
        .values_list("case_id", "v")
    )
    for case in cases:
        review = approvals.get(case.pk) if case.status == CaseStatus.APPROVED else None
        if review is not None:
            pins[case.pk] = ({k: int(v) for k, v in review.mask_versions.items()}, review.report_version)
        else:
            pins[case.pk] = (latest_masks[case.pk], latest_reports.get(case.pk))

    wanted = {(pk, kind, version) for pk, (masks, _) in pins.items() for kind, version in masks.items()}
    masks: dict[tuple[int, str, int], MaskVersion] = {}
    for mask in MaskVersion.objects.filter(case_id__in=ids).only(
        "case_id", "kind", "version", "file", "sha256", "size_bytes", "source"
    ):
        if (mask.case_id, mask.kind, mask.version) in wanted:
            masks[(mask.case_id, mask.kind, mask.version)] = mask
    volumes: dict[int, list[Volume]] = {pk: [] for pk in ids}
    for volume in Volume.objects.filter(case_id__in=ids).order_by("modality"):
        volumes[volume.case_id].append(volume)

    entries = []
    for case in cases:
        mask_pins, report_version = pins[case.pk]
        reference_affine = case.affine
        entry_masks = {}
        for kind, version in sorted(mask_pins.items()):
            mask = masks.get((case.pk, kind, version))
            if mask is None:  # a review that names a version that no longer exists: never pin a guess
                raise InvalidInput(f"Case {case.external_id}: its {kind} mask version {version} is missing.")
            entry_masks[kind] = {
                "version": mask.version,
                "file": mask.file,
                "sha256": mask.sha256,
                "size_bytes": mask.size_bytes,
                "source": mask.source,
            }
        entries.append(
            {
                "case": case.pk,
                "external_id": case.external_id,
                "split": case.split,
                "approved": case.status == CaseStatus.APPROVED,
                "reference_modality": case.reference_modality,
                "shape": [int(s) for s in case.shape],
                "volumes": {
                    v.modality: {
                        "file": v.file,
                        "sha256": v.sha256,
                        "size_bytes": v.size_bytes,
                        "shape": [int(s) for s in v.shape],
                        "on_reference_grid": nifti.same_grid(v.shape, v.affine, case.shape, reference_affine) is None,
                    }
                    for v in volumes[case.pk]
                },
                "masks": entry_masks,
                "report_version": report_version,
            }
        )
    return entries


__all__ = ["canonical_json", "snapshot_checksum", "snapshot_freeze", "snapshot_manifest"]
