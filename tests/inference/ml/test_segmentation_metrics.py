import numpy as np
import pytest

from inference.ml.metrics.segmentation import (
    hd95,
    lesion_scores,
    mean_over_cases,
    overlap_scores,
    per_label_scores,
    structure_scores,
)


def test_overlap_scores_match_hand_counts():
    truth = np.zeros((10, 10, 10), dtype=bool)
    pred = np.zeros_like(truth)
    truth[0:4, 0:5, 0:1] = True  # 20 voxels
    pred[2:6, 0:5, 0:1] = True  # 20 voxels, 10 shared
    scores = overlap_scores(pred, truth)
    assert scores.dice == pytest.approx(2 * 10 / 40)
    assert scores.precision == pytest.approx(10 / 20)
    assert scores.sensitivity == pytest.approx(10 / 20)


def test_undefined_scores_are_none_not_zero():
    empty = np.zeros((4, 4, 4), dtype=bool)
    scores = overlap_scores(empty, empty)
    assert scores.dice is None and scores.precision is None and scores.sensitivity is None
    assert mean_over_cases([None, 0.5, float("nan"), 1.0]) == pytest.approx(0.75)


def test_lesion_scores_binarise_typed_labels():
    truth = np.array([[[0, 2, 2, 3]]])
    pred = np.array([[[0, 3, 1, 0]]])
    scores = lesion_scores(pred, truth)
    assert scores.dice == pytest.approx(2 * 2 / (2 + 3))
    assert scores.precision == pytest.approx(1.0)
    assert scores.sensitivity == pytest.approx(2 / 3)


def test_structure_score_averages_labels_present_in_truth():
    truth = np.array([[[1, 1, 2, 2]]])
    pred = np.array([[[1, 1, 1, 3]]])  # label 1 dice 0.8, label 2 missed, label 3 not in truth
    case = structure_scores(pred, truth)
    assert set(case.per_label) == {1, 2}
    assert case.dice == pytest.approx((0.8 + 0.0) / 2)
    assert case.precision == pytest.approx((2 / 3 + 0.0) / 2)
    assert per_label_scores(pred, truth)[3].precision == 0.0


def test_hd95_of_shifted_cubes_is_the_shift_in_mm():
    truth = np.zeros((20, 20, 20), dtype=bool)
    truth[5:10, 5:10, 5:10] = True
    pred = np.roll(truth, 2, axis=0)
    assert hd95(pred, truth, spacing=(1.5, 1.0, 1.0)) == pytest.approx(3.0)
    assert hd95(np.zeros_like(truth), truth) is None
