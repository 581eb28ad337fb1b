"""The demo label schema: written like Hammers, covering AAL3, with sides and report words."""

import csv
from pathlib import Path

from annotations.demo import schema

SCHEMAS = Path(schema.__file__).resolve().parents[1] / "schemas"


def test_csv_has_the_hammers_header_and_matches_the_code():
    with (SCHEMAS / "demo-aal3.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    with (SCHEMAS / "hammers-n30r95.csv").open(newline="") as fh:
        hammers_header = next(csv.reader(fh))
    assert rows[0] == hammers_header == ["index", "name", "side", "coarse_region"]
    assert schema.read_schema_csv(SCHEMAS / "demo-aal3.csv") == list(schema.STRUCTURES)


def test_indices_are_unique_and_sides_are_valid():
    indices = [s.index for s in schema.STRUCTURES]
    assert indices == sorted(set(indices)) and indices[0] == 1
    assert {s.side for s in schema.STRUCTURES} == {"left", "right", "midline"}


def test_coarse_regions_reuse_the_hammers_words_plus_vermis():
    with (SCHEMAS / "hammers-n30r95.csv").open(newline="") as fh:
        hammers_words = {r["coarse_region"] for r in csv.DictReader(fh)}
    demo_words = {s.coarse_region for s in schema.STRUCTURES}
    assert demo_words - hammers_words == {"vermis"}
    for word in (
        "frontal lobe",
        "parietal lobe",
        "temporal lobe",
        "occipital lobe",
        "insular lobe",
        "cingulate",
        "hippocampus",
        "amygdala",
        "basal ganglia",
        "thalamus",
        "cerebellum",
        "brainstem",
        "lateral ventricle",
    ):
        assert word in demo_words


def test_every_aal3_region_maps_to_a_structure_with_the_aal3_side():
    mapping = schema.aal3_to_demo()
    assert set(mapping) == set(range(1, 171))
    for aal, demo in mapping.items():
        side = schema.BY_INDEX[demo].side
        if side != "midline":
            assert side == ("left" if aal % 2 else "right"), aal
