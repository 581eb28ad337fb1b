"""What every exporter shares: the snapshot's cases as plain data, file entries, and parameter checks.

An exporter never touches the database or storage itself. It turns the frozen manifest (plus, for
report formats, the pinned sentences) into a list of file entries per case; ``run.export_write``
turns the entries into bytes in worker threads and hands them to a sink in a fixed order. That
split is what lets the job (zip in storage) and the CLI (a folder) share one code path, and what
keeps exports deterministic whatever the thread timing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from annotations.errors import InvalidInput
from annotations.models.projects import MODALITIES
from annotations.services.snapshots import canonical_json

MASK_KINDS = ("lesion", "structure")
# The fixed channel order of every multi-channel export: nnU-Net's _0000.._0005 follow it.
CHANNEL_ORDER = MODALITIES


class ExportError(Exception):
    """The export cannot be written; the message says why, for the person who asked for it."""


@dataclass(frozen=True)
class StoredFile:
    """A content-addressed file of the case store, as the snapshot pinned it."""

    file: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class SnapshotVolume(StoredFile):
    on_reference_grid: bool = True


@dataclass(frozen=True)
class SnapshotMask(StoredFile):
    version: int = 0
    source: str = ""  # model, human or import: who drew the version the reviewer approved


@dataclass(frozen=True)
class SnapshotCase:
    case: int
    number: int  # 1-based position in the snapshot (sorted by external id): stable across formats
    external_id: str
    split: str
    approved: bool
    reference_modality: str
    volumes: dict[str, SnapshotVolume]
    masks: dict[str, SnapshotMask]
    report_version: int | None

    @classmethod
    def from_manifest(cls, entry: dict[str, Any], number: int) -> SnapshotCase:
        return cls(
            case=entry["case"],
            number=number,
            external_id=entry["external_id"],
            split=entry["split"],
            approved=entry["approved"],
            reference_modality=entry["reference_modality"],
            volumes={
                m: SnapshotVolume(v["file"], v["sha256"], v["size_bytes"], v["on_reference_grid"])
                for m, v in entry["volumes"].items()
            },
            masks={
                k: SnapshotMask(v["file"], v["sha256"], v["size_bytes"], v["version"], v["source"])
                for k, v in entry["masks"].items()
            },
            report_version=entry["report_version"],
        )

    def usable_modalities(self) -> set[str]:
        """Modalities that can be stacked as channels: present and on the case's reference grid."""
        return {m for m, v in self.volumes.items() if v.on_reference_grid}


# --- file entries: what to write, not yet how ---------------------------------------------------------


@dataclass(frozen=True)
class CopyBlob:
    """A stored file copied byte for byte (volumes are already scrubbed canonical .nii.gz)."""

    path: str
    source: StoredFile
    check_header: bool = False  # a volume: make sure no header text field or extension leaves


@dataclass(frozen=True)
class RemapLabels:
    """A stored label map whose values must change (nnU-Net wants labels 0..N with no gaps)."""

    path: str
    source: StoredFile
    lut: tuple[int, ...]  # old value -> new value


@dataclass(frozen=True)
class Content:
    path: str
    data: bytes


FileEntry = CopyBlob | RemapLabels | Content


def json_file(path: str, obj: Any) -> Content:
    return Content(path, canonical_json(obj))


@dataclass
class CasePlan:
    case: SnapshotCase
    files: list[FileEntry]
    record: dict[str, Any]  # this case's line in the manifest


@dataclass
class Sentence:
    text: str
    kind: str
    modality: str
    region_label_ids: list[int]
    lesion_component: int | None
    status: str
    features: dict[str, Any] = field(default_factory=dict)


# --- the exporter interface ---------------------------------------------------------------------------


