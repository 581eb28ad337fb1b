"""Inference on non-RAS inputs, compared with the ground truth of the same grid (not with itself)."""

import nibabel as nib
import numpy as np
import pytest

from inference.ml.predict import load_model, predict_case

from .conftest import dice, make_case, to_las, to_oblique

LEFT, RIGHT = (1, 3), (2, 4)


@pytest.fixture(scope="module")
def tiny_model(tiny_model_path, tiny_schema):
    return load_model(tiny_model_path, expected_schema=tiny_schema, device="cpu")


def _scores(prediction, truth_structure, truth_lesion):
    structure = np.asarray(prediction.structure.dataobj)
    lesion = np.asarray(prediction.lesion.dataobj)
    truth_s = np.asarray(truth_structure.dataobj)
    truth_l = np.asarray(truth_lesion.dataobj)
    return {
        "lesion": dice(lesion > 0, truth_l > 0),
        "left": dice(np.isin(structure, LEFT), np.isin(truth_s, LEFT)),
        "right": dice(np.isin(structure, RIGHT), np.isin(truth_s, RIGHT)),
    }


@pytest.mark.parametrize("orientation", ["RAS", "LAS", "oblique"])
def test_masks_come_back_on_the_input_grid_aligned_with_the_anatomy(orientation, tiny_model):
    case = make_case(42, lesion_side="left")
    if orientation == "LAS":
        volumes = {k: to_las(v) for k, v in case.volumes.items()}
        truth_structure, truth_lesion = to_las(case.structure), to_las(case.lesion)
    elif orientation == "oblique":
        oblique = to_oblique(case)
        volumes, truth_structure, truth_lesion = oblique.volumes, oblique.structure, oblique.lesion
    else:
        volumes, truth_structure, truth_lesion = case.volumes, case.structure, case.lesion
    prediction = predict_case(tiny_model, volumes)
    reference = volumes["T1"]
    for image in (prediction.structure, prediction.lesion):
        assert image.shape == reference.shape
        assert np.allclose(image.affine, reference.affine)
    scores = _scores(prediction, truth_structure, truth_lesion)
    # A tiny model trained for seconds: the bar is "aligned", not "accurate" — a flipped or
    # misplaced mask scores near 0 here.
    assert scores["lesion"] > 0.7, scores
    assert scores["left"] > 0.75 and scores["right"] > 0.75, scores


def test_a_case_with_missing_modalities_is_inferred(tiny_model):
    case = make_case(43, lesion_side="right")
    prediction = predict_case(tiny_model, {"FLAIR": case.volumes["FLAIR"]})
    assert prediction.missing_modalities == ("T1", "T2")
    assert prediction.reference_modality == "FLAIR"
    assert prediction.structure.shape == case.structure.shape
    scores = _scores(prediction, case.structure, case.lesion)
    assert scores["left"] > 0.7 and scores["right"] > 0.7, scores


def test_uncertainty_summary_and_mc_dropout(tiny_model):
    case = make_case(44)
    prediction = predict_case(tiny_model, case.volumes, mc_samples=2, keep_probability=True)
    summary = prediction.uncertainty
    assert summary.samples == 2 and summary.mutual_information is not None
    assert summary.mean_entropy_brain >= 0 and summary.expected_lesion_volume_ml > 0
    assert prediction.lesion_probability is not None
    assert prediction.lesion_probability.shape == prediction.model_grid.shape


