import json

import numpy as np
import pytest

from inference.ml.checkpoints import read_checkpoint
from inference.ml.training import TrainingStateMismatch, train

from .conftest import TINY_CONFIG


def test_loss_falls_within_a_few_steps(tmp_path, tiny_dataset, tiny_schema):
    config = TINY_CONFIG.replace(epochs=6, patch_size=(16, 16, 16))
    result = train(config, tiny_dataset[:4], tmp_path / "run", schema=tiny_schema, resume=False)
    losses = result.losses
    assert len(losses) == 6
    assert np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2])
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3, 4, 5, 6]


def test_checkpoint_carries_schema_spacing_modalities_and_data_hash(tmp_path, tiny_dataset, tiny_schema):
    config = TINY_CONFIG.replace(epochs=1, patch_size=(16, 16, 16))
    result = train(config, tiny_dataset[:2], tmp_path / "run", schema=tiny_schema, val_cases=tiny_dataset[2:3])
    meta = read_checkpoint(result.best_checkpoint, expected_schema=tiny_schema).metadata
    assert meta.spacing_mm == (2.0, 2.0, 2.0)
    assert meta.modalities == ("T1", "T2", "FLAIR")
    assert meta.structure_label_ids == (1, 2, 3, 4)
    assert meta.training_cases == 2 and len(meta.training_data_hash) == 64
    assert {"train_loss", "val_structure_dice", "val_lesion_dice"} <= set(meta.metrics)
    assert (tmp_path / "run" / "config.json").is_file()


def test_a_killed_run_resumes_from_its_last_epoch(tmp_path, tiny_dataset, tiny_schema):
    config = TINY_CONFIG.replace(epochs=3, patch_size=(16, 16, 16))
    steps = {"n": 0}

    def stop_in_epoch_two() -> bool:
        steps["n"] += 1
        return steps["n"] > 4  # 3 steps per epoch: dies in the middle of epoch 2

    first = train(config, tiny_dataset, tmp_path / "run", schema=tiny_schema, should_stop=stop_in_epoch_two)
    assert first.stopped_early and [r.epoch for r in first.history] == [1]
    resumed = train(config, tiny_dataset, tmp_path / "run", schema=tiny_schema)
    assert resumed.resumed_from_epoch == 1
    assert [r.epoch for r in resumed.history] == [1, 2, 3]

    uninterrupted = train(config, tiny_dataset, tmp_path / "fresh", schema=tiny_schema)
    assert resumed.losses == pytest.approx(uninterrupted.losses, rel=1e-4)


def test_preprocessing_in_worker_processes_trains_the_same_model(tmp_path, tiny_dataset, tiny_schema):
    config = TINY_CONFIG.replace(epochs=2, patch_size=(16, 16, 16))
    serial = train(config, tiny_dataset[:4], tmp_path / "serial", schema=tiny_schema, cache_dir=tmp_path / "c1")
    parallel = train(
        config,
        tiny_dataset[:4],
        tmp_path / "parallel",
        schema=tiny_schema,
        cache_dir=tmp_path / "c2",
        prepare_workers=2,
    )
    assert parallel.losses == pytest.approx(serial.losses, rel=1e-5)
    assert parallel.metadata.training_data_hash == serial.metadata.training_data_hash
    assert len(list((tmp_path / "c2").glob("*.npz"))) == 4


def test_resume_refuses_a_run_made_with_another_config(tmp_path, tiny_dataset, tiny_schema):
    config = TINY_CONFIG.replace(epochs=1, patch_size=(16, 16, 16))
    train(config, tiny_dataset[:2], tmp_path / "run", schema=tiny_schema)
    with pytest.raises(TrainingStateMismatch, match="another config"):
        train(config.replace(learning_rate=1e-3), tiny_dataset[:2], tmp_path / "run", schema=tiny_schema)


