"""The demo label schema: AAL3 regions grouped into the structures a radiology report names.

AAL3 labels grey matter only and has no ventricles, brainstem or corpus callosum, so those are
derived from the template's tissue maps (see ``anatomy.py``) and the white matter is handed to the
nearest grey-matter structure, as the Hammers atlas does for its lobes. Grouping follows the
Hammers n30r95 schema's coarse-region words so that reports from both schemas read alike.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SCHEMA_SLUG = "demo-aal3"
SCHEMA_CSV = Path(__file__).resolve().parents[1] / "schemas" / f"{SCHEMA_SLUG}.csv"


@dataclass(frozen=True)
class Structure:
    index: int
    name: str
    side: str  # left | right | midline
    coarse_region: str


def _pair(first: int, stem: str, coarse: str) -> list[Structure]:
    return [Structure(first, f"{stem} L", "left", coarse), Structure(first + 1, f"{stem} R", "right", coarse)]


STRUCTURES: tuple[Structure, ...] = tuple(
    _pair(1, "frontal lobe", "frontal lobe")
    + _pair(3, "parietal lobe", "parietal lobe")
    + _pair(5, "temporal lobe", "temporal lobe")
    + _pair(7, "occipital lobe", "occipital lobe")
    + _pair(9, "insula", "insular lobe")
    + _pair(11, "cingulate gyrus", "cingulate")
    + _pair(13, "hippocampus", "hippocampus")
    + _pair(15, "amygdala", "amygdala")
    + _pair(17, "caudate nucleus", "basal ganglia")
    + _pair(19, "putamen", "basal ganglia")
    + _pair(21, "pallidum", "basal ganglia")
    + _pair(23, "thalamus", "thalamus")
    + _pair(25, "cerebellar hemisphere", "cerebellum")
    + _pair(27, "lateral ventricle", "lateral ventricle")
    + [
        Structure(29, "cerebellar vermis", "midline", "vermis"),
        Structure(30, "brainstem", "midline", "brainstem"),
        Structure(31, "third ventricle", "midline", "third ventricle"),
        Structure(32, "corpus callosum", "midline", "corpus callosum"),
    ]
)
BY_INDEX: dict[int, Structure] = {s.index: s for s in STRUCTURES}
BY_NAME: dict[str, Structure] = {s.name: s for s in STRUCTURES}

LATERAL_VENTRICLE = (27, 28)
VERMIS, BRAINSTEM, THIRD_VENTRICLE, CORPUS_CALLOSUM = 29, 30, 31, 32
CSF_SPACES = (27, 28, 31)
# Lobes whose white matter a lesion is said to lie in; the rest are grey-matter nuclei or midline.
CEREBRAL_LOBES = (1, 2, 3, 4, 5, 6, 7, 8)

# AAL3 index ranges (inclusive) -> demo stem. AAL3 odd indices are left, even right, except the
# vermis (113-120) and the raphe nuclei (169, 170), which have no side.
_AAL3_GROUPS: list[tuple[tuple[int, int], str]] = [
    ((1, 32), "frontal lobe"),  # precentral, frontal gyri, Rolandic operculum, SMA, olfactory, OFC
    ((33, 34), "insula"),
    ((35, 40), "cingulate gyrus"),
    ((41, 42), "hippocampus"),
    ((43, 44), "temporal lobe"),  # parahippocampal gyrus, as Hammers files it
    ((45, 46), "amygdala"),
    ((47, 58), "occipital lobe"),
    ((59, 60), "temporal lobe"),  # fusiform gyrus, as Hammers files it
    ((61, 72), "parietal lobe"),  # postcentral, parietal, supramarginal, angular, precuneus
    ((73, 74), "frontal lobe"),  # paracentral lobule (mostly motor/premotor cortex)
    ((75, 76), "caudate nucleus"),
    ((77, 78), "putamen"),
    ((79, 80), "pallidum"),
    ((81, 82), "thalamus"),
    ((83, 94), "temporal lobe"),
    ((95, 112), "cerebellar hemisphere"),
    ((113, 120), "cerebellar vermis"),
    ((121, 150), "thalamus"),  # thalamic nuclei
    ((151, 156), "cingulate gyrus"),  # anterior cingulate subdivisions
    ((157, 158), "caudate nucleus"),  # nucleus accumbens, ventral striatum
    ((159, 170), "brainstem"),  # VTA, substantia nigra, red nucleus, locus coeruleus, raphe
]


def aal3_to_demo() -> dict[int, int]:
    """Map every AAL3 index to a demo label; sides come from AAL3's odd/even convention."""
    mapping: dict[int, int] = {}
    for (lo, hi), stem in _AAL3_GROUPS:
        for aal in range(lo, hi + 1):
            if stem in ("cerebellar vermis", "brainstem"):
                mapping[aal] = BY_NAME[stem].index
            else:
                mapping[aal] = BY_NAME[f"{stem} {'L' if aal % 2 else 'R'}"].index
    return mapping


def write_schema_csv(path: Path = SCHEMA_CSV) -> Path:
    """Write the schema in the same CSV form as ``hammers-n30r95.csv`` so one importer reads both."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["index", "name", "side", "coarse_region"])
        for s in STRUCTURES:
            writer.writerow([s.index, s.name, s.side, s.coarse_region])
    return path


def read_schema_csv(path: Path = SCHEMA_CSV) -> list[Structure]:
    with path.open(newline="") as fh:
        return [Structure(int(r["index"]), r["name"], r["side"], r["coarse_region"]) for r in csv.DictReader(fh)]
