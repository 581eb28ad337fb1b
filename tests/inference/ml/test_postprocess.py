"""Lesion borders moved onto the edges the images show (``refine_lesions_to_images``)."""

import numpy as np
import pytest

from inference.ml.postprocess import refine_lesions_to_images

SPACING = (1.0, 1.0, 1.0)


def ball(shape, centre, radius):
    grid = np.indices(shape).astype(np.float64)
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


def dice(a, b):
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@pytest.fixture()
def scan():
    """A 40³ 'brain' of tissue at 500 ± 20 with a lesion of radius 6 at 900 on FLAIR, 300 on ADC."""
    rng = np.random.default_rng(0)
    shape = (40, 40, 40)
    lesion = ball(shape, (20, 20, 20), 6)
    flair = rng.normal(500, 20, shape).astype(np.float32)
    flair[lesion] = rng.normal(900, 20, int(lesion.sum()))
    adc = rng.normal(800, 20, shape).astype(np.float32)
    adc[lesion] = rng.normal(300, 20, int(lesion.sum()))
    return lesion, {"FLAIR": flair, "ADC": adc}


def test_an_undersegmented_lesion_grows_onto_its_edge(scan):
    truth, images = scan
    drawn = ball(truth.shape, (20, 20, 20), 4).astype(np.uint8)  # a voxel and more short all round
    assert dice(drawn, truth) < 0.5
    refined = refine_lesions_to_images(drawn, images, SPACING, margin_mm=3.0, trim=False)
    assert dice(refined, truth) > 0.97
    # Dark lesions (ADC) have an edge too.
    refined = refine_lesions_to_images(drawn, {"ADC": images["ADC"]}, SPACING, margin_mm=3.0, trim=False)
    assert dice(refined, truth) > 0.97


def test_growth_stops_at_the_margin(scan):
    from scipy import ndimage

    truth, images = scan
    drawn = ball(truth.shape, (20, 20, 20), 4).astype(np.uint8)
    refined = refine_lesions_to_images(drawn, images, SPACING, margin_mm=1.0, trim=False)
    within = ndimage.distance_transform_edt(drawn == 0) <= 1.0
    assert np.array_equal(refined > 0, within) and (within <= truth).all()


def test_a_border_drawn_far_inside_the_lesion_has_no_edge_to_move_to(scan):
    """The surroundings are measured just beyond the margin; when that shell is still lesion, the
    component does not stand out from it, and it is left as the network drew it."""
    truth, images = scan
    drawn = ball(truth.shape, (20, 20, 20), 2).astype(np.uint8)
    assert np.array_equal(refine_lesions_to_images(drawn, images, SPACING, margin_mm=1.0, trim=False), drawn)


def test_trimming_pulls_an_oversegmented_border_in_and_growing_alone_never_does(scan):
    truth, images = scan
    drawn = ball(truth.shape, (20, 20, 20), 7).astype(np.uint8)  # a voxel too far all round
    assert dice(drawn, truth) < 0.8
    assert np.array_equal(refine_lesions_to_images(drawn, images, SPACING, margin_mm=3.0, trim=False), drawn)
    trimmed = refine_lesions_to_images(drawn, images, SPACING, margin_mm=3.0, trim=True)
    assert dice(trimmed, truth) > 0.97


def test_a_dark_core_inside_a_bright_lesion_is_kept(scan):
    truth, images = scan
    flair = images["FLAIR"].copy()
    core = ball(truth.shape, (20, 20, 20), 2)
    flair[core] = 450  # necrosis: darker than the tissue around the lesion
    trimmed = refine_lesions_to_images(truth.astype(np.uint8), {"FLAIR": flair}, SPACING, margin_mm=3.0, trim=True)
    assert (trimmed[core] > 0).all()


def test_a_component_without_an_edge_is_left_as_drawn():
    rng = np.random.default_rng(1)
    flair = rng.normal(500, 20, (30, 30, 30)).astype(np.float32)  # nothing there
    drawn = ball(flair.shape, (15, 15, 15), 3).astype(np.uint8)
    for trim in (False, True):
        assert np.array_equal(
            refine_lesions_to_images(drawn, {"FLAIR": flair}, SPACING, margin_mm=3.0, trim=trim), drawn
        )
    assert np.array_equal(refine_lesions_to_images(drawn, {"FLAIR": flair}, SPACING, margin_mm=0.0, trim=True), drawn)


