"""Receive-coil shading, for simulating a new site whose scanner exports images without bias
correction: a smooth multiplicative field that per-volume intensity normalisation does not remove.

The generator's own cases carry none; the clinician-loop test and the active-learning benchmark
apply it to make "a new kind of input" that the demo model has never seen.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np

MASK_FILES = ("lesion.nii.gz", "structure.nii.gz")


def coil_shading(image: nib.Nifti1Image) -> nib.Nifti1Image:
    """The image times a smooth field: ×0.5 at the bottom of the field of view to ×1.5 at the top,
    ×0.8 to ×1.2 from one side to the other (world axes, so the stored orientation does not matter)."""
    data = np.asarray(image.dataobj, dtype=np.float32)
    ijk = np.indices(data.shape[:3], dtype=np.float32).reshape(3, -1)
    xyz = nib.affines.apply_affine(image.affine, ijk.T).T.reshape(3, *data.shape[:3])
    lo, hi = xyz.reshape(3, -1).min(axis=1), xyz.reshape(3, -1).max(axis=1)
    u = (xyz - lo[:, None, None, None]) / np.maximum(hi - lo, 1e-6)[:, None, None, None]
    field = (0.5 + 1.0 * u[2]) * (0.8 + 0.4 * u[0])
    shaded = (data * field.reshape(field.shape + (1,) * (data.ndim - 3))).astype(np.float32)
    out = nib.Nifti1Image(shaded, image.affine, image.header)
    out.set_data_dtype(np.float32)
    return out


def shade_case_folder(source: Path, target: Path, *, keep_masks: bool) -> None:
    """Copy a case folder with every acquired image shaded. ADC is a ratio of two acquisitions with
    the same coil, so the shading cancels there: it is copied as it is, and so are the masks when
    ``keep_masks`` (otherwise they are left out: images only, as a site would send them)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.name in MASK_FILES:
            if keep_masks:
                shutil.copy(path, target / path.name)
        elif path.name.endswith((".nii.gz", ".nii")) and not path.name.startswith("ADC"):
            coil_shading(nib.load(path)).to_filename(target / path.name)
        else:
            shutil.copy(path, target / path.name)
