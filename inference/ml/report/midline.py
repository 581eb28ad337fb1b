"""Midline position and shift, from the interface between left- and right-sided structures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from inference.ml.schema import LabelSchema

MIDLINE_SHIFT_MIN_MM = 6.0  # the interface's natural asymmetry is a few millimetres


def world_coordinates(indices: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(N, 3) voxel indices → (N, 3) world millimetres."""
    return indices @ affine[:3, :3].T + affine[:3, 3]


def _row_extreme(points: np.ndarray, fn: Callable[[np.ndarray], float]) -> dict[tuple[int, int], float]:
    keys = np.round(points[:, 1:3] / 2.0).astype(np.int64)
    order = np.lexsort((points[:, 0], keys[:, 1], keys[:, 0]))
    keys, xs = keys[order], points[order, 0]
    out: dict[tuple[int, int], float] = {}
    boundaries = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
    for chunk_keys, chunk_x in zip(np.split(keys, boundaries), np.split(xs, boundaries), strict=True):
        out[(int(chunk_keys[0, 0]), int(chunk_keys[0, 1]))] = float(fn(chunk_x))
    return out


def _interface_points(structure: np.ndarray, schema: LabelSchema, affine: np.ndarray) -> np.ndarray:
    """(N, 3) points (y, z, x) of the left/right interface: per 2 mm (y, z) row, the midpoint
    between the rightmost left-sided and the leftmost right-sided labelled voxel (gap ≤ 8 mm)."""
    side_lut = np.zeros(int(max(schema.indices, default=0)) + 1, dtype=np.int8)
    for lab in schema.labels:
        side_lut[lab.index] = {"left": 1, "right": 2}.get(lab.side, 0)
    idx = np.argwhere((structure > 0) & (structure < side_lut.size))
    if idx.size == 0:
        return np.zeros((0, 3))
    sides = side_lut[structure[idx[:, 0], idx[:, 1], idx[:, 2]]]
    world = world_coordinates(idx.astype(np.float64), affine)
    left, right = world[sides == 1], world[sides == 2]
    if len(left) == 0 or len(right) == 0:
        return np.zeros((0, 3))
    rows_l = _row_extreme(left, np.max)
    rows_r = _row_extreme(right, np.min)
    points = [
        (k[0] * 2.0, k[1] * 2.0, (rows_l[k] + rows_r[k]) / 2.0)
        for k in rows_l.keys() & rows_r.keys()
        if 0.0 <= rows_r[k] - rows_l[k] <= 8.0
    ]
    return np.array(points) if points else np.zeros((0, 3))


def _plane(points: np.ndarray) -> np.ndarray:
    """Robust least-squares plane x = a + b·y + c·z through interface points."""
    design = np.c_[np.ones(len(points)), points[:, 0], points[:, 1]]
    keep = np.ones(len(points), dtype=bool)
    coef = np.zeros(3)
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[keep], points[keep, 2], rcond=None)
        residual = points[:, 2] - design @ coef
        keep = np.abs(residual) < max(2.0, 2.5 * float(np.std(residual[keep])))
    return coef


def midline_x(structure: np.ndarray, schema: LabelSchema, affine: np.ndarray) -> float | None:
    """World x of the midline (median interface), to side lesions outside sided structures."""
    points = _interface_points(structure, schema, affine)
    if len(points):
        return float(np.median(points[:, 2]))
    idx = np.argwhere(structure > 0)
    if idx.size == 0:
        return None
    world = world_coordinates(idx.astype(np.float64), affine)
    return float((world[:, 0].min() + world[:, 0].max()) / 2.0)


def midline_shift(
    structure: np.ndarray, schema: LabelSchema, affine: np.ndarray, centroid_mm: Sequence[float], side: str
) -> float:
    """Sideways bowing of the midline at the level of a space-occupying lesion, in mm (+ = right).

    The midline is the interface between left- and right-sided structures. A plane fitted to it
    away from the lesion stands for where the falx would be without the mass; the shift is the
    95th percentile of the interface's deviation from that plane within 25 mm of the lesion's
    level, directed away from the lesion. Natural asymmetry of the interface is a few millimetres,
    so shifts under ``MIDLINE_SHIFT_MIN_MM`` are reported as none.
    """
    points = _interface_points(structure, schema, affine)
    if len(points) < 30 or side not in ("left", "right"):
        return 0.0
    cy, cz = centroid_mm[1], centroid_mm[2]
    far = points[np.hypot(points[:, 0] - cy, points[:, 1] - cz) > 50.0]
    coef = _plane(far if len(far) >= 30 else points)
    near = points[np.abs(points[:, 1] - cz) <= 25.0]
    if len(near) < 5:
        return 0.0
    residual = near[:, 2] - (coef[0] + coef[1] * near[:, 0] + coef[2] * near[:, 1])
    magnitude = float(np.percentile(np.abs(residual), 95))
    if magnitude < MIDLINE_SHIFT_MIN_MM:
        return 0.0
    return round(magnitude if side == "left" else -magnitude, 1)
