"""DICOM series → NIfTI with dcm2niix, keeping no identifier.

dcm2niix's anonymised sidecar (``-ba y``) still leaks the institution and acquisition time, and its
default filename pattern embeds dates, so we choose the filename ourselves (series number only),
discard the sidecar after reading the series description, and the case store scrubs the NIfTI
header's text fields on import anyway.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from annotations.importers.layouts import CaseSource, ImportPathError, safe_child

# Series descriptions → modality, most specific first.
SERIES_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ADC", re.compile(r"\badc\b|apparent", re.I)),
    ("DWI", re.compile(r"\bdwi\b|diffusion|trace|\bb1000\b", re.I)),
    ("FLAIR", re.compile(r"flair|t2[ _-]?f\b|dark[ _-]?fluid", re.I)),
    ("T1CE", re.compile(r"t1.*(\+c|ce\b|post|gd|gad|contrast|mprage.*gd)|t1c\b", re.I)),
    ("T2", re.compile(r"\bt2\b|t2w|t2[ _-]?tse|t2[ _-]?fse", re.I)),
    ("T1", re.compile(r"\bt1\b|t1w|mprage|spgr|tfl", re.I)),
]


def dcm2niix_path() -> str:
    path = shutil.which("dcm2niix")
    if path is None:
        raise ImportPathError("dcm2niix is not installed; install the Debian package dcm2niix to import DICOM")
    return path


def classify_series(description: str) -> str | None:
    for modality, pattern in SERIES_PATTERNS:
        if pattern.search(description):
            return modality
    return None


def convert_case(case_dir: Path, out_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Convert every series under ``case_dir``; returns modality → NIfTI path and problems found."""
    result = subprocess.run(
        [dcm2niix_path(), "-z", "y", "-ba", "y", "-b", "y", "-f", "series%s", "-o", str(out_dir), str(case_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode not in (0, 8):  # 8: some files were not DICOM, which a folder of series may hold
        raise ImportPathError(f"dcm2niix could not convert {case_dir.name}: {result.stderr.strip()[-300:]}")
    found: dict[str, Path] = {}
    problems: list[str] = []
    for nii in sorted(out_dir.glob("*.nii.gz")):
        sidecar = nii.with_name(nii.name[: -len(".nii.gz")] + ".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        description = " ".join(str(meta.get(k, "")) for k in ("SeriesDescription", "ProtocolName"))
        modality = classify_series(description)
        if modality is None:
            problems.append(f"a series described as {description.strip()!r} matches no modality; skipped")
        elif modality in found:
            problems.append(f"two series look like {modality}; kept the first")
        else:
            found[modality] = nii
        sidecar.unlink(missing_ok=True)  # holds institution and times: never kept
    return found, problems


def dicom(root: Path) -> Iterator[CaseSource]:
    """``ROOT/<case>/**`` with DICOM files; each case folder is converted in a private temp folder."""
    for case_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        safe_child(root, case_dir)
        with tempfile.TemporaryDirectory(prefix="brainscribe-dicom-") as tmp:
            source = CaseSource(external_id=case_dir.name)
            try:
                source.volumes, source.problems = convert_case(case_dir, Path(tmp))
            except (ImportPathError, subprocess.TimeoutExpired) as exc:
                source.problems.append(str(exc))
            if source.volumes:
                source.reference = next(m for m in ("T1", "T1CE", "FLAIR", "T2", "DWI", "ADC") if m in source.volumes)
            yield source
