"""Geometry shared by the lesion kinds: local boxes, irregular ellipsoids, soft edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .deform import smooth_field


@dataclass(frozen=True)
class Grid:
    """The working grid: 1-D world axes (mm) of the bounding box where the subject is built."""

    axes_mm: tuple[np.ndarray, np.ndarray, np.ndarray]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(len(a) for a in self.axes_mm)  # type: ignore[return-value]

    def box(self, centre_mm: np.ndarray, half_mm: float) -> tuple[slice, slice, slice]:
        """Index slices of the part of the grid within ``half_mm`` of a point (possibly empty)."""
        out = []
        for ax, c in zip(self.axes_mm, centre_mm, strict=True):
            idx = np.flatnonzero(np.abs(ax - c) <= half_mm)
            out.append(slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0))
        return tuple(out)  # type: ignore[return-value]

    def local(self, box: tuple[slice, slice, slice]) -> list[np.ndarray]:
        return [ax[s] for ax, s in zip(self.axes_mm, box, strict=True)]

    def mesh(self, box: tuple[slice, slice, slice]) -> list[np.ndarray]:
        return np.meshgrid(*self.local(box), indexing="ij", sparse=True)


def rotation_from_angles(deg: list[float]) -> np.ndarray:
    ax, ay, az = np.deg2rad(deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def frame_from_normal(normal: np.ndarray) -> np.ndarray:
    """Rotation whose third column is ``normal``: lets an ellipsoid sit flat on a surface."""
    n = np.asarray(normal, dtype=float) / np.linalg.norm(normal)
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(n, helper)
    u /= np.linalg.norm(u)
    v = np.cross(n, u)
    return np.stack([u, v, n], axis=1)


def sample_blob(
    rng: np.random.Generator, radius_mm: float, elongation: float = 0.25, irregularity: float = 0.15
) -> dict:
    """Shape parameters of one irregular ellipsoid (recorded, then replayed by ``blob_radius``)."""
    return {
        "radius_mm": round(float(radius_mm), 3),
        "axis_ratios": np.round(rng.uniform(1 - elongation, 1 + elongation, 3), 4).tolist(),
        "rotation_deg": np.round(rng.uniform(-180, 180, 3), 3).tolist(),
        "irregularity": round(float(irregularity), 4),
        "noise_control": np.round(rng.normal(0.0, 1.0, (1, 5, 5, 5)), 4).tolist(),
    }


def blob_radius(
    grid: Grid,
    box: tuple[slice, slice, slice],
    centre_mm: np.ndarray,
    blob: dict,
    scale: float = 1.0,
    rotation: np.ndarray | None = None,
) -> np.ndarray:
    """Normalised radius in ``box``: below 1 inside the (scaled) irregular ellipsoid.

    The boundary wobbles with a smooth random field, so lesions are lumpy rather than spheres.
    """
    rot = rotation if rotation is not None else rotation_from_angles(blob["rotation_deg"])
    radii = np.asarray(blob["axis_ratios"]) * blob["radius_mm"] * scale
    x, y, z = (m - c for m, c in zip(grid.mesh(box), centre_mm, strict=True))
    rho2 = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape), dtype=np.float32)
    for k in range(3):
        q = rot[0, k] * x + rot[1, k] * y + rot[2, k] * z
        rho2 += (q / radii[k]) ** 2
    half = float(radii.max()) * 1.6 + 1.0
    span = tuple((float(c) - half, float(c) + half) for c in centre_mm)
    noise = smooth_field(np.asarray(blob["noise_control"], dtype=np.float32), grid.local(box), span)[0]
    return np.sqrt(rho2) / (1.0 + blob["irregularity"] * noise)


def soften(mask: np.ndarray, sigma: float = 0.6) -> np.ndarray:
    """Partial-volume edge: a binary mask blurred a little, so images have no staircase borders."""
    return np.clip(ndimage.gaussian_filter(mask.astype(np.float32), sigma), 0.0, 1.0)


def texture(rng_seed: int, shape: tuple[int, ...], amplitude: float, sigma: float = 1.5) -> np.ndarray:
    """Multiplicative lesion texture around 1: tumours are not uniform."""
    noise = np.random.default_rng(rng_seed).standard_normal(shape, dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, sigma)
    noise /= max(float(noise.std()), 1e-6)
    return (1.0 + amplitude * noise).astype(np.float32)