def test_added_voxels_take_the_nearest_type_and_components_keep_their_own_voxels():
    rng = np.random.default_rng(2)
    shape = (40, 40, 40)
    tumour = ball(shape, (14, 20, 20), 6)
    other = ball(shape, (26, 20, 20), 5)  # a voxel away from the tumour
    flair = rng.normal(500, 20, shape).astype(np.float32)
    flair[tumour | other] = 900
    drawn = np.zeros(shape, dtype=np.uint8)
    drawn[ball(shape, (14, 20, 20), 4)] = 3  # oedema rim as drawn
    drawn[ball(shape, (14, 20, 20), 2)] = 1  # enhancing core
    drawn[ball(shape, (26, 20, 20), 3)] = 5  # a second lesion of another type
    refined = refine_lesions_to_images(drawn, {"FLAIR": flair}, SPACING, margin_mm=3.0, trim=False)
    assert (refined[ball(shape, (14, 20, 20), 2)] == 1).all()  # the core keeps its type
    grown = (refined > 0) & (drawn == 0)
    assert set(np.unique(refined[grown & tumour])) == {3}  # the tumour grows as oedema, its rim's type
    assert (refined[drawn == 5] == 5).all()  # the larger lesion grows first, but never over the other
    assert dice(refined > 0, tumour | other) > 0.95


def test_anisotropic_voxels_measure_the_margin_in_millimetres(scan):
    truth, images = scan
    drawn = ball(truth.shape, (20, 20, 20), 4).astype(np.uint8)
    # With 3 mm voxels along the last axis a 3 mm margin is one voxel there, three in-plane.
    refined = refine_lesions_to_images(drawn, images, (1.0, 1.0, 3.0), margin_mm=3.0, trim=False) > 0
    z_extent = np.flatnonzero(refined.any(axis=(0, 1)))
    x_extent = np.flatnonzero(refined.any(axis=(1, 2)))
    assert len(z_extent) == 9 + 2 and len(x_extent) == 13


def test_trimming_never_reaches_deeper_than_the_margin():
    """A tumour whose chosen sequence shows only half of it (the other half an oedema it does not
    show): trimming may move the border, not hollow out the lesion."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    shape = (40, 40, 40)
    drawn = np.zeros(shape, dtype=np.uint8)
    drawn[10:30, 10:30, 10:30] = 2
    flair = rng.normal(500, 20, shape).astype(np.float32)
    flair[10:20, 10:30, 10:30] = 900  # the bright half
    trimmed = refine_lesions_to_images(drawn, {"FLAIR": flair}, SPACING, margin_mm=3.0, trim=True)
    deep = ndimage.distance_transform_edt(drawn > 0) > 3.0
    assert (trimmed[deep] == 2).all()
    assert (trimmed[10:20, 10:30, 10:30] == 2).all()  # the bright half whole
    assert not trimmed[25:30, 10:30, 29].any()  # the dim half's surface, within the margin, trimmed


def test_a_dark_lesion_on_the_edge_of_a_skull_stripped_brain_does_not_grow_out_of_it():
    rng = np.random.default_rng(4)
    shape = (40, 40, 40)
    adc = np.zeros(shape, dtype=np.float32)
    adc[:, :, :20] = rng.normal(800, 20, (40, 40, 20))  # the brain; zero beyond it
    truth = ball(shape, (20, 20, 17), 5) & (adc != 0)
    adc[truth] = 300
    grown = refine_lesions_to_images(truth.astype(np.uint8), {"ADC": adc}, SPACING, margin_mm=3.0, trim=False)
    assert np.array_equal(grown > 0, truth)


def test_holes_are_filled_only_within_the_margin():
    rng = np.random.default_rng(5)
    shape = (40, 40, 40)
    flair = rng.normal(500, 20, shape).astype(np.float32)
    shell = ball(shape, (20, 20, 20), 10) & ~ball(shape, (20, 20, 20), 7)
    flair[shell] = 900
    refined = refine_lesions_to_images(shell.astype(np.uint8), {"FLAIR": flair}, SPACING, margin_mm=1.0, trim=False)
    assert not refined[ball(shape, (20, 20, 20), 5.5)].any()  # more than 1 mm inside the shell
    assert refined[shell].all()


def test_non_finite_values_are_ignored_and_images_must_match_the_mask(scan):
    truth, images = scan
    flair = images["FLAIR"].copy()
    flair[20, 20, 20] = np.nan
    flair[20, 21, 20] = np.inf
    refined = refine_lesions_to_images(truth.astype(np.uint8), {"FLAIR": flair}, SPACING, margin_mm=3.0, trim=True)
    assert dice(refined, truth) > 0.97
    with pytest.raises(ValueError, match="shape"):
        refine_lesions_to_images(truth, {"FLAIR": flair[:-1]}, SPACING, margin_mm=3.0, trim=False)