def test_calibration_scores_every_setting_and_is_stored(tiny_model_path, tiny_dataset, tmp_path):
    import shutil

    from inference.ml.calibrate import lesion_dice_by_setting, main
    from inference.ml.checkpoints import read_checkpoint

    model = load_model(tiny_model_path, device="cpu")
    table = lesion_dice_by_setting(
        model,
        tiny_dataset[:2],
        thresholds=(0.5, 0.7),
        min_volumes_mm3=(10.0, 50.0),
        refinements=((0.0, False), (3.0, True)),
    )
    assert set(table) == {
        (t, v, m, trim) for t in (0.5, 0.7) for v in (10.0, 50.0) for m, trim in ((0.0, False), (3.0, True))
    }
    assert all(0.0 <= v.lesion_dice <= 1.0 and 0.0 <= v.healthy_false_positive <= 1.0 for v in table.values())

    copy = tmp_path / "model.pt"
    shutil.copy(tiny_model_path, copy)
    root = tiny_dataset[0].structure.parent.parent
    (root / "train_val_test_split.json").write_text('{"train": [], "val": ["case00", "case01"], "test": []}')
    assert main(["--model", str(copy), "--data", str(root)]) == 0
    post = read_checkpoint(copy).metadata.postprocess
    assert {"lesion_threshold", "min_lesion_volume_mm3"} <= set(post)
    # The cut-off was chosen under these inference settings, so they travel with it.
    assert post["overlap"] == 0.5 and post["mirror_lesion"] in (0.0, 1.0) and post["lesion_brain_reach_mm"] == 4.0
    assert post["lesion_refine_margin_mm"] in (0.0, 3.0) and post["lesion_refine_trim"] in (0.0, 1.0)
    assert main(["--model", str(copy), "--data", str(root), "--mirror"]) == 0
    assert read_checkpoint(copy).metadata.postprocess["mirror_lesion"] == 1.0
    assert main(["--model", str(copy), "--data", str(root), "--no-mirror", "--overlap", "0.25"]) == 0
    post = read_checkpoint(copy).metadata.postprocess
    assert post["overlap"] == 0.25 and post["mirror_lesion"] == 0.0
    assert main(["--model", str(copy), "--data", str(root), "--no-mirror", "--no-refine"]) == 0
    post = read_checkpoint(copy).metadata.postprocess
    assert post["lesion_refine_margin_mm"] == 0.0 and post["lesion_refine_trim"] == 0.0
    assert main(["--model", str(copy), "--data", str(root), "--no-mirror", "--refine"]) == 0
    assert read_checkpoint(copy).metadata.postprocess["lesion_refine_margin_mm"] == 3.0


def test_calibration_keeps_the_mirrored_pass_only_when_it_clearly_gains():
    from inference.ml.calibrate import SettingScore, choose

    def table(plain: float, mirrored: float) -> dict:
        return {
            (0.5, 20.0, False, 0.0, False): SettingScore(plain, 0.0),
            (0.5, 20.0, True, 0.0, False): SettingScore(mirrored, 0.0),
            (0.6, 20.0, False, 0.0, False): SettingScore(plain - 0.005, 0.0),
        }

    assert choose(table(0.850, 0.853)) == (0.5, 20.0, False, 0.0, False)  # a second network pass for noise
    assert choose(table(0.820, 0.853)) == (0.5, 20.0, True, 0.0, False)
    # Fewer false alarms in lesion-free cases come first, mirrored or not.
    noisy = {key: SettingScore(score.lesion_dice, 0.0 if key[2] else 0.5) for key, score in table(0.85, 0.853).items()}
    assert choose(noisy) == (0.5, 20.0, True, 0.0, False)


def test_calibration_refines_borders_only_when_it_clearly_gains_and_keeps_the_cut_off_near_its_default():
    from inference.ml.calibrate import SettingScore, choose

    def table(off: float, grow: float, trim: float) -> dict:
        return {
            (0.5, 20.0, False, 0.0, False): SettingScore(off, 0.0),
            (0.5, 20.0, False, 3.0, False): SettingScore(grow, 0.0),
            (0.5, 20.0, False, 3.0, True): SettingScore(trim, 0.0),
        }

    assert choose(table(0.850, 0.860, 0.865)) == (0.5, 20.0, False, 0.0, False)
    assert choose(table(0.850, 0.900, 0.915)) == (0.5, 20.0, False, 3.0, False)
    assert choose(table(0.850, 0.880, 0.940)) == (0.5, 20.0, False, 3.0, True)
    # A cut-off away from 0.5 costs detections; trimming only moves borders within the margin.
    raised = table(0.850, 0.903, 0.944) | {(0.8, 20.0, False, 3.0, False): SettingScore(0.934, 0.0)}
    assert choose(raised) == (0.5, 20.0, False, 3.0, True)


