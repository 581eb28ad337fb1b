"""Creating cases from uploaded or imported volumes, and the few case fields users may change."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations import nifti
from annotations.blobs import blob_put
from annotations.errors import InvalidInput, StateConflict
from annotations.models import Case, CaseStatus, MaskKind, MaskVersion, Project, Role, Split, VersionSource, Volume
from annotations.models.projects import MODALITIES
from annotations.services.access import require_role
from annotations.services.audit import audit_record
from annotations.services.masks import check_labels_in_schema

EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class CaseCreateResult:
    case: Case
    created: bool


def read_upload(data: bytes, what: str) -> nifti.NiftiVolume:
    """Parse an uploaded NIfTI within the configured limits, naming the upload in any error."""
    try:
        return nifti.read_nifti(
            data, max_voxels=settings.BRAINSCRIBE_MAX_VOXELS, max_bytes=settings.BRAINSCRIBE_MAX_UPLOAD_BYTES
        )
    except nifti.NiftiError as exc:
        raise InvalidInput(f"{what}: {exc}.") from None


def _geometry(vol: nifti.NiftiVolume) -> dict[str, Any]:
    return {
        "shape": [int(s) for s in vol.shape],
        "affine": [[float(v) for v in row] for row in vol.affine],
        "spacing": nifti.voxel_spacing(vol.affine),
        "orientation": nifti.orientation_codes(vol.affine),
    }


def case_create(
    *,
    project: Project,
    external_id: str,
    volumes: Mapping[str, bytes],
    masks: Mapping[str, bytes] | None = None,
    reference: str | None = None,
    split: str = Split.UNASSIGNED,
    user: Any = None,
) -> CaseCreateResult:
    """Store a new case. Re-sending the same images for an existing id is a no-op, not a duplicate.

    The reference modality (``reference`` or the first given) fixes the grid masks must be on.
    Header text fields and extensions are scrubbed before anything is stored.
    """
    require_role(user, project, Role.ADMIN, "add cases")
    if not EXTERNAL_ID_RE.match(external_id or ""):
        raise InvalidInput(
            "external_id must be 1–128 letters, digits, dots, dashes or underscores (a pseudonymised id, "
            f"not a name); got {external_id!r}."
        )
    if not volumes:
        raise InvalidInput(f"A case needs at least one volume; send files named by modality: {', '.join(MODALITIES)}.")
    unknown = [m for m in volumes if m not in MODALITIES]
    if unknown:
        raise InvalidInput(f"Unknown modality {unknown[0]!r}; use {', '.join(MODALITIES)}.")
    if split not in Split.values:
        raise InvalidInput(f"Unknown split {split!r}; use one of {Split.values}.")
    reference = reference or next(iter(volumes))
    if reference not in volumes:
        raise InvalidInput(f"The reference modality {reference!r} is not among the uploaded volumes.")
    masks = dict(masks or {})
    unknown_masks = [k for k in masks if k not in MaskKind.values]
    if unknown_masks:
        raise InvalidInput(f"Unknown mask kind {unknown_masks[0]!r}; use lesion or structure.")

    parsed = {m: read_upload(data, f"The {m} file") for m, data in volumes.items()}
    ref = parsed[reference]
    scrubbed = {m: nifti.scrub_volume(vol, level=1) for m, vol in parsed.items()}

    existing = Case.objects.filter(project=project, external_id=external_id).first()
    if existing is not None:
        return CaseCreateResult(case=_same_case_or_conflict(existing, scrubbed), created=False)

    labels_by_kind: dict[str, np.ndarray] = {}
    for kind, data in masks.items():
        vol = read_upload(data, f"The {kind} mask")
        problem = nifti.same_grid(vol.shape, vol.affine, ref.shape, ref.affine)
        if problem:
            raise InvalidInput(f"The {kind} mask does not fit the {reference} reference volume: {problem}.")
        labels = _labels_or_invalid(vol.data, f"The {kind} mask")
        check_labels_in_schema(nifti.label_counts(labels), project.label_schema, kind)
        labels_by_kind[kind] = labels

    stored = {m: blob_put(data) for m, data in scrubbed.items()}
    stored_masks = {k: (blob_put(nifti.encode_labels(lab, ref.affine)), lab) for k, lab in labels_by_kind.items()}

    geometry = _geometry(ref)
    try:
        with transaction.atomic():
            case = Case.objects.create(
                project=project,
                external_id=external_id,
                split=split,
                reference_modality=reference,
                shape=geometry["shape"],
                affine=geometry["affine"],
                orientation=geometry["orientation"],
                modalities=[m for m in MODALITIES if m in volumes],
                last_editor=user if getattr(user, "is_authenticated", False) else None,
            )
            for modality, (name, sha, size) in stored.items():
                geo = _geometry(parsed[modality])
                Volume.objects.create(
                    case=case,
                    modality=modality,
                    file=name,
                    sha256=sha,
                    size_bytes=size,
                    shape=geo["shape"],
                    affine=geo["affine"],
                    spacing=geo["spacing"],
                    orientation=geo["orientation"],
                    dtype=str(parsed[modality].info.dtype.newbyteorder("=")),
                )
            for kind, ((name, sha, size), labels) in stored_masks.items():
                MaskVersion.objects.create(
                    case=case,
                    kind=kind,
                    version=1,
                    file=name,
                    sha256=sha,
                    size_bytes=size,
                    source=VersionSource.IMPORT,
                    author=None,
                    counts=nifti.label_counts(labels),
                    diff=nifti.label_diff(labels, None),
                )
            audit_record(
                verb="case.create",
                actor=user,
                case=case,
                obj=case,
                data={"modalities": case.modalities, "masks": sorted(stored_masks), "reference": reference},
            )
    except IntegrityError:
        # A concurrent import of the same id won the race; answer as the re-import would.
        existing = Case.objects.get(project=project, external_id=external_id)
        return CaseCreateResult(case=_same_case_or_conflict(existing, scrubbed), created=False)
    return CaseCreateResult(case=case, created=True)


def _labels_or_invalid(data: np.ndarray, what: str) -> np.ndarray:
    try:
        return nifti.label_values(data)
    except nifti.NiftiError as exc:
        raise InvalidInput(f"{what}: {exc}.") from None


def _same_case_or_conflict(case: Case, scrubbed: Mapping[str, bytes]) -> Case:
    import hashlib

    have = dict(case.volumes.values_list("modality", "sha256"))
    sent = {m: hashlib.sha256(data).hexdigest() for m, data in scrubbed.items()}
    if any(have.get(m) != sha for m, sha in sent.items()):
        raise StateConflict(
            f"A case with external id {case.external_id!r} exists with different images; "
            "use another id or remove the old case first.",
            case_id=case.pk,
        )
    return case


@transaction.atomic
def case_update(
    *, case: Case, user: Any, assignee: Any = ..., split: str | None = None, priority: float | None = ...
) -> Case:
    """Change who works on a case, or give it its (permanent) split."""
    locked = Case.objects.select_for_update().get(pk=case.pk)
    changes: dict[str, Any] = {}
    if assignee is not ...:
        require_role(user, locked.project, Role.REVIEWER, "assign cases")
        locked.assignee = assignee
        changes["assignee"] = getattr(assignee, "username", None)
    if split is not None and split != locked.split:
        require_role(user, locked.project, Role.ADMIN, "set a case's split")
        if split not in Split.values:
            raise InvalidInput(f"Unknown split {split!r}; use one of {Split.values}.")
        if locked.split != Split.UNASSIGNED:
            raise StateConflict(
                f"This case is in the {locked.split} split already; a case never moves between splits "
                "(it would leak evaluation data into training)."
            )
        locked.split = split
        changes["split"] = split
    if priority is not ...:
        require_role(user, locked.project, Role.ADMIN, "set a case's priority")
        locked.priority = priority
        changes["priority"] = priority
    if changes:
        locked.save()
        audit_record(verb="case.update", actor=user, case=locked, obj=locked, data=changes)
    return locked


@transaction.atomic
def case_delete(*, case: Case, user: Any) -> None:
    """Hide a case from every list. Its files and versions stay: nothing a clinician saved is lost."""
    require_role(user, case.project, Role.ADMIN, "delete cases")
    Case.objects.filter(pk=case.pk).update(deleted_at=timezone.now(), deleted_by=user)
    audit_record(verb="case.delete", actor=user, case=case, obj=case)


def case_mark_status(case: Case, status: str) -> None:
    Case.objects.filter(pk=case.pk).update(status=status, updated_at=timezone.now())


__all__ = ["CaseCreateResult", "CaseStatus", "case_create", "case_delete", "case_update", "read_upload"]
