"""Saving a mask: validate, store the file, then bump the version under a row lock.

The order matters for "nothing is lost": the file is durable (fsync, rename) before the row that
points at it is committed, and the row is committed only if nobody saved first. A crash between
the two leaves an unreferenced file (removed by ``manage.py cleanup_blobs``), never a row pointing
at a missing file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotations import nifti
from annotations.blobs import blob_put, blob_read
from annotations.errors import InvalidInput, PreconditionRequired, StaleVersion, StateConflict
from annotations.models import Case, CaseStatus, LabelSchema, MaskKind, MaskVersion, Role, VersionSource
from annotations.services.access import require_role
from annotations.services.audit import audit_record

EDITABLE_BY_ANNOTATOR = {CaseStatus.NEW, CaseStatus.PREDICTED, CaseStatus.IN_PROGRESS, CaseStatus.REJECTED}


class _LabelCache:
    """Decoded label maps by sha256. Blobs are immutable, so a cached array can never be stale."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha: str) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(sha)
            if arr is not None:
                self._items.move_to_end(sha)
            return arr

    def put(self, sha: str, arr: np.ndarray) -> None:
        arr.setflags(write=False)
        with self._lock:
            self._items[sha] = arr
            self._items.move_to_end(sha)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


_cache = _LabelCache()


@dataclass(frozen=True)
class MaskSaveResult:
    mask: MaskVersion
    created: bool  # False when the upload equals the current version: nothing new to store


def check_labels_in_schema(counts: dict[str, int], schema: LabelSchema, kind: str) -> None:
    """``counts`` as from ``nifti.label_counts``: every label present must be one the schema defines."""
    allowed = set(schema.labels.filter(kind=kind).values_list("index", flat=True))
    outside = sorted(int(v) for v in counts if int(v) not in allowed)
    if outside:
        shown = ", ".join(str(v) for v in outside[:10])
        raise InvalidInput(
            f"The {kind} mask holds labels that are not in the {schema.slug} schema: {shown}"
            f"{' …' if len(outside) > 10 else ''}."
        )


def mask_latest(case: Case, kind: str) -> MaskVersion | None:
    return MaskVersion.objects.filter(case=case, kind=kind).order_by("-version").first()


def mask_labels(mask: MaskVersion) -> np.ndarray:
    """The voxel labels of a stored version (cached: versions never change)."""
    arr = _cache.get(mask.sha256)
    if arr is None:
        arr = nifti.label_values(nifti.decode_stored(blob_read(mask.file)).data)
        _cache.put(mask.sha256, arr)
    return arr


def parse_if_match(value: str | None) -> int | None:
    """``"3"``, ``3`` or ``W/"3"`` → 3; None when absent."""
    if value is None or value.strip() == "":
        return None
    token = value.strip()
    if token.startswith("W/"):
        token = token[2:]
    token = token.strip('"')
    if not token.isdigit():
        raise InvalidInput(f'If-Match must be the version you edited, e.g. If-Match: "3"; got {value!r}.')
    return int(token)


def require_editable(case: Case, user: Any, what: str) -> None:
    if case.status == CaseStatus.APPROVED:
        raise StateConflict(f"This case is approved; a reviewer must reopen it before its {what} can change.")
    minimum = Role.ANNOTATOR if case.status in EDITABLE_BY_ANNOTATOR else Role.REVIEWER
    require_role(user, case.project, minimum, f"edit the {what} of a {case.status.replace('_', ' ')} case")


