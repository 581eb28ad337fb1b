"""Label schemas as the ML core sees them: plain rows read from the project's CSV files.

The Django app owns the database copy of a schema; the ML core only needs the index → (side,
coarse region) table to ground sentences and a digest to refuse a checkpoint trained for another
schema. Reading the CSV here (instead of importing the app) keeps this package Django-free.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

SIDES = ("left", "right", "midline")


@dataclass(frozen=True)
class StructureLabel:
    index: int
    name: str
    side: str  # left | right | midline
    coarse_region: str  # the region word a report uses, e.g. "frontal lobe"


@dataclass(frozen=True)
class LesionLabel:
    index: int
    name: str
    finding: str


@dataclass(frozen=True)
class LabelSchema:
    """An anatomical label schema: the structures a structure mask may hold (0 is background)."""

    slug: str
    labels: tuple[StructureLabel, ...]

    def __post_init__(self) -> None:
        indices = [label.index for label in self.labels]
        if len(set(indices)) != len(indices):
            raise ValueError(f"schema {self.slug!r} repeats a label index")
        if any(index <= 0 for index in indices):
            raise ValueError(f"schema {self.slug!r} uses index 0 or below; 0 is background")
        for label in self.labels:
            if label.side not in SIDES:
                raise ValueError(f"schema {self.slug!r}: label {label.index} has side {label.side!r}")

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(sorted(label.index for label in self.labels))

    @cached_property
    def digest(self) -> str:
        """Content hash: two schemas with the same slug but different tables must not match."""
        rows = sorted((lab.index, lab.name, lab.side, lab.coarse_region) for lab in self.labels)
        text = "\n".join(",".join(str(v) for v in row) for row in rows)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def label(self, index: int) -> StructureLabel:
        return self._by_index[index]

    def get(self, index: int) -> StructureLabel | None:
        return self._by_index.get(index)

    @cached_property
    def _by_index(self) -> Mapping[int, StructureLabel]:
        return {label.index: label for label in self.labels}

    def coarse_regions(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for label in sorted(self.labels, key=lambda lab: lab.index):
            seen.setdefault(label.coarse_region, None)
        return tuple(seen)

    def labels_in_region(self, coarse_region: str, side: str | None = None) -> tuple[int, ...]:
        return tuple(
            lab.index
            for lab in self.labels
            if lab.coarse_region == coarse_region and (side is None or lab.side == side)
        )

    def describe(self) -> str:
        return f"'{self.slug}' ({len(self.labels)} structures, digest {self.digest[:12]})"


def load_schema(path: str | Path, slug: str | None = None) -> LabelSchema:
    """Read an ``index,name,side,coarse_region`` CSV; the slug defaults to the file stem."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    labels = []
    for row in rows:
        labels.append(
            StructureLabel(
                index=int(row["index"]),
                name=row["name"].strip(),
                side=(row.get("side") or "midline").strip().lower() or "midline",
                coarse_region=(row.get("coarse_region") or row["name"]).strip(),
            )
        )
    return LabelSchema(slug=slug or path.stem, labels=tuple(labels))


def schema_from_rows(slug: str, rows: Iterable[tuple[int, str, str, str]]) -> LabelSchema:
    """Build a schema from ``(index, name, side, coarse_region)`` rows (the Django side's export)."""
    return LabelSchema(slug=slug, labels=tuple(StructureLabel(int(i), n, s, r) for i, n, s, r in rows))


# Mirrors annotations/schemas/lesions.csv (a test keeps the two in step); the ML core needs it
# without reading the Django app's files at import time.
DEFAULT_LESION_LABELS: tuple[LesionLabel, ...] = (
    LesionLabel(1, "necrosis", "necrotic or non-enhancing tumour core"),
    LesionLabel(2, "edema", "peritumoral oedema"),
    LesionLabel(3, "enhancing", "enhancing tumour"),
    LesionLabel(4, "infarct", "acute infarct with restricted diffusion"),
    LesionLabel(5, "wmh", "white matter hyperintensity"),
)
LESION_NECROSIS, LESION_EDEMA, LESION_ENHANCING, LESION_INFARCT, LESION_WMH = 1, 2, 3, 4, 5


def load_lesion_labels(path: str | Path) -> tuple[LesionLabel, ...]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return tuple(
            LesionLabel(int(row["index"]), row["name"].strip(), row.get("finding", "").strip())
            for row in csv.DictReader(handle)
        )
