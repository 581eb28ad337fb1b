"""Measure what a report states from the ground truth: where, how big, what signal, what pressure.

Everything is computed from the masks and the synthesised images, never copied from the
generator's parameters, so a report stays true to what the pictures show (the same code can
measure any case with masks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cc3d
import numpy as np
from scipy import ndimage

from . import schema

NECROSIS, EDEMA, ENHANCING, INFARCT, WMH = 1, 2, 3, 4, 5
CORE_LABELS = (NECROSIS, ENHANCING, INFARCT, WMH)
SIDE_WORD = {"left": "left", "right": "right", "midline": ""}


@dataclass
class LesionFinding:
    component: int | None  # 1-based connected component (26-connected, largest first); None = grouped
    region_ids: list[int]  # structures it occupies (or abuts, when extra-axial), largest share first
    side: str  # left | right | bilateral | midline
    diameters_mm: tuple[float, float, float]
    volume_ml: float
    has_necrosis: bool
    has_edema: bool
    edema_ratio: float  # oedema volume / core volume
    signal: dict[str, str] = field(default_factory=dict)  # modality -> high/slightly high/iso/...
    necrosis_signal: dict[str, str] = field(default_factory=dict)
    edema_signal: dict[str, str] = field(default_factory=dict)
    enhancement: str | None = None  # ring | homogeneous | nodular | heterogeneous | none | None
    restricted_diffusion: bool | None = None
    centroid_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class CaseFindings:
    lesions: list[LesionFinding]
    midline_shift_mm: float
    shift_direction: str | None  # towards 'left' or 'right'
    compressed_ventricles: list[str]  # sides whose lateral ventricle is squeezed
    involved_ids: set[int]


def signal_category(ratio: float) -> str:
    """Signal relative to normal-appearing white matter, in the words reports use."""
    if ratio >= 1.3:
        return "high"
    if ratio >= 1.1:
        return "slightly high"
    if ratio > 0.9:
        return "iso"
    if ratio > 0.75:
        return "slightly low"
    return "low"


def components(lesion: np.ndarray) -> np.ndarray:
    """Connected components of the lesion mask, numbered by decreasing size (ties: first voxel)."""
    cc = cc3d.connected_components(lesion > 0, connectivity=26)
    n = int(cc.max())
    if n == 0:
        return cc.astype(np.int32)
    sizes = np.bincount(cc.ravel(), minlength=n + 1)[1:]
    order = np.argsort(-sizes, kind="stable")
    remap = np.zeros(n + 1, dtype=np.int32)
    remap[order + 1] = np.arange(1, n + 1)
    return remap[cc]


def diameters(mask: np.ndarray, affine: np.ndarray) -> tuple[float, float, float]:
    """Extent along the principal axes in world mm (plus one voxel), largest first."""
    ijk = np.argwhere(mask)
    if len(ijk) < 2:
        return (1.0, 1.0, 1.0)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    centred = xyz - xyz.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    proj = centred @ vt.T
    voxel = float(np.cbrt(abs(np.linalg.det(affine[:3, :3]))))
    ext = sorted((float(proj[:, k].max() - proj[:, k].min()) + voxel for k in range(3)), reverse=True)
    return (round(ext[0]), round(ext[1]), round(ext[2]))  # type: ignore[return-value]


def _side_of(ids: list[int], shares: list[float]) -> str:
    left = sum(s for i, s in zip(ids, shares, strict=True) if schema.BY_INDEX[i].side == "left")
    right = sum(s for i, s in zip(ids, shares, strict=True) if schema.BY_INDEX[i].side == "right")
    if left + right == 0:
        return "midline"
    if left >= 0.8 * (left + right):
        return "left"
    if right >= 0.8 * (left + right):
        return "right"
    return "bilateral"


def _regions(structure_values: np.ndarray, min_share: float = 0.15, top: int = 3) -> tuple[list[int], list[float]]:
    vals = structure_values[structure_values > 0]
    non_csf = vals[~np.isin(vals, schema.CSF_SPACES)]
    if non_csf.size:
        vals = non_csf
    if vals.size == 0:
        return [], []
    counts = np.bincount(vals, minlength=max(schema.BY_INDEX) + 1)
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    shares = counts[order] / counts.sum()
    keep = [i for i, s in zip(order, shares, strict=True) if s >= min_share][:top] or order[:1]
    return keep, [float(counts[i] / counts.sum()) for i in keep]


def _box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _ratio(img: np.ndarray, where: np.ndarray, ref: float) -> float:
    return float(np.median(img[where])) / ref if where.any() and ref > 0 else 1.0


def measure_lesion(
    comp_mask: np.ndarray,
    lesion: np.ndarray,
    structure: np.ndarray,
    volumes: dict[str, np.ndarray],
    nawm_ref: dict[str, float],
    affine: np.ndarray,
    extra_axial: bool,
    component: int | None,
    grouped: bool = False,
) -> LesionFinding:
    box = _box(comp_mask, 5)
    comp = comp_mask[box]
    les = np.where(comp, lesion[box], 0)
    core = np.isin(les, CORE_LABELS)
    if not core.any():
        core = les > 0
    measured = core
    if extra_axial:
        # The dural tail enhances but is not part of the tumour's size.
        opened = ndimage.binary_opening(core, iterations=2)
        measured = opened if opened.any() else core
        shell = ndimage.binary_dilation(measured, iterations=4) & ~(les > 0)
        ids, shares = _regions(structure[box][shell])
        # An extra-axial mass is named after the one side it sits on.
        main_side = schema.BY_INDEX[ids[0]].side if ids else "midline"
        kept = [(i, s) for i, s in zip(ids, shares, strict=True) if schema.BY_INDEX[i].side == main_side]
        ids, shares = [i for i, _ in kept], [s for _, s in kept]
    elif grouped:
        # Small-vessel disease is described by the lobes it involves, on both sides.
        vals = structure[box][core]
        ids, shares = _regions(np.where(np.isin(vals, (1, 2, 3, 4, 5, 6, 7, 8)), vals, 0), min_share=0.1, top=4)
    else:
        ids, shares = _regions(structure[box][core])
    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    necrosis = les == NECROSIS
    edema = les == EDEMA
    solid = core & ~necrosis
    if not solid.any():
        solid = core
    ijk = np.argwhere(measured) + [s.start for s in box]
    centroid = ijk.mean(0) @ affine[:3, :3].T + affine[:3, 3]
    finding = LesionFinding(
        component=component,
        region_ids=ids,
        side=_side_of(ids, shares),
        diameters_mm=diameters(measured, affine),
        volume_ml=round(float(core.sum() * voxel_ml), 2),
        has_necrosis=bool(necrosis.any()),
        has_edema=bool(edema.sum() > 20),
        edema_ratio=float(edema.sum() / max(core.sum(), 1)),
        centroid_mm=tuple(float(round(v, 1)) for v in centroid),  # type: ignore[arg-type]
    )
    for m, img in volumes.items():
        sub = img[box]
        finding.signal[m] = signal_category(_ratio(sub, solid, nawm_ref[m]))
        if finding.has_necrosis:
            finding.necrosis_signal[m] = signal_category(_ratio(sub, necrosis, nawm_ref[m]))
        if finding.has_edema:
            finding.edema_signal[m] = signal_category(_ratio(sub, edema, nawm_ref[m]))
    if "T1CE" in volumes:
        post = _ratio(volumes["T1CE"][box], solid, nawm_ref["T1CE"])
        pre = _ratio(volumes["T1"][box], solid, nawm_ref["T1"]) if "T1" in volumes else 0.85
        if post >= 1.2 and post - pre >= 0.25:
            if finding.has_necrosis:
                finding.enhancement = "ring"
            elif extra_axial:
                finding.enhancement = "homogeneous"
            elif max(finding.diameters_mm) <= 12:
                finding.enhancement = "nodular"
            else:
                finding.enhancement = "heterogeneous"
        else:
            finding.enhancement = "none"
    if "DWI" in volumes and "ADC" in volumes:
        dwi = _ratio(volumes["DWI"][box], solid, nawm_ref["DWI"])
        adc = _ratio(volumes["ADC"][box], solid, nawm_ref["ADC"])
        finding.restricted_diffusion = bool(dwi >= 1.3 and adc <= 0.8)
    return finding


def nawm_reference(volumes: dict[str, np.ndarray], wm: np.ndarray, lesion: np.ndarray) -> dict[str, float]:
    """Median of normal-appearing white matter: mostly white matter, away from any lesion."""
    nawm = wm > 0.9
    if lesion.any():
        box = _box(lesion > 0, 6)
        near = np.zeros_like(nawm)
        near[box] = ndimage.binary_dilation(lesion[box] > 0, iterations=5)
        nawm &= ~near
    return {m: float(np.median(v[nawm])) for m, v in volumes.items()}


def measure_case(
    kind: str,
    volumes: dict[str, np.ndarray],
    structure: np.ndarray,
    lesion: np.ndarray,
    wm: np.ndarray,
    affine: np.ndarray,
    midline_shift_x_mm: float = 0.0,
    structure_without_mass: np.ndarray | None = None,
) -> CaseFindings:
    """All findings of a case; WMH are reported as one grouped finding, other lesions per component."""
    ref = nawm_reference(volumes, wm, lesion)
    found: list[LesionFinding] = []
    if lesion.any():
        comps = components(lesion)
        if kind == "wmh":
            found.append(measure_lesion(lesion > 0, lesion, structure, volumes, ref, affine, False, None, grouped=True))
        else:
            n = int(comps.max())
            for c in range(1, n + 1):
                mask = comps == c
                if mask.sum() < 10 and c > 1:
                    continue
                found.append(measure_lesion(mask, lesion, structure, volumes, ref, affine, kind == "meningioma", c))
    compressed = []
    if structure_without_mass is not None:
        for side, idx in zip(("left", "right"), schema.LATERAL_VENTRICLE, strict=True):
            before = int((structure_without_mass == idx).sum())
            after = int((structure == idx).sum())
            if before and after < 0.92 * before:
                compressed.append(side)
    shift = abs(midline_shift_x_mm)
    direction = None if shift < 1.5 else ("right" if midline_shift_x_mm > 0 else "left")
    involved = {i for f in found for i in f.region_ids}
    return CaseFindings(found, round(shift, 1), direction, compressed, involved)
