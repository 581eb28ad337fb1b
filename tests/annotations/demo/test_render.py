"""Pictures: every sequence in three views through the largest lesion, with coloured outlines."""

import io

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from annotations.demo import render_case_png, render_montage


def _phantom(orientation_flip: bool = False):
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    head = np.zeros((40, 48, 36), dtype=np.int16)
    head[5:35, 6:42, 4:32] = 500
    lesion = np.zeros(head.shape, dtype=np.uint8)
    lesion[10:16, 20:28, 14:20] = 2  # small edema blob
    lesion[24:33, 15:30, 10:22] = 3  # the largest component
    if orientation_flip:
        head, lesion = head[::-1].copy(), lesion[::-1].copy()
        affine = np.diag([-1.0, 1.0, 1.0, 1.0])
        affine[0, 3] = 39
    vols = {m: nib.Nifti1Image(head, affine) for m in ("T1", "FLAIR")}
    return vols, nib.Nifti1Image(lesion, affine)


@pytest.mark.parametrize("flip", [False, True])
def test_case_png_has_a_tile_per_view_and_sequence_with_outlines(flip):
    vols, lesion = _phantom(flip)
    buf = io.BytesIO()
    render_case_png(vols, lesion, None, buf, size=64)
    img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert img.shape == (14 + 3 * 64, 2 * 64, 3)
    red = (img[..., 0] == 255) & (img[..., 1] == 48) & (img[..., 2] == 48)
    assert red.sum() > 20  # the enhancing outline, seen through the largest component


def test_montage_marks_missing_sequences(tmp_path):
    vols, lesion = _phantom()
    out = tmp_path / "m.png"
    render_montage([("glioma", vols, lesion), ("healthy", vols, None)], out, size=48)
    img = Image.open(out)
    assert img.size == (84 + 7 * 48, 14 + 2 * 48)


@pytest.mark.slow
def test_cli_renders_a_generated_case(demo_dataset, tmp_path):
    from annotations.demo.__main__ import main

    out = tmp_path / "case.png"
    assert main(["png", str(demo_dataset.out_dir / "cases" / demo_dataset.case_ids[0]), str(out)]) == 0
    assert Image.open(out).size[0] >= 4 * 160
