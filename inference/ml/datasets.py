"""Training cases on disk, and the cache of their preprocessed arrays.

Preprocessing (load, resample, normalise) costs about as much as a training step, so each case is
prepared once and cached as a compressed ``.npz`` keyed by the content hash of its files and the
preprocessing settings: a changed file or spacing makes a new entry, never a stale hit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from inference.ml.config import ALL_MODALITIES, SegmentationConfig
from inference.ml.preprocess import Grid, labels_on_model_grid, prepare_case
from inference.ml.schema import LabelSchema

CACHE_VERSION = 3


@dataclass(frozen=True)
class TrainingCase:
    """One labelled case: modality → NIfTI path, plus its structure and lesion masks."""

    case_id: str
    volumes: Mapping[str, Path]
    structure: Path | None
    lesion: Path | None
    weight: float = 1.0  # room for confidence-weighted pseudo-labels in semi-supervised retraining


@dataclass
class CachedCase:
    case_id: str
    intensities: np.ndarray  # (M, X, Y, Z) float16
    available: tuple[bool, ...]
    grid: Grid
    center_mm: np.ndarray
    brain_mask: np.ndarray  # bool
    structure: np.ndarray  # (X, Y, Z) uint8 contiguous channel index (0 = background)
    lesion: np.ndarray  # (X, Y, Z) uint8 contiguous channel index
    has_structure: bool
    has_lesion: bool
    weight: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)
    lesion_voxels: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # A sample of lesion voxel positions, for lesion-centred patches.
        found = np.argwhere(self.lesion > 0)
        if len(found) > 2000:
            found = found[np.linspace(0, len(found) - 1, 2000).astype(int)]
        self.lesion_voxels = found


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def case_fingerprint(case: TrainingCase) -> str:
    parts = [case.case_id]
    for name in sorted(case.volumes):
        parts.append(f"{name}:{file_sha256(Path(case.volumes[name]))}")
    for name, path in (("structure", case.structure), ("lesion", case.lesion)):
        parts.append(f"{name}:{file_sha256(path) if path else '-'}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def training_data_hash(fingerprints: Iterable[str]) -> str:
    """Order-free hash of the training cases' contents (the checkpoint records it)."""
    return hashlib.sha256("\n".join(sorted(fingerprints)).encode()).hexdigest()