def mask_save(
    *,
    case: Case,
    kind: str,
    data: bytes,
    expected_version: int | None,
    user: Any,
    source: str = VersionSource.HUMAN,
    model_version: Any = None,
    comment: str = "",
) -> MaskSaveResult:
    """Store a new version of a case's mask if ``expected_version`` is still the latest.

    ``expected_version`` is what the client's If-Match said (0 when no mask existed). Two clients
    that both edited version 3 race on the case row lock; the second gets StaleVersion naming 4.
    """
    if kind not in MaskKind.values:
        raise InvalidInput(f"Unknown mask kind {kind!r}; use lesion or structure.")
    if expected_version is None:
        raise PreconditionRequired(
            'Saving a mask requires If-Match with the version you edited (e.g. If-Match: "3"), '
            "so that a newer save by someone else is never overwritten."
        )
    if source == VersionSource.HUMAN:
        require_editable(case, user, f"{kind} mask")

    try:
        vol = nifti.read_nifti(data, max_voxels=_max_voxels(case), max_bytes=_max_bytes(case))
    except nifti.NiftiError as exc:
        raise InvalidInput(f"The uploaded {kind} mask: {exc}.") from None
    reference_affine = np.asarray(case.affine, dtype=float)
    problem = nifti.same_grid(vol.shape, vol.affine, tuple(case.shape), reference_affine)
    if problem:
        raise InvalidInput(f"The uploaded {kind} mask does not fit this case: {problem}.")
    try:
        labels = nifti.label_values(vol.data)
    except nifti.NiftiError as exc:
        raise InvalidInput(f"The uploaded {kind} mask: {exc}.") from None
    counts = nifti.label_counts(labels)
    check_labels_in_schema(counts, case.project.label_schema, kind)

    parent = MaskVersion.objects.filter(case=case, kind=kind, version=expected_version).first()
    if expected_version > 0 and parent is None:
        current = mask_latest(case, kind)
        raise StaleVersion(
            f"Version {expected_version} of this {kind} mask does not exist; the current version is "
            f"{current.version if current else 0}.",
            current_version=current.version if current else 0,
        )
    parent_labels = mask_labels(parent) if parent else None
    diff = nifti.label_diff(labels, parent_labels)
    if parent is not None and not diff:
        _raise_if_stale(case, kind, expected_version)
        return MaskSaveResult(mask=parent, created=False)

    encoded = nifti.encode_labels(labels, reference_affine)
    name, sha, size = blob_put(encoded)

    try:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=case.pk)
            _raise_if_stale(locked, kind, expected_version)
            mask = MaskVersion.objects.create(
                case=locked,
                kind=kind,
                version=expected_version + 1,
                parent=parent,
                file=name,
                sha256=sha,
                size_bytes=size,
                source=source,
                model_version=model_version,
                author=user if getattr(user, "is_authenticated", False) else None,
                counts=counts,
                diff=diff,
                comment=comment,
            )
            _touch_case(locked, user, source)
            audit_record(
                verb="mask.save",
                actor=user,
                case=locked,
                obj=mask,
                data={"kind": kind, "version": mask.version, "source": source, "diff": diff},
            )
    except IntegrityError:
        current = mask_latest(case, kind)
        raise StaleVersion(
            f"Someone saved version {current.version if current else '?'} of this {kind} mask first.",
            current_version=current.version if current else 0,
        ) from None
    _cache.put(sha, labels)
    return MaskSaveResult(mask=mask, created=True)


def _raise_if_stale(case: Case, kind: str, expected_version: int) -> None:
    current = MaskVersion.objects.filter(case=case, kind=kind).aggregate(v=Max("version"))["v"] or 0
    if current != expected_version:
        raise StaleVersion(
            f"This {kind} mask was saved by someone else since you loaded version {expected_version}; "
            f"the current version is {current}.",
            current_version=current,
        )


def _touch_case(case: Case, user: Any, source: str) -> None:
    """A human edit starts work on a case; a model proposal marks it predicted."""
    fields: dict[str, Any] = {"updated_at": timezone.now()}
    if source == VersionSource.HUMAN:
        fields["last_editor"] = user if getattr(user, "is_authenticated", False) else None
        if case.status in (CaseStatus.NEW, CaseStatus.PREDICTED):
            fields["status"] = CaseStatus.IN_PROGRESS
    elif source == VersionSource.MODEL and case.status == CaseStatus.NEW:
        fields["status"] = CaseStatus.PREDICTED
    Case.objects.filter(pk=case.pk).update(**fields)


def _max_voxels(case: Case) -> int:
    shape = case.shape
    return int(shape[0]) * int(shape[1]) * int(shape[2])


def _max_bytes(case: Case) -> int:
    # A label map of this grid in the widest sensible type (float64) plus a generous header.
    return _max_voxels(case) * 8 + 64 * 1024
