"""Clean-up of predicted masks (connected components, borders moved onto the images), and the lesion
component numbering.

The numbering of lesion components is shared by the report generator, the consistency checker and
the editor: component 1 is the largest lesion, ties broken by position, so "lesion component 2"
means the same voxels wherever it is computed from the same mask.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage

LESION_CONNECTIVITY = 26


def lesion_components(lesion: np.ndarray) -> tuple[np.ndarray, int]:
    """Number whole-lesion components (any non-zero lesion label) by decreasing size, from 1."""
    binary = np.asarray(lesion) > 0
    raw, count = cc3d.connected_components(binary, connectivity=LESION_CONNECTIVITY, return_N=True)
    if count == 0:
        return np.zeros(binary.shape, dtype=np.int32), 0
    raw = raw.astype(np.int64, copy=False)
    flat = raw.ravel()
    sizes = np.bincount(flat, minlength=count + 1)
    # First voxel (in C order) of each component breaks size ties deterministically.
    first = np.full(count + 1, flat.size, dtype=np.int64)
    nonzero = np.flatnonzero(flat)
    np.minimum.at(first, flat[nonzero], nonzero)
    order = sorted(range(1, count + 1), key=lambda c: (-sizes[c], first[c]))
    remap = np.zeros(count + 1, dtype=np.int32)
    for new, old in enumerate(order, start=1):
        remap[old] = new
    return remap[raw], count


def remove_small_lesions(lesion: np.ndarray, *, voxel_volume_mm3: float, min_volume_mm3: float) -> np.ndarray:
    """Drop whole-lesion components below ``min_volume_mm3`` (speckle, not findings)."""
    lesion = np.asarray(lesion)
    if min_volume_mm3 <= 0 or not lesion.any():
        return lesion.copy()
    components, count = lesion_components(lesion)
    sizes = np.bincount(components.ravel(), minlength=count + 1) * voxel_volume_mm3
    keep = sizes >= min_volume_mm3
    keep[0] = False
    cleaned = np.where(keep[components], lesion, 0)
    return cleaned.astype(lesion.dtype, copy=False)


def lesions_reaching(lesion: np.ndarray, tissue: np.ndarray, *, reach_voxels: int) -> np.ndarray:
    """The lesion voxels whose whole-lesion component has a voxel within ``reach_voxels``
    (Euclidean, in voxels) of ``tissue``; other components are dropped whole, never trimmed."""
    lesion = np.asarray(lesion, dtype=bool)
    if not lesion.any():
        return lesion.copy()
    tissue = np.asarray(tissue, dtype=bool)
    near = tissue
    if reach_voxels > 0:
        r = np.arange(-reach_voxels, reach_voxels + 1)
        ball = (r[:, None, None] ** 2 + r[None, :, None] ** 2 + r[None, None, :] ** 2) <= reach_voxels**2
        near = ndimage.binary_dilation(tissue, structure=ball)
    components, count = cc3d.connected_components(lesion, connectivity=LESION_CONNECTIVITY, return_N=True)
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(components[near & lesion])] = True
    keep[0] = False
    return keep[components]


def keep_largest_structure_components(structure: np.ndarray, *, min_fraction: float = 0.1) -> np.ndarray:
    """Per structure label keep the largest component and any other of at least ``min_fraction`` of it.

    Anatomical structures are (nearly) connected; stray islands of a label far from its structure are
    the network's mistakes. Pieces of comparable size are kept because a lesion can split a structure.
    """
    structure = np.asarray(structure)
    if not structure.any():
        return structure.copy()
    components, count = cc3d.connected_components(structure, connectivity=6, return_N=True)
    components = components.astype(np.int64, copy=False)
    flat = components.ravel()
    sizes = np.bincount(flat, minlength=count + 1)
    owner = np.zeros(count + 1, dtype=np.int64)
    owner[flat] = structure.ravel()
    largest: dict[int, int] = {}
    for comp in range(1, count + 1):
        lab = int(owner[comp])
        largest[lab] = max(largest.get(lab, 0), int(sizes[comp]))
    keep = np.zeros(count + 1, dtype=bool)
    for comp in range(1, count + 1):
        keep[comp] = sizes[comp] >= min_fraction * largest[int(owner[comp])]
    return np.where(keep[components], structure, 0).astype(structure.dtype, copy=False)


def refine_lesions_to_images(
    lesion: np.ndarray,
    images: dict[str, np.ndarray],
    spacing: tuple[float, float, float],
    *,
    margin_mm: float,
    trim: bool,
    ring_mm: float = 3.0,
    min_contrast: float = 3.0,
) -> np.ndarray:
    """Move each lesion component's border onto the edge it has in the images at native resolution.

    The network decides on a grid of 2 mm or so; a lacune of 51 voxels at 1.5 mm is 21 voxels
    there, and a border drawn at that grid lands a voxel beside the visible edge all round. The
    images themselves hold the edge: per component, the sequence in which it stands out most from
    a shell of surrounding tissue (``ring_mm`` wide, beyond ``margin_mm``) sets a cut-off halfway
    between the two medians. The border then moves onto that cut-off by at most ``margin_mm``:
    outward over voxels on the component's side of it that connect to it, and with ``trim`` also
    inward, over voxels on the other side within ``margin_mm`` of the outside (deeper voxels, such
    as an oedema the chosen sequence does not show, stay; so does a hole, such as a dark necrotic
    core). A component whose best contrast is under ``min_contrast`` robust standard deviations of
    its surroundings is left as the network drew it: there is no edge to move it to. Zero is
    outside the head (skull-stripped scans) and never joins a lesion, nor do non-finite values.

    Added voxels take the lesion type of the nearest voxel of the component; components never
    take over each other's voxels (larger ones go first), though two may grow until they touch.
    ``images`` are arrays on the lesion mask's grid (any subset of the sequences).
    """
    lesion = np.asarray(lesion)
    for name, image in images.items():
        if image.shape != lesion.shape:
            raise ValueError(f"image {name!r} has shape {image.shape}, the lesion mask {lesion.shape}")
    if margin_mm <= 0 or not images or not lesion.any():
        return lesion.copy()
    components, _ = lesion_components(lesion)
    out = lesion.copy()
    pad = [int(np.ceil((margin_mm + ring_mm) / s)) + 1 for s in spacing]
    neighbours = np.ones((3, 3, 3), dtype=bool)  # the 26-connectivity of LESION_CONNECTIVITY
    for index, found in enumerate(ndimage.find_objects(components), start=1):
        if found is None:
            continue
        box = tuple(
            slice(max(0, s.start - p), min(n, s.stop + p)) for s, p, n in zip(found, pad, lesion.shape, strict=True)
        )
        own = components[box] == index
        others = (out[box] > 0) & ~own  # as refined so far: no component takes another's voxels
        distance, nearest = ndimage.distance_transform_edt(~own, sampling=spacing, return_indices=True)
        near = (distance <= margin_mm) & ~others
        ring = (distance > margin_mm) & (distance <= margin_mm + ring_mm) & ~others
        best: tuple[float, np.ndarray, float] | None = None  # contrast, the image's box, cut-off
        for image in images.values():
            values = image[box]
            usable = (values != 0) & np.isfinite(values)
            around = values[ring & usable]
            inside = values[own & usable]
            if around.size < 10 or inside.size == 0:
                continue
            inside_median = float(np.median(inside))
            around_median = float(np.median(around))
            spread = 1.4826 * float(np.median(np.abs(around - around_median))) + 1e-6
            contrast = (inside_median - around_median) / spread
            if best is None or abs(contrast) > abs(best[0]):
                best = (contrast, values, (inside_median + around_median) / 2.0)
        if best is None or abs(best[0]) < min_contrast:
            continue
        contrast, values, cut = best
        like = near & (values != 0) & np.isfinite(values) & (np.sign(contrast) * (values - cut) > 0)
        pieces, _ = ndimage.label(like, structure=neighbours)
        touching = np.unique(pieces[own & like])
        refined = np.isin(pieces, touching[touching > 0])
        if trim:
            depth = ndimage.distance_transform_edt(own, sampling=spacing)
            refined |= own & (depth > margin_mm)
        else:
            refined |= own
        refined |= ndimage.binary_fill_holes(refined) & (near | own)
        refined &= ~others
        view = out[box]
        types = view[tuple(nearest)]
        added = refined & ~own
        view[own & ~refined] = 0
        view[added] = types[added]
    return out
