"""Store a case the way scanners hand data over: mostly RAS, some LAS, LPS or oblique.

Flipped orientations keep every voxel at the same world position (data and affine change
together); an oblique case is resampled onto a rotated grid around the same head.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .shapes import rotation_from_angles

ORIENTATIONS = ("RAS", "LAS", "LPS", "oblique", "native")  # native: keep the working grid as it is


def sample_orientation_params(orientation: str, rng: np.random.Generator) -> dict:
    if orientation != "oblique":
        return {"orientation": orientation}
    angles = rng.uniform(8.0, 18.0, 3) * rng.choice([-1.0, 1.0], 3) * np.array([1.0, 0.6, 0.8])
    return {"orientation": "oblique", "rotation_deg": np.round(angles, 3).tolist()}


def _flip_affine(affine: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    flip = np.eye(4)
    for ax in axes:
        flip[ax, ax] = -1.0
        flip[ax, 3] = shape[ax] - 1
    return affine @ flip


def storage_affine(params: dict, affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The affine a case is stored with, given the RAS working affine."""
    o = params["orientation"]
    if o in ("RAS", "native"):
        return affine.copy()
    if o == "LAS":
        return _flip_affine(affine, shape, (0,))
    if o == "LPS":
        return _flip_affine(affine, shape, (0, 1))
    rot = np.eye(4)
    rot[:3, :3] = rotation_from_angles(params["rotation_deg"])
    centre = affine @ np.r_[(np.asarray(shape) - 1) / 2.0, 1.0]
    to_c, from_c = np.eye(4), np.eye(4)
    to_c[:3, 3] = -centre[:3]
    from_c[:3, 3] = centre[:3]
    return from_c @ rot @ to_c @ affine


def to_storage(data: np.ndarray, params: dict, affine: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (data, affine) in the stored orientation; ``order`` 0 keeps labels labels."""
    o = params["orientation"]
    new_affine = storage_affine(params, affine, data.shape)
    if o in ("RAS", "native"):
        return data, new_affine
    if o == "LAS":
        return np.ascontiguousarray(data[::-1]), new_affine
    if o == "LPS":
        return np.ascontiguousarray(data[::-1, ::-1]), new_affine
    vox = np.linalg.inv(affine) @ new_affine  # stored voxel -> working voxel
    out = ndimage.affine_transform(
        data,
        vox[:3, :3],
        offset=vox[:3, 3],
        output_shape=data.shape,
        order=order,
        mode="constant",
        cval=0,
        prefilter=False,
    )
    return out.astype(data.dtype, copy=False), new_affine
