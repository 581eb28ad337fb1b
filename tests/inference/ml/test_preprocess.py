import nibabel as nib
import numpy as np
import pytest
import torch

from inference.ml.preprocess import PreprocessError, labels_on_model_grid, normalise, prepare_case
from inference.ml.resample import labels_on_native_grid

from .conftest import TINY_CONFIG, dice, make_case, to_las


def test_model_grid_is_ras_at_the_model_spacing():
    case = make_case(1)
    prepared = prepare_case(case.volumes, TINY_CONFIG)
    assert np.allclose(prepared.model_grid.affine[:3, :3], np.diag([2.0, 2.0, 2.0]))
    assert all(n % TINY_CONFIG.size_divisor == 0 for n in prepared.model_grid.shape)
    assert prepared.intensities.shape == (3, *prepared.model_grid.shape)
    inside = prepared.intensities[0][prepared.brain_mask]
    assert abs(float(inside.mean())) < 0.5 and 0.5 < float(inside.std()) < 1.5


def test_las_input_lands_on_the_same_ras_grid():
    case = make_case(2)
    ras = prepare_case(case.volumes, TINY_CONFIG)
    las = prepare_case({k: to_las(v) for k, v in case.volumes.items()}, TINY_CONFIG)
    assert np.allclose(ras.model_grid.affine, las.model_grid.affine)
    assert np.allclose(ras.intensities, las.intensities, atol=1e-4)


def test_missing_modalities_are_zero_channels_with_flags():
    case = make_case(3)
    prepared = prepare_case({"FLAIR": case.volumes["FLAIR"]}, TINY_CONFIG)
    assert prepared.available == (False, False, True)
    assert prepared.missing == ("T1", "T2")
    assert not prepared.intensities[0].any() and prepared.intensities[2].any()
    with pytest.raises(PreprocessError, match="none of the case's volumes"):
        prepare_case({"DWI": case.volumes["FLAIR"]}, TINY_CONFIG)


def test_probabilities_map_back_onto_the_native_grid():
    case = make_case(4)
    for structure in (case.structure, to_las(case.structure)):
        prepared = prepare_case({"T1": case.volumes["T1"]}, TINY_CONFIG, reference="T1")
        prepared.native_grid = type(prepared.native_grid).of(structure)
        on_model = labels_on_model_grid(structure, prepared.model_grid)
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(on_model).long(), 5).permute(3, 0, 1, 2).float()
        back = labels_on_native_grid(one_hot, prepared.model_grid, prepared.native_grid)
        truth = np.asarray(structure.dataobj)
        for label in (1, 2, 3, 4):
            assert dice(back == label, truth == label) > 0.9


def test_non_3d_volumes_are_refused():
    bad = nib.Nifti1Image(np.zeros((4, 4, 4, 2), dtype=np.float32), np.eye(4))
    with pytest.raises(PreprocessError, match="3-D"):
        prepare_case({"T1": bad}, TINY_CONFIG)


@pytest.mark.parametrize("oblique", [False, True])
def test_boundary_only_interpolation_equals_full_interpolation(oblique):
    """The fast path interpolates only where model voxels disagree; it must equal interpolating everywhere."""
    from inference.ml.preprocess import Grid
    from inference.ml.resample import NativeSampler

    rng = np.random.default_rng(0)
    model = Grid((12, 14, 10), np.diag([2.0, 2.0, 2.0, 1.0]))
    logits = torch.from_numpy(rng.normal(size=(4, 12, 14, 10)).astype(np.float32))
    logits[0, 3:9, 3:10, 2:8] += 4.0  # a block of class 0 so that many cells are uniform
    probabilities = torch.softmax(logits, 0)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = -2.7  # the native grid reaches beyond the model grid on every side
    if oblique:
        from .conftest import oblique_affine

        affine = oblique_affine(affine, (7.0, -5.0, 9.0))
    native = Grid((30, 34, 26), affine)
    fast = NativeSampler(model, native).labels(probabilities)

    idx = np.indices(native.shape).reshape(3, -1).T.astype(np.float64)
    mapping = np.linalg.inv(model.affine) @ native.affine
    points = idx @ mapping[:3, :3].T + mapping[:3, 3]
    upper = np.array(model.shape) - 1
    inside = np.all((points >= 0) & (points <= upper), axis=1)  # both paths agree on the edges' fate
    grid = torch.from_numpy((points / upper * 2 - 1)[:, ::-1].astype(np.float32).copy()).view(1, 1, 1, -1, 3)
    full = (
        torch.nn.functional.grid_sample(
            probabilities[None], grid, mode="bilinear", padding_mode="border", align_corners=True
        )[0, :, 0, 0, :]
        .argmax(0)
        .numpy()
    )
    assert (fast.reshape(-1)[inside] == full[inside]).mean() > 0.995


def test_a_small_bright_lesion_keeps_its_contrast():
    rng = np.random.default_rng(0)
    values = rng.normal(100.0, 10.0, (30, 30, 30)).astype(np.float32)
    brain = np.ones(values.shape, dtype=bool)
    brain[:2] = False
    lesion = np.zeros_like(brain)
    lesion[10:13, 10:13, 10:12] = True  # 18 voxels, 0.07 % of the brain: a lacune
    values[lesion] = 150.0  # 5 SD above the brain, as an infarct on DWI
    values[20, 20, 20] = 10_000.0  # one wild voxel

    z = normalise(values, brain, "zscore")
    normal = z[brain & ~lesion]
    assert z[lesion].mean() == pytest.approx(5.0, abs=0.4)
    assert z[lesion].min() > np.percentile(normal, 99.9) + 1.5
    assert z.max() == 8.0 and (z[~brain] == 0).all()

    # The first models' normalisation flattens the lesion to the brightest normal tissue.
    legacy = normalise(values, brain, "clipped")
    assert legacy[lesion].max() <= np.percentile(legacy[brain & ~lesion], 99.9) + 1e-6
    with pytest.raises(ValueError, match="normalisation"):
        normalise(values, brain, "minmax")
