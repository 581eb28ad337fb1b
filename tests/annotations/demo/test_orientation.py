"""Stored orientations keep every voxel at its world position; a generated LAS case matches RAS."""

import nibabel as nib
import numpy as np
import pytest

from annotations.demo import orient


def _world_of_marked(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    ijk = np.argwhere(data > 0)
    return nib.affines.apply_affine(affine, ijk)


@pytest.mark.parametrize("orientation", ["LAS", "LPS"])
def test_flipped_storage_keeps_world_positions(orientation):
    affine = np.array([[1.0, 0, 0, -90], [0, 1, 0, -126], [0, 0, 1, -72], [0, 0, 0, 1]])
    data = np.zeros((20, 22, 18), dtype=np.uint8)
    data[3, 5, 7] = 1
    data[15, 2, 9] = 2
    stored, new_affine = orient.to_storage(data, {"orientation": orientation}, affine, order=0)
    assert "".join(nib.aff2axcodes(new_affine)) == orientation
    for value in (1, 2):
        assert np.allclose(_world_of_marked(stored == value, new_affine), _world_of_marked(data == value, affine))


def test_oblique_storage_is_rotated_and_resampled_around_the_same_head():
    affine = np.eye(4)
    params = orient.sample_orientation_params("oblique", np.random.default_rng(0))
    data = np.zeros((40, 40, 40), dtype=np.uint8)
    data[12:20, 15:25, 18:28] = 3
    stored, new_affine = orient.to_storage(data, params, affine, order=0)
    assert not np.allclose(new_affine[:3, :3], np.diag(np.diag(new_affine[:3, :3])))  # truly oblique
    before = _world_of_marked(data, affine).mean(0)
    after = _world_of_marked(stored, new_affine).mean(0)
    assert np.linalg.norm(before - after) < 1.0
    assert abs(int((stored == 3).sum()) - int((data == 3).sum())) < 0.1 * (data == 3).sum()


@pytest.mark.slow
def test_generated_las_case_puts_the_lesion_at_the_same_world_position_as_ras(tmp_path):
    from annotations.demo import generate_case

    paths = {}
    for orientation in ("RAS", "LAS", "oblique"):
        generate_case(3, 0, "glioma", orientation, tmp_path / orientation)
        paths[orientation] = tmp_path / orientation / "BSD-3-0000" / "lesion.nii.gz"
    imgs = {o: nib.load(p) for o, p in paths.items()}
    assert "".join(nib.aff2axcodes(imgs["LAS"].affine)) == "LAS"
    world = {o: _world_of_marked(np.asanyarray(im.dataobj), im.affine) for o, im in imgs.items()}
    ras = world["RAS"]
    las = world["LAS"]
    assert len(ras) == len(las)
    assert np.allclose(np.sort(ras, axis=0), np.sort(las, axis=0))
    assert np.linalg.norm(world["oblique"].mean(0) - ras.mean(0)) < 1.5
    # Same intensities at the same world positions, too.
    t1 = {o: nib.load(p.parent / "FLAIR.nii.gz") for o, p in paths.items() if o != "oblique"}
    ras_can = np.asanyarray(nib.as_closest_canonical(t1["LAS"]).dataobj)
    assert np.array_equal(ras_can, np.asanyarray(t1["RAS"].dataobj))
