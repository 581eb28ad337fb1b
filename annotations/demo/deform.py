"""Per-subject smooth deformation of the template, plus the radial push of a space-occupying lesion.

The warp is a pull-back map: for every output voxel it gives the template voxel to sample. It is
the composition of a small affine (head size, pose) and a smooth random displacement defined on a
coarse control grid and expanded with separable cubic B-spline weights, which costs a few tensor
products instead of a 3-D zoom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CONTROL_GRID = (6, 7, 6)
# The control grid spans this world box (MNI mm), so the field is the same whatever sub-box is evaluated.
FIELD_BOX_MM = ((-90.0, 90.0), (-126.0, 90.0), (-72.0, 108.0))
BRAIN_CENTRE_MM = (0.0, -18.0, 12.0)  # rotations and scaling pivot here, near the thalami


def sample_deform_params(rng: np.random.Generator, amplitude_mm: float = 3.0) -> dict:
    """Draw one subject's deformation; values are rounded so the recorded parameters replay exactly."""
    return {
        "rotation_deg": np.round(rng.uniform(-4.0, 4.0, 3), 3).tolist(),
        "scale": np.round(rng.uniform(0.95, 1.05, 3), 4).tolist(),
        "translation_mm": np.round(rng.uniform(-3.0, 3.0, 3), 3).tolist(),
        "control_grid": list(CONTROL_GRID),
        "control_displacement_mm": np.round(rng.normal(0.0, amplitude_mm, (3, *CONTROL_GRID)), 3).tolist(),
    }