def test_calibration_refuses_an_overlap_outside_0_to_1_before_reading_anything(tmp_path, capsys):
    from inference.ml.calibrate import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tmp_path / "missing.pt"), "--data", str(tmp_path), "--overlap", "1.5"])
    assert exit_info.value.code == 2
    assert "--overlap must be at least 0 and below 1, got 1.5" in capsys.readouterr().err


def test_inference_settings_come_from_the_checkpoint_with_defaults_for_older_ones(tiny_model):
    from dataclasses import replace

    from inference.ml.predict import InferenceSettings

    meta = tiny_model.metadata
    old = InferenceSettings.of(replace(meta, postprocess={}))
    assert old == InferenceSettings(
        lesion_threshold=0.5,
        min_lesion_volume_mm3=meta.config.min_lesion_volume_mm3,
        overlap=meta.config.overlap,
        mirror_lesion=False,
    )
    assert old.lesion_refine_margin_mm == 0.0 and not old.lesion_refine_trim  # older checkpoints: borders as drawn
    stored = {"lesion_threshold": 0.6, "min_lesion_volume_mm3": 50.0, "overlap": 0.5, "mirror_lesion": 1.0}
    assert InferenceSettings.of(replace(meta, postprocess=stored)) == InferenceSettings(0.6, 50.0, 0.5, True)
    stored |= {"lesion_brain_reach_mm": 4.0, "lesion_refine_margin_mm": 3.0, "lesion_refine_trim": 1.0}
    assert InferenceSettings.of(replace(meta, postprocess=stored)) == InferenceSettings(
        0.6, 50.0, 0.5, True, 4.0, 3.0, True
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_mirrored_pass_is_flipped_back_onto_the_lesion(side, tiny_model):
    """The mirrored pass sees the lesion on the other side; flipped back wrongly, the average
    would halve p(lesion) on the lesion and put half of it on the healthy side."""
    from dataclasses import replace

    from inference.ml.predict import InferenceSettings, predict_prepared
    from inference.ml.preprocess import prepare_case

    case = make_case(45, lesion_side=side)
    mirrored_model = replace(tiny_model, metadata=replace(tiny_model.metadata, postprocess={"mirror_lesion": 1.0}))
    prediction = predict_case(mirrored_model, case.volumes)
    scores = _scores(prediction, case.structure, case.lesion)
    assert scores["lesion"] > 0.7, scores

    prepared = prepare_case(case.volumes, tiny_model.config)
    _, plain, _ = predict_prepared(tiny_model, prepared, settings=InferenceSettings(mirror_lesion=False))
    _, both, _ = predict_prepared(tiny_model, prepared, settings=InferenceSettings(mirror_lesion=True))
    assert not np.allclose(plain.numpy(), both.numpy()), "the mirrored pass changed nothing"
    # Averaging two views keeps the lesion where the single view put it.
    lesion_plain = (1 - plain[0]).numpy() > 0.5
    lesion_both = (1 - both[0]).numpy() > 0.5
    assert dice(lesion_both, lesion_plain) > 0.8

    # A caller can turn the stored mirrored pass off (MC-dropout scoring, where it doubles the cost).
    unmirrored = predict_case(mirrored_model, case.volumes, keep_probability=True, mirror_lesion=False)
    plain_only = predict_case(tiny_model, case.volumes, keep_probability=True)
    assert np.array_equal(unmirrored.lesion_probability, plain_only.lesion_probability)
    mirrored = predict_case(mirrored_model, case.volumes, keep_probability=True)
    assert not np.array_equal(unmirrored.lesion_probability, mirrored.lesion_probability)


def test_lesions_away_from_the_brain_are_dropped_whole():
    from inference.ml.postprocess import lesions_reaching

    brain = np.zeros((30, 30, 30), dtype=bool)
    brain[5:20, 5:20, 5:20] = True
    lesion = np.zeros_like(brain)
    lesion[10:14, 10:14, 10:14] = True  # inside the brain
    lesion[20:24, 8:12, 8:12] = True  # on its surface, mostly outside (a meningioma)
    lesion[26:29, 26:29, 26:29] = True  # 7 voxels beyond it on every axis, 12.1 in all (the skull base)
    kept = lesions_reaching(lesion, brain, reach_voxels=2)
    assert kept[10:14, 10:14, 10:14].all() and kept[20:24, 8:12, 8:12].all()  # kept whole, not trimmed
    assert not kept[26:29, 26:29, 26:29].any()
    assert not lesions_reaching(lesion, brain, reach_voxels=12)[26:29, 26:29, 26:29].any()
    assert lesions_reaching(lesion, brain, reach_voxels=13).sum() == lesion.sum()


def test_inference_drops_a_lesion_outside_the_predicted_brain(tiny_model):
    from dataclasses import replace

    import torch

    from inference.ml.predict import InferenceSettings, _drop_lesions_away_from_brain

    shape = (24, 24, 24)
    structure = torch.zeros((5, *shape))
    structure[0] = 1.0
    structure[:, 4:14, 4:14, 4:14] = 0.0
    structure[1, 4:14, 4:14, 4:14] = 1.0  # the brain
    lesion = torch.zeros((6, *shape))
    lesion[0] = 1.0
    for box in ((slice(6, 9),) * 3, (slice(19, 22),) * 3):
        lesion[(0, *box)] = 0.1
        lesion[(1, *box)] = 0.9
    settings = InferenceSettings(lesion_brain_reach_mm=4.0)
    _drop_lesions_away_from_brain(structure, lesion, settings, tiny_model.config)
    assert (lesion[1, 6:9, 6:9, 6:9] == 0.9).all()
    assert (lesion[0, 18:23, 18:23, 18:23] == 1.0).all() and lesion[1:, 18:23, 18:23, 18:23].sum() == 0
    # Stored with the checkpoint by calibration; older checkpoints keep every component.
    meta = tiny_model.metadata
    assert InferenceSettings.of(replace(meta, postprocess={})).lesion_brain_reach_mm == 0.0
    stored = InferenceSettings.of(replace(meta, postprocess={"lesion_brain_reach_mm": 4.0}))
    assert stored.lesion_brain_reach_mm == 4.0


def test_inference_refines_lesion_borders_when_the_checkpoint_says_so(tiny_model):
    from dataclasses import replace

    case = make_case(46)
    truth = np.asarray(case.lesion.dataobj)
    plain = predict_case(tiny_model, case.volumes)
    stored = {"lesion_refine_margin_mm": 3.0, "lesion_refine_trim": 1.0}
    refining = replace(tiny_model, metadata=replace(tiny_model.metadata, postprocess=stored))
    refined = predict_case(refining, case.volumes)
    before = dice(np.asarray(plain.lesion.dataobj) > 0, truth > 0)
    after = dice(np.asarray(refined.lesion.dataobj) > 0, truth > 0)
    assert not np.array_equal(np.asarray(plain.lesion.dataobj), np.asarray(refined.lesion.dataobj))
    # The synthetic lesion's edge is sharp in every sequence, so the refined border is on it.
    assert after > max(before, 0.9), (before, after)


def test_images_on_the_reference_grid_come_as_stored_or_resampled_through_the_affines():
    from inference.ml.predict import images_on_grid
    from inference.ml.preprocess import Grid

    case = make_case(47)
    flair = case.volumes["FLAIR"]
    grid = Grid.of(flair)
    images = images_on_grid({"FLAIR": flair, "T2": to_las(case.volumes["T2"])}, grid)
    assert np.array_equal(images["FLAIR"], np.asarray(flair.dataobj))
    # A LAS copy lands back voxel for voxel (integer shift, so trilinear sampling is exact).
    assert np.allclose(images["T2"], np.asarray(case.volumes["T2"].dataobj), atol=1e-3)
    # A NaN becomes 0 (outside the head) in the copy, never in the caller's volume.
    data = np.asarray(flair.dataobj).copy()
    data[0, 0, 0] = np.nan
    holed = nib.Nifti1Image(data, flair.affine)
    assert images_on_grid({"FLAIR": holed}, grid)["FLAIR"][0, 0, 0] == 0.0
    assert np.isnan(np.asarray(holed.dataobj)[0, 0, 0])
