"""The template anatomy and the derived demo labels sit where anatomy says they should."""

import numpy as np
import pytest

from annotations.demo import deform, schema
from annotations.demo.anatomy import load_anatomy


@pytest.fixture(scope="module")
def anat():
    return load_anatomy()


def _centroid_mm(anat, labels: np.ndarray, index: int) -> np.ndarray:
    ijk = np.argwhere(labels == index)
    return anat.world(ijk.mean(0))


def test_every_structure_is_present_with_a_plausible_volume(anat):
    counts = np.bincount(anat.labels.ravel(), minlength=len(schema.STRUCTURES) + 1)
    for s in schema.STRUCTURES:
        assert counts[s.index] > 1000, s.name  # at least 1 mL each
    assert 5_000 < counts[27] < 40_000 and 5_000 < counts[28] < 40_000  # lateral ventricles, mL scale


def test_left_structures_lie_left_of_midline_and_right_ones_right(anat):
    for s in schema.STRUCTURES:
        x = _centroid_mm(anat, anat.labels, s.index)[0]
        if s.side == "left":
            assert x < -3, s.name
        elif s.side == "right":
            assert x > 3, s.name
        else:
            assert abs(x) < 4, s.name


def test_structures_are_in_anatomical_order(anat):
    c = {s.index: _centroid_mm(anat, anat.labels, s.index) for s in schema.STRUCTURES}
    assert c[1][1] > c[3][1] > c[7][1]  # frontal anterior to parietal anterior to occipital
    assert c[23][2] > c[30][2]  # thalamus above brainstem
    assert c[25][1] < c[30][1]  # cerebellum behind brainstem
    assert c[32][2] > c[31][2]  # corpus callosum above third ventricle
    assert c[27][2] > c[13][2]  # lateral ventricle body above hippocampus


def test_ventricles_are_csf_and_white_matter_is_not(anat):
    vent = np.isin(anat.labels, schema.LATERAL_VENTRICLE)
    assert np.median(anat.csf[vent]) > 0.6
    assert np.median(anat.csf[anat.wm > 0.9]) < 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deformed_labels_keep_left_left_and_order(anat, seed):
    params = deform.sample_deform_params(np.random.default_rng(seed))
    coords, _ = deform.sampling_coordinates(params, anat.affine, anat.bbox)
    warped = np.zeros(anat.shape, dtype=np.uint8)
    warped[anat.bbox] = deform.warp(anat.labels[anat.bbox], coords, 0)
    for s in schema.STRUCTURES:
        x = _centroid_mm(anat, warped, s.index)[0]
        if s.side == "left":
            assert x < -2, s.name
        elif s.side == "right":
            assert x > 2, s.name
    assert _centroid_mm(anat, warped, 1)[1] > _centroid_mm(anat, warped, 7)[1]
    # The warp moves things by millimetres, not centimetres.
    for index in (23, 27, 30):
        assert np.linalg.norm(_centroid_mm(anat, warped, index) - _centroid_mm(anat, anat.labels, index)) < 8


def test_subject_point_inverts_the_warp():
    params = deform.sample_deform_params(np.random.default_rng(5))
    p = np.array([-30.0, 12.0, 20.0])
    assert np.allclose(deform.forward_point(params, deform.subject_point(params, p)), p, atol=1e-3)
