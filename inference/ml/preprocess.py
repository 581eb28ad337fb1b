"""From a case's NIfTI volumes to the arrays the network sees, and a record to map results back.

One path for every orientation: each volume is resampled through its own affine onto a model grid
that is axis-aligned with RAS world space (``x`` = left→right, ``y`` = posterior→anterior, ``z`` =
inferior→superior) at the model's spacing. That single resampling is the reorientation (LAS, LPS
and oblique inputs all land on the same RAS grid) and the spacing change at once, so there is no
second interpolation. Predictions go back through the inverse of the same mapping onto the native
grid of the case's reference volume (``inference.ml.resample``).

Missing modalities are explicit, not a crash: their channel is zero and an availability flag
channel says so; the network was trained with random modality dropout to cope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy import ndimage

from inference.ml.config import SegmentationConfig

# When a case has no volume named in the model's list we still need one to define the native grid.
REFERENCE_PREFERENCE: tuple[str, ...] = ("T1", "T1CE", "FLAIR", "T2", "DWI", "ADC")


class PreprocessError(ValueError):
    """A case cannot be prepared (no usable volume, empty image, non-3-D data)."""


@dataclass(frozen=True)
class Grid:
    """A voxel grid in world space: ``affine`` maps voxel indices to millimetres (RAS+)."""

    shape: tuple[int, int, int]
    affine: np.ndarray

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))  # type: ignore[return-value]

    @classmethod
    def of(cls, image: nib.Nifti1Image) -> Grid:
        return cls(tuple(int(s) for s in image.shape[:3]), np.asarray(image.affine, dtype=np.float64))  # type: ignore[arg-type]


@dataclass
class PreparedCase:
    """A case on the model grid: normalised intensities plus what is needed to go back."""

    intensities: np.ndarray  # (n_modalities, X, Y, Z) float32, zero where missing or outside the head
    modalities: tuple[str, ...]  # the model's modalities, in channel order
    available: tuple[bool, ...]  # per modality
    model_grid: Grid
    native_grid: Grid  # the reference volume's grid: predictions are returned on it
    reference_modality: str
    brain_mask: np.ndarray  # (X, Y, Z) bool on the model grid
    center_mm: np.ndarray  # world centre of the brain, origin of the coordinate channels

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name, ok in zip(self.modalities, self.available, strict=True) if not ok)


def volume_data(image: nib.Nifti1Image) -> np.ndarray:
    """A volume's voxels as float32, 3-D (a trailing axis of one is dropped); anything else is refused."""
    data = np.asarray(image.dataobj, dtype=np.float32)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise PreprocessError(f"expected a 3-D volume, got shape {data.shape}")
    return data


def choose_reference(volumes: Mapping[str, nib.Nifti1Image], modalities: Sequence[str]) -> str:
    for name in (*REFERENCE_PREFERENCE, *modalities, *volumes):
        if name in volumes:
            return name
    raise PreprocessError("the case has no volume at all")


def foreground_mask(data: np.ndarray) -> np.ndarray:
    """Head/brain voxels: exact zeros mark the background of skull-stripped or masked scans;
    otherwise a low threshold relative to the bright tail separates air from tissue."""
    finite = np.isfinite(data)
    if (data == 0).mean() >= 0.2:
        mask = (data != 0) & finite
    else:
        high = np.percentile(data[finite], 99.0) if finite.any() else 0.0
        mask = (data > 0.1 * high) & finite
    return mask


def _row_end_points(mask: np.ndarray) -> np.ndarray:
    """First and last foreground voxel of every row along the first axis: a linear function (a
    world coordinate) takes its extremes over the foreground at one of these points."""
    present = mask.any(axis=0)
    first = mask.argmax(axis=0)
    last = mask.shape[0] - 1 - mask[::-1].argmax(axis=0)
    jj, kk = np.nonzero(present)
    ends = [np.stack([first[jj, kk], jj, kk], axis=1), np.stack([last[jj, kk], jj, kk], axis=1)]
    return np.concatenate(ends).astype(np.float64)


