"""RadGenome-Brain report JSON → grounded sentences for existing cases.

The four files (``modal_wise_finding.json``, ``global_finding.json``, ``impression.json``,
``train_val_test_split.json``) are keyed by case id. When the folder also holds our grounded
``cases/<id>/report.json`` (the demo generator and our own export write it), its sentences carry
their region label ids directly; otherwise sentences are grounded by the region and side words they
name, matched against the project's label schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotations.importers.layouts import ImportPathError, safe_child

REPORT_FILES = ("modal_wise_finding.json", "global_finding.json", "impression.json")
SPLIT_FILE = "train_val_test_split.json"
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
MAX_JSON_BYTES = 256 * 1024 * 1024


@dataclass
class ReportSource:
    sentences: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RegionWords:
    """Structure labels of a schema grouped by (coarse region, side), for grounding free text."""

    groups: dict[tuple[str, str], list[int]]

    @classmethod
    def from_labels(cls, labels: Iterable[tuple[int, str, str]]) -> RegionWords:
        groups: dict[tuple[str, str], list[int]] = {}
        for index, side, region in labels:
            if region:
                groups.setdefault((region.lower(), side), []).append(index)
        return cls(groups)

    def ground(self, text: str) -> list[int]:
        lowered = text.lower()
        sides = [s for s in ("left", "right") if re.search(rf"\b{s}\b", lowered)] or ["left", "right"]
        if "bilateral" in lowered or "both" in lowered:
            sides = ["left", "right"]
        found: set[int] = set()
        for (region, side), ids in self.groups.items():
            if re.search(rf"\b{re.escape(region)}s?\b", lowered) and (side in sides or side in ("midline", "")):
                found.update(ids)
        return sorted(found)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text.strip()) if s.strip()]


def _load_json(root: Path, name: str) -> Any:
    path = root / name
    if not path.exists():
        return None
    path = safe_child(root, path)
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ImportPathError(f"{name} is larger than {MAX_JSON_BYTES // 2**20} MB")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportPathError(f"{name} is not valid JSON ({exc})") from None


def has_reports(root: Path) -> bool:
    return any((root / name).exists() for name in REPORT_FILES)


def load_splits(root: Path) -> dict[str, str]:
    data = _load_json(root, SPLIT_FILE) or {}
    if not isinstance(data, dict):
        raise ImportPathError(f"{SPLIT_FILE} must map split names to lists of case ids")
    out: dict[str, str] = {}
    for name, ids in data.items():
        split = SPLIT_ALIASES.get(str(name).lower())
        if split and isinstance(ids, list):
            out.update({str(i): split for i in ids})
    return out


def load_reports(root: Path, regions: RegionWords) -> dict[str, ReportSource]:
    """Reports for every case id the files mention."""
    modal = _load_json(root, "modal_wise_finding.json") or {}
    global_ = _load_json(root, "global_finding.json") or {}
    impression = _load_json(root, "impression.json") or {}
    for name, data in (
        ("modal_wise_finding.json", modal),
        ("global_finding.json", global_),
        ("impression.json", impression),
    ):
        if not isinstance(data, dict):
            raise ImportPathError(f"{name} must be an object keyed by case id")
    reports: dict[str, ReportSource] = {}
    for case_id in sorted(set(modal) | set(global_) | set(impression)):
        grounded = root / "cases" / case_id / "report.json"
        if grounded.exists():
            data = _load_json(root, f"cases/{case_id}/report.json")
            if isinstance(data, dict):
                data = data.get("sentences", [])
            if not isinstance(data, list):
                raise ImportPathError(f"cases/{case_id}/report.json must hold a list of sentences")
            reports[case_id] = ReportSource(sentences=[_grounded_sentence(s) for s in data if isinstance(s, dict)])
            continue
        source = ReportSource()
        findings = modal.get(case_id) or {}
        if isinstance(findings, dict):
            for modality, text in findings.items():
                for sentence in split_sentences(str(text)):
                    source.sentences.append(_free_sentence(sentence, "lesion", regions, modality=str(modality)))
        for sentence in split_sentences(str(global_.get(case_id) or "")):
            source.sentences.append(_free_sentence(sentence, "global", regions))
        for sentence in split_sentences(str(impression.get(case_id) or "")):
            source.sentences.append(_free_sentence(sentence, "impression", regions))
        reports[case_id] = source
    return reports


def _grounded_sentence(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": str(raw.get("text", "")),
        "kind": raw.get("kind") or "lesion",
        "modality": raw.get("modality") or "",
        "region_label_ids": [int(i) for i in raw.get("region_label_ids") or []],
        "lesion_component": raw.get("lesion_component"),
        "features": raw.get("features") if isinstance(raw.get("features"), dict) else {},
    }


def _free_sentence(text: str, kind: str, regions: RegionWords, modality: str = "") -> dict[str, Any]:
    return {
        "text": text,
        "kind": kind,
        "modality": modality,
        "region_label_ids": regions.ground(text),
        "lesion_component": None,
        "features": {},
    }