def test_fine_tuning_starts_from_a_parent_and_records_it(tmp_path, tiny_dataset, tiny_schema):
    config = TINY_CONFIG.replace(epochs=1, patch_size=(16, 16, 16))
    parent = train(config, tiny_dataset[:2], tmp_path / "parent", schema=tiny_schema)
    child = train(
        config.replace(learning_rate=1e-3),
        tiny_dataset[2:4],
        tmp_path / "child",
        schema=tiny_schema,
        init_from=parent.best_checkpoint,
    )
    assert child.metadata.parent_model_id == parent.metadata.model_id
    wider = config.replace(channels=(8, 16, 64))
    with pytest.raises(TrainingStateMismatch, match="architecture"):
        train(wider, tiny_dataset[:2], tmp_path / "wider", schema=tiny_schema, init_from=parent.best_checkpoint)
    # Weights learnt on one intensity normalisation read the other's inputs wrongly.
    legacy = config.replace(normalisation="clipped")
    with pytest.raises(TrainingStateMismatch, match="normalisation"):
        train(legacy, tiny_dataset[:2], tmp_path / "legacy", schema=tiny_schema, init_from=parent.best_checkpoint)


def test_pseudo_labelled_cases_are_drawn_in_proportion_to_their_confidence():
    from types import SimpleNamespace

    import numpy as np

    from inference.ml.training import _epoch_order

    cases = [SimpleNamespace(weight=1.0)] * 2 + [SimpleNamespace(weight=0.1)] * 2
    draws = np.concatenate([_epoch_order(cases, np.random.default_rng(i)) for i in range(500)])
    counts = np.bincount(draws, minlength=4) / len(draws)
    assert counts[0] > 4 * counts[2] and counts[1] > 4 * counts[3]
    equal = [SimpleNamespace(weight=1.0)] * 4
    assert sorted(_epoch_order(equal, np.random.default_rng(0))) == [0, 1, 2, 3]


def test_fine_tuning_keeps_the_parents_calibrated_post_processing(tmp_path, tiny_dataset, tiny_schema):
    from dataclasses import replace

    from inference.ml.checkpoints import read_checkpoint, save_checkpoint

    config = TINY_CONFIG.replace(epochs=1, patch_size=(16, 16, 16))
    parent = train(config, tiny_dataset[:2], tmp_path / "parent", schema=tiny_schema)
    loaded = read_checkpoint(parent.best_checkpoint)
    calibrated = {"lesion_threshold": 0.4, "min_lesion_volume_mm3": 50.0, "calibration_val_lesion_dice": 0.8}
    save_checkpoint(
        tmp_path / "calibrated.pt",
        metadata=replace(loaded.metadata, postprocess=calibrated),
        model_state=loaded.model_state,
    )
    child = train(
        config, tiny_dataset[2:4], tmp_path / "child", schema=tiny_schema, init_from=tmp_path / "calibrated.pt"
    )
    kept = read_checkpoint(child.last_checkpoint).metadata.postprocess
    assert kept == {"lesion_threshold": 0.4, "min_lesion_volume_mm3": 50.0}
    fresh = train(config, tiny_dataset[:2], tmp_path / "fresh", schema=tiny_schema)
    assert read_checkpoint(fresh.last_checkpoint).metadata.postprocess == {}


def test_fine_tuning_warms_up_to_a_share_of_the_rate():
    from inference.ml.training import _learning_rate

    config = TINY_CONFIG.replace(learning_rate=1e-2, fine_tune_lr_scale=0.1, fine_tune_warmup=0.1)
    scratch = [_learning_rate(config, step, 100) for step in range(100)]
    tuned = [_learning_rate(config, step, 100, fine_tune=True) for step in range(100)]
    assert scratch[0] == 1e-2  # training from scratch is untouched
    assert tuned[0] == pytest.approx(1e-2 * 0.1 / 10)  # one tenth of the way up the ramp
    assert tuned[:10] == sorted(tuned[:10])
    assert tuned[9] == pytest.approx(0.1 * scratch[9])  # the ramp ends after a tenth of the steps
    assert tuned[50] == pytest.approx(0.1 * scratch[50])
    # Checkpoints from before these settings fine-tune as they always did: full rate, no ramp.
    legacy = TINY_CONFIG.replace(learning_rate=1e-2)
    assert [_learning_rate(legacy, s, 100, fine_tune=True) for s in range(100)] == scratch
    with pytest.raises(ValueError, match="fine_tune_lr_scale"):
        TINY_CONFIG.replace(fine_tune_lr_scale=0.0)