def _rotation(deg: list[float]) -> np.ndarray:
    ax, ay, az = np.deg2rad(deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _bspline_weights(world_axis: np.ndarray, span: tuple[float, float], n_ctrl: int) -> np.ndarray:
    """(n, n_ctrl) cubic B-spline weights of world positions along one axis of the control grid."""
    lo, hi = span
    pos = (np.asarray(world_axis, dtype=np.float64).ravel() - lo) / (hi - lo) * (n_ctrl - 1)
    d = np.abs(pos[:, None] - np.arange(n_ctrl)[None, :])
    w = np.where(d < 1, 2 / 3 - d**2 + d**3 / 2, np.where(d < 2, (2 - d) ** 3 / 6, 0.0))
    return (w / np.maximum(w.sum(1, keepdims=True), 1e-6)).astype(np.float32)


def smooth_field(
    ctrl: np.ndarray, axes_mm: list[np.ndarray], box_mm: tuple[tuple[float, float], ...] = FIELD_BOX_MM
) -> np.ndarray:
    """Expand a (C, a, b, c) control grid spanning ``box_mm`` onto the world axes given, as (C, nx, ny, nz)."""
    wx, wy, wz = (_bspline_weights(ax, span, n) for ax, span, n in zip(axes_mm, box_mm, ctrl.shape[1:], strict=True))
    out = np.einsum("xa,cabd->cxbd", wx, ctrl.astype(np.float32), optimize=True)
    out = np.einsum("yb,cxbd->cxyd", wy, out, optimize=True)
    return np.einsum("zd,cxyd->cxyz", wz, out, optimize=True)


def forward_point(params: dict, point_mm: np.ndarray) -> np.ndarray:
    """Template position (mm) that the subject position ``point_mm`` samples, without mass effect."""
    p = np.asarray(point_mm, dtype=np.float64)
    ctrl = np.asarray(params["control_displacement_mm"], dtype=np.float32)
    disp = smooth_field(ctrl, [np.array([v]) for v in p])[:, 0, 0, 0]
    centre = np.asarray(BRAIN_CENTRE_MM)
    lin = _rotation(params["rotation_deg"]) @ np.diag(params["scale"])
    return lin @ (p - centre) + centre + np.asarray(params["translation_mm"]) + disp


def subject_point(params: dict, template_mm: np.ndarray) -> np.ndarray:
    """Where a template point lands in the subject: invert ``forward_point`` by fixed-point iteration."""
    target = np.asarray(template_mm, dtype=np.float64)
    guess = target.copy()
    for _ in range(10):
        guess = guess + (target - forward_point(params, guess))
    return guess


@dataclass(frozen=True)
class MassEffect:
    """A ball of displaced tissue: what was inside radius ``radius_mm`` is pushed outwards."""

    centre_mm: tuple[float, float, float]
    radius_mm: float
    reach_mm: float  # how far beyond the ball the push fades out


def mass_displacement(mass: MassEffect, world: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Pull-back displacement (mm, shape (3, ...)): output point x samples anatomy at x - u(x).

    Tissue is pushed radially by R^2 / r beyond the ball of radius R (everything inside the ball
    comes from its centre), faded with distance. The skull confines the brain, so the push reaches
    further than in an unbounded medium: that is what shifts the midline.
    """
    rel = [w - c for w, c in zip(world, mass.centre_mm, strict=True)]
    r = np.sqrt(rel[0] ** 2 + rel[1] ** 2 + rel[2] ** 2) + 1e-3
    big_r = mass.radius_mm
    push = np.where(r > big_r, big_r**2 / r, r)
    push *= np.exp(-((np.maximum(r - big_r, 0.0) / mass.reach_mm) ** 2))
    return np.stack([push * v / r for v in rel]).astype(np.float32)


def mass_field(masses: list[MassEffect] | tuple[MassEffect, ...], axes: list[np.ndarray]) -> np.ndarray:
    """Summed pull-back displacement (3, nx, ny, nz) in mm of all masses on a grid given by its world axes."""
    mass_u = np.zeros((3, *(len(a) for a in axes)), dtype=np.float32)
    for mass in masses:
        # Beyond a few reaches the push is below a hundredth of a millimetre: skip those voxels.
        half = mass.radius_mm + 2.5 * mass.reach_mm
        sub = []
        for ax, c in zip(axes, mass.centre_mm, strict=True):
            idx = np.flatnonzero(np.abs(ax - c) <= half)
            sub.append(slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0))
        if any(s.stop == s.start for s in sub):
            continue
        local = np.meshgrid(*[ax[s] for ax, s in zip(axes, sub, strict=True)], indexing="ij", sparse=True)
        mass_u[(slice(None), *sub)] += mass_displacement(mass, local)
    return mass_u


def sampling_coordinates(
    params: dict, affine: np.ndarray, bbox: tuple[slice, slice, slice], masses: list[MassEffect] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Template voxel coordinates (relative to ``bbox``) to sample for each output voxel in ``bbox``.

    Returns the coordinates (3, *bbox shape) and the mass-effect displacement in mm (same shape),
    which the report uses to measure midline shift.
    """
    scale = np.diag(affine)[:3]
    axes = [(np.arange(s.start, s.stop, dtype=np.float32) * scale[a] + affine[a, 3]) for a, s in enumerate(bbox)]
    world = np.meshgrid(*axes, indexing="ij", sparse=True)
    mass_u = mass_field(masses, axes)
    centre = np.asarray(BRAIN_CENTRE_MM, dtype=np.float32)
    lin = (_rotation(params["rotation_deg"]) @ np.diag(params["scale"])).astype(np.float32)
    ctrl = np.asarray(params["control_displacement_mm"], dtype=np.float32)
    src = smooth_field(ctrl, axes)  # starts as the smooth displacement, becomes source world mm
    rel = [w - c for w, c in zip(world, centre, strict=True)]
    for a in range(3):
        src[a] += lin[a, 0] * rel[0] + lin[a, 1] * rel[1] + lin[a, 2] * rel[2]
        src[a] += centre[a] + params["translation_mm"][a] - mass_u[a]
        # world mm -> voxel index within the bbox (the template grid is axis-aligned)
        src[a] = (src[a] - affine[a, 3]) / scale[a] - bbox[a].start
    return src, mass_u


def warp(volume: np.ndarray, coords: np.ndarray, order: int) -> np.ndarray:
    """Sample ``volume`` (already cropped to the bbox) at ``coords``; order 0 for labels, 1 for intensities."""
    out = ndimage.map_coordinates(volume, coords, order=order, mode="constant", cval=0, prefilter=False)
    return out