class Exporter:
    """One dataset format. A fresh instance per export run; it may keep state between calls."""

    format: ClassVar[str]
    needs_reports: ClassVar[bool] = False
    # name -> default (None: decided from the data); every other param is refused.
    param_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *, params: dict[str, Any], labels: dict[str, list[dict[str, Any]]], project_name: str) -> None:
        self.params = params
        self.labels = labels
        self.project_name = project_name
        self.skipped: dict[str, str] = {}

    @classmethod
    def clean_params(cls, params: dict[str, Any], *, project_name: str) -> dict[str, Any]:
        unknown = sorted(set(params) - set(cls.param_defaults))
        if unknown:
            allowed = ", ".join(sorted(cls.param_defaults)) or "none"
            raise InvalidInput(f"Unknown parameter {unknown[0]!r} for the {cls.format} format; allowed: {allowed}.")
        cleaned: dict[str, Any] = {}
        for name, default in cls.param_defaults.items():
            value = params.get(name, default)
            if value is not None:
                cleaned[name] = CLEANERS[name](value)
        return cleaned

    def select(self, cases: list[SnapshotCase]) -> list[SnapshotCase]:
        """The cases to export, in order; the others go to ``self.skipped`` with a reason."""
        return list(cases)

    def plan_case(self, case: SnapshotCase, sentences: list[Sentence] | None) -> CasePlan | None:
        raise NotImplementedError

    def dataset_files(self, records: list[dict[str, Any]]) -> list[Content]:
        """Files that describe the whole dataset, written after every case."""
        return []

    def details(self) -> dict[str, Any]:
        """Format-specific facts for the manifest (channel order, label mapping…)."""
        return {}

    def skip(self, case: SnapshotCase, reason: str) -> None:
        self.skipped[case.external_id] = reason


# --- parameters shared by several formats --------------------------------------------------------------


def clean_mask(value: Any) -> str:
    if value not in MASK_KINDS:
        raise InvalidInput(f"mask must be one of {', '.join(MASK_KINDS)}; got {value!r}.")
    return str(value)


def clean_modalities(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"modalities must be a non-empty list drawn from {', '.join(CHANNEL_ORDER)}.")
    upper = [v.upper() for v in value]
    unknown = [v for v in upper if v not in CHANNEL_ORDER]
    if unknown:
        raise InvalidInput(f"Unknown modality {unknown[0]!r}; use {', '.join(CHANNEL_ORDER)}.")
    if len(set(upper)) != len(upper):
        raise InvalidInput("modalities lists a modality twice.")
    # Channel order is fixed whatever order the caller wrote them in.
    return [m for m in CHANNEL_ORDER if m in upper]


def clean_dataset_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidInput(f"dataset_id must be a whole number from 1 to 999; got {value!r}.")
    number = int(value)
    if not 1 <= number <= 999:
        raise InvalidInput(f"dataset_id must be from 1 to 999 (nnU-Net's three digits); got {number}.")
    return number


def clean_dataset_name(value: Any) -> str:
    name = re.sub(r"[^A-Za-z0-9]", "", str(value))[:50]
    if not name:
        raise InvalidInput("dataset_name needs at least one letter or digit.")
    return name


CLEANERS = {
    "mask": clean_mask,
    "modalities": clean_modalities,
    "dataset_id": clean_dataset_id,
    "dataset_name": clean_dataset_name,
}


def choose_channels(
    exporter: Exporter, cases: list[SnapshotCase], mask: str, requested: list[str] | None
) -> tuple[list[SnapshotCase], list[str], dict[str, int]]:
    """Cases and channels for a format that stacks modalities (every case needs every channel).

    Training cases need the chosen mask; test cases may come without one (images for inference).
    With no ``requested`` modalities the channels are those every exportable case has on its
    reference grid, so no labelled case is lost; naming modalities instead skips the cases that
    lack one. Either way the manifest says which modalities were left out and how many cases had them.
    """
    candidates = []
    for case in cases:
        if case.split != "test" and mask not in case.masks:
            exporter.skip(case, f"no approved {mask} mask")
        else:
            candidates.append(case)
    if not candidates:
        return [], list(requested or []), {}
    if requested:
        channels = list(requested)
    else:
        common = set.intersection(*(c.usable_modalities() for c in candidates))
        channels = [m for m in CHANNEL_ORDER if m in common]
        if not channels:
            raise ExportError(
                "No modality is present, on the reference grid, in every case; name the modalities to export "
                "(cases lacking one are then skipped)."
            )
    kept = []
    for case in candidates:
        missing = [m for m in channels if m not in case.volumes]
        off_grid = [m for m in channels if m in case.volumes and not case.volumes[m].on_reference_grid]
        if missing:
            exporter.skip(case, f"no {', '.join(missing)} volume")
        elif off_grid:
            exporter.skip(
                case,
                f"{', '.join(off_grid)} not on the {case.reference_modality} reference grid "
                "(channels must be co-registered)",
            )
        else:
            kept.append(case)
    left_out = {}
    for modality in CHANNEL_ORDER:
        if modality not in channels:
            have = sum(1 for c in kept if modality in c.volumes)
            if have:
                left_out[modality] = have
    return kept, channels, left_out