def preprocessing_key(config: SegmentationConfig, schema: LabelSchema, lesion_ids: Sequence[int]) -> str:
    settings = {
        "version": CACHE_VERSION,
        "modalities": list(config.modalities),
        "spacing": list(config.spacing_mm),
        "margin": config.grid_margin_mm,
        "normalisation": config.normalisation,
        "divisor": config.size_divisor,
        "schema": schema.digest,
        "lesions": list(lesion_ids),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def channel_lut(label_ids: Sequence[int]) -> np.ndarray:
    """Label id → contiguous channel (1..K); ids outside the schema map to 255 (rejected later)."""
    size = max([0, *label_ids]) + 1
    lut = np.full(max(size, 256), 255, dtype=np.uint8)
    lut[0] = 0
    for channel, label in enumerate(label_ids, start=1):
        lut[label] = channel
    return lut


def _to_channels(labels: np.ndarray, lut: np.ndarray, what: str, case_id: str) -> np.ndarray:
    if labels.min() < 0 or labels.max() >= lut.size:
        raise ValueError(
            f"case {case_id}: {what} mask holds labels outside the schema ({labels.min()}..{labels.max()})"
        )
    channels = lut[labels]
    if (channels == 255).any():
        unknown = sorted(set(np.unique(labels[channels == 255]).tolist()))
        raise ValueError(f"case {case_id}: {what} mask holds labels {unknown[:10]} that the schema does not define")
    return channels


def prepare_training_case(
    case: TrainingCase,
    config: SegmentationConfig,
    schema: LabelSchema,
    lesion_ids: Sequence[int],
    *,
    cache_dir: Path | None,
    fingerprint: str | None = None,
) -> CachedCase:
    fingerprint = fingerprint or case_fingerprint(case)
    key = preprocessing_key(config, schema, lesion_ids)
    cache_path = cache_dir / f"{case.case_id}-{fingerprint[:16]}-{key}.npz" if cache_dir else None
    if cache_path is not None and cache_path.is_file():
        return _load_cached(cache_path, case)

    volumes = {name: nib.load(str(path)) for name, path in case.volumes.items() if name in ALL_MODALITIES}
    prepared = prepare_case(volumes, config)
    grid = prepared.model_grid
    structure = np.zeros(grid.shape, dtype=np.uint8)
    lesion = np.zeros(grid.shape, dtype=np.uint8)
    if case.structure is not None:
        raw = labels_on_model_grid(nib.load(str(case.structure)), grid)
        structure = _to_channels(raw, channel_lut(schema.indices), "structure", case.case_id)
    if case.lesion is not None:
        raw = labels_on_model_grid(nib.load(str(case.lesion)), grid)
        lesion = _to_channels(raw, channel_lut(lesion_ids), "lesion", case.case_id)
    cached = CachedCase(
        case_id=case.case_id,
        intensities=prepared.intensities.astype(np.float16),
        available=prepared.available,
        grid=grid,
        center_mm=prepared.center_mm,
        brain_mask=prepared.brain_mask,
        structure=structure,
        lesion=lesion,
        has_structure=case.structure is not None,
        has_lesion=case.lesion is not None,
        weight=case.weight,
    )
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            intensities=cached.intensities,
            available=np.array(cached.available),
            shape=np.array(grid.shape),
            affine=grid.affine,
            center_mm=cached.center_mm,
            brain_mask=cached.brain_mask,
            structure=structure,
            lesion=lesion,
            has=np.array([cached.has_structure, cached.has_lesion]),
        )
        tmp.replace(cache_path)
    return cached


def _load_cached(path: Path, case: TrainingCase) -> CachedCase:
    with np.load(path) as data:
        has = data["has"]
        return CachedCase(
            case_id=case.case_id,
            intensities=data["intensities"],
            available=tuple(bool(v) for v in data["available"]),
            grid=Grid(tuple(int(v) for v in data["shape"]), data["affine"]),  # type: ignore[arg-type]
            center_mm=data["center_mm"],
            brain_mask=data["brain_mask"],
            structure=data["structure"],
            lesion=data["lesion"],
            has_structure=bool(has[0]),
            has_lesion=bool(has[1]),
            weight=case.weight,
        )


def read_case_folder(case_dir: Path, *, case_id: str | None = None) -> TrainingCase:
    """The generic layout ``<case>/<MODALITY>.nii.gz`` + ``structure.nii.gz`` + ``lesion.nii.gz``."""
    volumes = {}
    for name in ALL_MODALITIES:
        for suffix in (".nii.gz", ".nii"):
            path = case_dir / f"{name}{suffix}"
            if path.is_file():
                volumes[name] = path
                break
    structure = next((p for p in (case_dir / "structure.nii.gz", case_dir / "structure.nii") if p.is_file()), None)
    lesion = next((p for p in (case_dir / "lesion.nii.gz", case_dir / "lesion.nii") if p.is_file()), None)
    return TrainingCase(case_id or case_dir.name, volumes, structure, lesion)


def read_dataset(root: str | Path) -> dict[str, list[TrainingCase]]:
    """Cases of a demo/RadGenome-style folder, split by ``train_val_test_split.json`` when present."""
    root = Path(root)
    cases_dir = root / "cases" if (root / "cases").is_dir() else root
    cases = {p.name: read_case_folder(p) for p in sorted(cases_dir.iterdir()) if p.is_dir()}
    split_file = root / "train_val_test_split.json"
    if not split_file.is_file():
        return {"train": list(cases.values()), "val": [], "test": []}
    split = json.loads(split_file.read_text())
    out: dict[str, list[TrainingCase]] = {}
    for name in ("train", "val", "test"):
        out[name] = [cases[case_id] for case_id in split.get(name, []) if case_id in cases]
    return out
