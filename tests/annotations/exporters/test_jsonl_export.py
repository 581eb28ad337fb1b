"""Grounded JSONL: one line per approved sentence, with its regions and the files it is grounded in."""

import json

from annotations.services.snapshots import snapshot_freeze

from .conftest import SENTENCES, export_folder


def test_one_line_per_sentence_with_regions_and_paths(project, cohort, make_approved, tmp_path):
    make_approved("EMPTY-1", seed=9, sentences=[])
    snapshot = snapshot_freeze(project=project, user=None)
    outcome = export_folder(snapshot, "jsonl", tmp_path)
    assert outcome.skipped == {"EMPTY-1": "the approved report has no sentences"}
    lines = [json.loads(line) for line in (tmp_path / "sentences.jsonl").read_text().splitlines()]
    kept = [s for s in SENTENCES if s.get("status") != "rejected"]
    assert len(lines) == len(kept) * len(cohort)
    first = lines[0]
    assert first["case"] == "GLI-001" and first["split"] == "train" and first["sentence_index"] == 0
    assert first["text"] == kept[0]["text"] and first["region_label_ids"] == [1]
    assert first["region_names"] == ["frontal lobe L"] and first["lesion_component"] == 1
    assert first["status"] == "added"
    assert lines[1]["modality"] == "FLAIR"
    for line in lines:
        for path in [*line["images"].values(), *line["masks"].values()]:
            assert (tmp_path / path).is_file(), path
    assert set(lines[0]["images"]) == {"T1", "T1CE", "T2", "FLAIR"}
    assert set(lines[0]["masks"]) == {"lesion", "structure"}
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["lesion"][0]["name"] == "necrosis"
