import hashlib
import json

import pytest
import torch

from inference.ml.checkpoints import (
    CheckpointError,
    CheckpointMetadata,
    SchemaMismatchError,
    export_for_inference,
    read_checkpoint,
    save_checkpoint,
)
from inference.ml.config import LEGACY_VALUES, SegmentationConfig
from inference.ml.networks import build_network
from inference.ml.predict import load_model
from inference.ml.schema import schema_from_rows

from .conftest import TINY_CONFIG, TINY_SCHEMA_ROWS


def _save(path, schema):
    network = build_network(TINY_CONFIG, len(schema.indices) + 1, 6)
    metadata = CheckpointMetadata(
        config=TINY_CONFIG,
        schema_slug=schema.slug,
        schema_digest=schema.digest,
        structure_label_ids=schema.indices,
        lesion_label_ids=(1, 2, 3, 4, 5),
        training_data_hash="ab" * 32,
        training_cases=3,
        epoch=2,
        metrics={"val_lesion_dice": 0.5},
    )
    return save_checkpoint(
        path,
        metadata=metadata,
        model_state=network.state_dict(),
        training_state={"optimizer": {"state": {}, "param_groups": []}},
    )


def test_checkpoint_round_trips_its_metadata(tmp_path, tiny_schema):
    path = _save(tmp_path / "model.pt", tiny_schema)
    loaded = read_checkpoint(path, expected_schema=tiny_schema)
    assert loaded.metadata.schema_slug == "tiny-test"
    assert loaded.metadata.modalities == TINY_CONFIG.modalities
    assert loaded.metadata.spacing_mm == TINY_CONFIG.spacing_mm
    assert loaded.metadata.metrics == {"val_lesion_dice": 0.5}
    assert loaded.metadata.model_id.startswith(f"seg-{TINY_CONFIG.digest[:8]}-abababab-e002")
    small = export_for_inference(path, tmp_path / "small.pt")
    assert read_checkpoint(small).training_state is None


def test_checkpoint_from_another_schema_is_refused_naming_both(tmp_path, tiny_schema):
    path = _save(tmp_path / "model.pt", tiny_schema)
    other = schema_from_rows("hammers-n30r95", [(1, "hippocampus R", "right", "hippocampus")])
    with pytest.raises(SchemaMismatchError) as excinfo:
        load_model(path, expected_schema=other)
    message = str(excinfo.value)
    assert "'tiny-test'" in message and "'hammers-n30r95'" in message


def test_same_slug_with_a_changed_label_table_is_refused(tmp_path, tiny_schema):
    path = _save(tmp_path / "model.pt", tiny_schema)
    edited = schema_from_rows("tiny-test", [*TINY_SCHEMA_ROWS, (5, "insula L", "left", "insular lobe")])
    with pytest.raises(SchemaMismatchError, match="earlier version"):
        read_checkpoint(path, expected_schema=edited)


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_not_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "brainscribe-segmentation", "metadata": _Payload()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        read_checkpoint(path)


def test_other_files_are_refused_with_a_sentence(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a Brainscribe segmentation checkpoint"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")


def test_a_checkpoint_from_before_the_normalisation_setting_keeps_its_behaviour_and_id(tmp_path, tiny_schema):
    path = _save(tmp_path / "model.pt", tiny_schema)
    stored = read_checkpoint(path).metadata.to_dict()
    for key in LEGACY_VALUES:  # as every checkpoint made before these settings existed
        del stored["config"][key]
    old_text = json.dumps(stored["config"], sort_keys=True, separators=(",", ":"))
    old_digest = hashlib.sha256(old_text.encode()).hexdigest()

    metadata = CheckpointMetadata.from_dict(stored)
    assert metadata.config.normalisation == "clipped"
    assert metadata.config.fine_tune_lr_scale == 1.0 and metadata.config.fine_tune_warmup == 0.0
    assert metadata.config.digest == old_digest  # so its model id is the one it always had
    # A config file is read against today's defaults; the two normalisations are different models.
    assert SegmentationConfig.from_dict(stored["config"]).normalisation == "zscore"
    assert metadata.config.digest != metadata.config.replace(normalisation="zscore").digest
    with pytest.raises(ValueError, match="normalisation"):
        SegmentationConfig(normalisation="minmax")
