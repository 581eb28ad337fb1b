"""Folder layouts the platform imports, each a function from a root folder to case sources.

A layout only finds files and says what they are; reading, validating and storing happen once,
in ``annotations.importers.run``. Paths are resolved and must stay inside the import root, so a
symlink or a crafted name cannot pull in files from elsewhere on the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MODALITY_ALIASES = {
    "t1": "T1",
    "t1n": "T1",
    "t1w": "T1",
    "t1ce": "T1CE",
    "t1c": "T1CE",
    "t1gd": "T1CE",
    "t1post": "T1CE",
    "t2": "T2",
    "t2w": "T2",
    "flair": "FLAIR",
    "t2f": "FLAIR",
    "dwi": "DWI",
    "adc": "ADC",
}
MASK_ALIASES = {"lesion": "lesion", "seg": "lesion", "structure": "structure", "structures": "structure"}
NIFTI_SUFFIXES = (".nii.gz", ".nii")


class ImportPathError(ValueError):
    pass


@dataclass
class CaseSource:
    external_id: str
    volumes: dict[str, Path] = field(default_factory=dict)
    masks: dict[str, Path] = field(default_factory=dict)
    reference: str | None = None
    # Voxel value in the source mask → lesion label of our schema (BraTS numbers its labels differently).
    lesion_label_map: dict[int, int] | None = None
    problems: list[str] = field(default_factory=list)


def strip_nifti_suffix(name: str) -> str | None:
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def safe_child(root: Path, path: Path) -> Path:
    """``path`` resolved, refusing anything that escapes ``root`` (via ``..`` or a symlink)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ImportPathError(f"{path.name} points outside the import folder; refusing to read it")
    return resolved


def _case_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def generic(root: Path) -> Iterator[CaseSource]:
    """``ROOT/<case>/<MODALITY>.nii.gz`` plus optional ``lesion``/``structure`` masks (also under ROOT/cases/)."""
    base = root / "cases" if (root / "cases").is_dir() else root
    for case_dir in _case_dirs(base):
        source = CaseSource(external_id=case_dir.name)
        for f in sorted(case_dir.iterdir()):
            stem = strip_nifti_suffix(f.name)
            if stem is None:
                continue
            key = stem.lower()
            if key in MODALITY_ALIASES:
                source.volumes[MODALITY_ALIASES[key]] = safe_child(root, f)
            elif key in MASK_ALIASES:
                source.masks[MASK_ALIASES[key]] = safe_child(root, f)
        if source.volumes:
            source.reference = _reference(source)
            yield source


def _reference(source: CaseSource) -> str:
    for preferred in ("T1", "T1CE", "FLAIR", "T2", "DWI", "ADC"):
        if preferred in source.volumes:
            return preferred
    return next(iter(source.volumes))


BRATS2021_RE = re.compile(r"^(BraTS2021_\d+)_(t1|t1ce|t2|flair|seg)$", re.IGNORECASE)
BRATS2023_RE = re.compile(r"^(BraTS-[A-Z]+-\d+-\d+)-(t1n|t1c|t2w|t2f|seg)$", re.IGNORECASE)


def _brats(root: Path, pattern: re.Pattern[str], label_map: dict[int, int]) -> Iterator[CaseSource]:
    for case_dir in _case_dirs(root):
        source = CaseSource(external_id=case_dir.name, lesion_label_map=label_map)
        for f in sorted(case_dir.iterdir()):
            stem = strip_nifti_suffix(f.name)
            match = pattern.match(stem or "")
            if not match:
                continue
            if match.group(1) != case_dir.name:
                source.problems.append(f"{f.name} names case {match.group(1)}, not its folder {case_dir.name}")
                continue
            part = match.group(2).lower()
            if part == "seg":
                source.masks["lesion"] = safe_child(root, f)
            else:
                source.volumes[MODALITY_ALIASES[part]] = safe_child(root, f)
        if source.volumes or source.problems:
            source.reference = "T1" if "T1" in source.volumes else (_reference(source) if source.volumes else None)
            yield source


def brats2021(root: Path) -> Iterator[CaseSource]:
    """BraTS 2021: 1 necrotic core, 2 oedema, 4 enhancing tumour."""
    return _brats(root, BRATS2021_RE, {1: 1, 2: 2, 4: 3})


def brats2023(root: Path) -> Iterator[CaseSource]:
    """BraTS 2023 (GLI, MEN, MET…): 1 non-enhancing core, 2 oedema (SNFH), 3 enhancing tumour."""
    return _brats(root, BRATS2023_RE, {1: 1, 2: 2, 3: 3})


ISLES_SUB_RE = re.compile(r"^sub-(strokecase\d+)$")


def isles2022(root: Path) -> Iterator[CaseSource]:
    """ISLES 2022 BIDS: rawdata/sub-*/ses-*/{anat,dwi} and derivatives/sub-*/ses-*/*_msk.nii.gz (infarct)."""
    raw = root / "rawdata" if (root / "rawdata").is_dir() else root
    derivatives = root / "derivatives"
    for sub in _case_dirs(raw):
        if not ISLES_SUB_RE.match(sub.name):
            continue
        source = CaseSource(external_id=sub.name, lesion_label_map={1: 4})
        for f in sorted(sub.rglob("*.nii*")):
            stem = strip_nifti_suffix(f.name)
            if stem is None:
                continue
            suffix = stem.rsplit("_", 1)[-1].lower()
            if suffix in ("dwi", "adc", "flair"):
                source.volumes[MODALITY_ALIASES[suffix]] = safe_child(root, f)
        if derivatives.is_dir():
            for f in sorted((derivatives / sub.name).rglob("*_msk.nii*")) if (derivatives / sub.name).is_dir() else []:
                source.masks["lesion"] = safe_child(root, f)
        if source.volumes:
            # ISLES masks are drawn on the DWI grid; FLAIR has its own grid.
            source.reference = "DWI" if "DWI" in source.volumes else _reference(source)
            yield source


LAYOUTS: dict[str, Callable[[Path], Iterator[CaseSource]]] = {
    "generic": generic,
    "radgenome": generic,
    "brats2021": brats2021,
    "brats2023": brats2023,
    "isles2022": isles2022,
}