def model_grid_for(reference: nib.Nifti1Image, mask: np.ndarray, config: SegmentationConfig) -> Grid:
    """An RAS grid at the model spacing around the foreground, sized for the network's strides."""
    if not mask.any():
        raise PreprocessError("the reference volume is empty (no foreground voxels)")
    # The world extent of the foreground itself, not of its voxel bounding box: for an oblique
    # acquisition the rotated box is far larger than the head, and a grid with that much extra
    # background changes what the network sees.
    idx = _row_end_points(mask)
    world = idx @ np.asarray(reference.affine)[:3, :3].T + np.asarray(reference.affine)[:3, 3]
    spacing = np.asarray(config.spacing_mm, dtype=np.float64)
    w_lo = world.min(axis=0) - config.grid_margin_mm
    w_hi = world.max(axis=0) + config.grid_margin_mm
    shape = np.ceil((w_hi - w_lo) / spacing).astype(int) + 1
    divisor = config.size_divisor
    shape = ((shape + divisor - 1) // divisor) * divisor
    center = (w_lo + w_hi) / 2.0
    origin = center - (shape - 1) / 2.0 * spacing
    affine = np.eye(4)
    affine[:3, :3] = np.diag(spacing)
    affine[:3, 3] = origin
    return Grid(tuple(int(s) for s in shape), affine)  # type: ignore[arg-type]


def resample_to_grid(image: nib.Nifti1Image, grid: Grid, *, order: int, data: np.ndarray | None = None) -> np.ndarray:
    """Sample ``image`` on ``grid`` through both affines (order 0 for labels, 1 for intensities)."""
    if data is None:
        data = np.asanyarray(image.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise PreprocessError(f"expected a 3-D volume, got shape {data.shape}")
    if order > 0:
        data = np.asarray(data, dtype=np.float32)
    mapping = np.linalg.inv(np.asarray(image.affine, dtype=np.float64)) @ grid.affine
    return ndimage.affine_transform(
        data, mapping[:3, :3], offset=mapping[:3, 3], output_shape=grid.shape, order=order, mode="constant", cval=0
    )


def normalise(values: np.ndarray, mask: np.ndarray, method: str = "zscore") -> np.ndarray:
    """Z-score inside the brain (scanner units differ by orders of magnitude).

    The mean and SD come from the brain's values clipped to their 0.5-99.5th percentiles, so a
    bright vessel or fat does not set the scale. ``"zscore"`` keeps every value up to ±8 SD: a
    lacune on DWI stands 3-5 SD above the brain, brighter than any normal tissue. ``"clipped"``
    (the first models) clipped the values themselves to that range, which left a small lesion as
    bright as the brightest 0.5 % of normal tissue; models trained so still run with it.
    """
    inside = values[mask]
    if inside.size < 10:
        return np.zeros_like(values, dtype=np.float32)
    lo, hi = np.percentile(inside, (0.5, 99.5))
    clipped = np.clip(inside, lo, hi)
    mean, std = float(clipped.mean()), float(clipped.std())
    if method == "clipped":
        out = (np.clip(values, lo, hi) - mean) / max(std, 1e-6)
        bound = 5.0
    elif method == "zscore":
        out = (values - mean) / max(std, 1e-6)
        bound = 8.0
    else:
        raise ValueError(f"unknown normalisation {method!r}")
    out[~mask] = 0.0
    return np.clip(out, -bound, bound).astype(np.float32)


def prepare_case(
    volumes: Mapping[str, nib.Nifti1Image],
    config: SegmentationConfig,
    *,
    reference: str | None = None,
) -> PreparedCase:
    """Resample and normalise every available modality onto one RAS model grid.

    ``volumes`` may hold any subset of the config's modalities (and others, ignored); a missing one
    becomes a zero channel with its availability flag off. At least one modality the model knows
    must be present.
    """
    usable = {name: img for name, img in volumes.items() if name in config.modalities}
    if not usable:
        raise PreprocessError(
            f"none of the case's volumes ({sorted(volumes)}) is a modality this model uses ({list(config.modalities)})"
        )
    reference = reference or choose_reference(volumes, config.modalities)
    if reference not in volumes:
        raise PreprocessError(f"reference volume {reference!r} is not among the case's volumes")
    ref_img = volumes[reference]
    ref_data = volume_data(ref_img)
    ref_mask = foreground_mask(ref_data)
    grid = model_grid_for(ref_img, ref_mask, config)

    # The brain mask on the model grid is the union of all available modalities' foregrounds, so a
    # reference with a small field of view (a thick-slab DWI) does not crop the others.
    resampled: dict[str, np.ndarray] = {}
    brain = np.zeros(grid.shape, dtype=bool)
    for name in config.modalities:
        if name not in usable:
            continue
        data = ref_data if name == reference else volume_data(usable[name])
        mask = ref_mask if name == reference else foreground_mask(data)
        resampled[name] = resample_to_grid(usable[name], grid, order=1, data=data)
        # Linear, not nearest: nearest-neighbour ties break differently for a flipped (LAS) grid.
        brain |= resample_to_grid(usable[name], grid, order=1, data=mask.astype(np.float32)) >= 0.5
    if not brain.any():
        raise PreprocessError("no foreground voxels on the model grid")

    intensities = np.zeros((len(config.modalities), *grid.shape), dtype=np.float32)
    available = []
    for channel, name in enumerate(config.modalities):
        if name in resampled:
            intensities[channel] = normalise(resampled[name], brain, config.normalisation)
            available.append(True)
        else:
            available.append(False)

    idx = np.argwhere(brain)
    center_vox = (idx.min(axis=0) + idx.max(axis=0)) / 2.0
    center_mm = (grid.affine @ np.append(center_vox, 1.0))[:3]
    return PreparedCase(
        intensities=intensities,
        modalities=tuple(config.modalities),
        available=tuple(available),
        model_grid=grid,
        native_grid=Grid.of(ref_img),
        reference_modality=reference,
        brain_mask=brain,
        center_mm=center_mm,
    )


def coordinate_channels(grid: Grid, center_mm: np.ndarray, scale_mm: float = 80.0) -> np.ndarray:
    """World coordinates relative to the brain centre, in units of ``scale_mm`` (3, X, Y, Z)."""
    axes = [np.arange(n, dtype=np.float32) for n in grid.shape]
    spacing = np.diag(grid.affine)[:3]
    origin = grid.affine[:3, 3]
    coords = np.zeros((3, *grid.shape), dtype=np.float32)
    for axis in range(3):
        values = (origin[axis] + axes[axis] * spacing[axis] - center_mm[axis]) / scale_mm
        shape = [1, 1, 1]
        shape[axis] = grid.shape[axis]
        coords[axis] = values.reshape(shape)
    return coords


def network_input(
    intensities: np.ndarray,
    available: Sequence[bool],
    grid: Grid,
    center_mm: np.ndarray,
    config: SegmentationConfig,
) -> np.ndarray:
    """Stack intensities, availability flags and (optionally) coordinates: ``config.in_channels``."""
    flags = np.zeros((len(available), *grid.shape), dtype=np.float32)
    for channel, ok in enumerate(available):
        if ok:
            flags[channel] = 1.0
    parts = [intensities.astype(np.float32, copy=False), flags]
    if config.coordinate_channels:
        parts.append(coordinate_channels(grid, center_mm))
    return np.concatenate(parts, axis=0)


def labels_on_model_grid(label_image: nib.Nifti1Image, grid: Grid) -> np.ndarray:
    data = np.asarray(label_image.dataobj)
    if np.issubdtype(data.dtype, np.floating):
        data = np.rint(data)
    return resample_to_grid(label_image, grid, order=0, data=data.astype(np.int32)).astype(np.int32)
