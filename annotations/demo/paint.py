"""Painting lesions on a warped subject: ground-truth labels and the tissue fractions behind the images.

Each kind follows the anatomy it grows in: oedema spreads through its own hemisphere's white
matter, an infarct stays inside an arterial territory, white-matter hyperintensities cap the
ventricles, and a meningioma sits on the brain surface with a dural tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cc3d
import numpy as np
from scipy import ndimage

from . import schema
from .deform import smooth_field
from .shapes import Grid, blob_radius, frame_from_normal, soften, texture

NECROSIS, EDEMA, ENHANCING, INFARCT, WMH = 1, 2, 3, 4, 5
LOBES = (1, 2, 3, 4, 5, 6, 7, 8)
CSF_LABELS = np.array(schema.CSF_SPACES)

_SIDE_LUT = np.zeros(256, dtype=np.uint8)  # 1 left, 2 right, 3 midline
for _s in schema.STRUCTURES:
    _SIDE_LUT[_s.index] = {"left": 1, "right": 2, "midline": 3}[_s.side]


@dataclass
class Subject:
    """The warped anatomy of one subject on the working grid."""

    grid: Grid
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    labels: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return (self.gm + self.wm + self.csf) > 0.5


@dataclass
class LesionBuild:
    labels: np.ndarray  # uint8, lesion schema
    fractions: dict[str, np.ndarray] = field(default_factory=dict)  # tissue class -> voxel fraction
    texture: np.ndarray | None = None
    extra_axial: np.ndarray | None = None  # voxels that belong to no brain structure


def territory_mask(
    territory: str, side: str, labels: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """Coarse arterial territories from structure labels and position (side = 'left' or 'right')."""
    off = 0 if side == "left" else 1
    lab = {
        name: idx + off
        for name, idx in {
            "frontal": 1,
            "parietal": 3,
            "temporal": 5,
            "occipital": 7,
            "insula": 9,
            "cingulate": 11,
            "hippocampus": 13,
            "caudate": 17,
            "putamen": 19,
            "pallidum": 21,
            "thalamus": 23,
        }.items()
    }
    ax = np.abs(x)
    if territory == "MCA":
        lateral_lobes = np.isin(labels, [lab["frontal"], lab["parietal"], lab["temporal"]]) & (ax >= 22)
        inferomedial_temporal = (labels == lab["temporal"]) & (z < -18) & (ax < 45)
        deep = np.isin(labels, [lab["insula"], lab["putamen"], lab["pallidum"], lab["caudate"]])
        return (lateral_lobes & ~inferomedial_temporal & (y > -75)) | deep
    if territory == "ACA":
        medial = np.isin(labels, [lab["frontal"], lab["parietal"], lab["cingulate"]]) & (ax < 22) & (z > -12)
        return medial & (y > -60)
    if territory == "PCA":
        occipital = labels == lab["occipital"]
        temporal = (labels == lab["temporal"]) & (z < -12) & (y < -15)
        return occipital | temporal | np.isin(labels, [lab["hippocampus"], lab["thalamus"]])
    # lacunar: deep perforator territory
    return np.isin(labels, [lab["putamen"], lab["pallidum"], lab["caudate"], lab["thalamus"]])


def _edema_allowed(sub: Subject, box: tuple[slice, slice, slice], side: int) -> np.ndarray:
    """Vasogenic oedema spreads through white matter of its own hemisphere, not into CSF spaces."""
    lab = sub.labels[box]
    lab_side = _SIDE_LUT[lab]
    ok = (sub.wm[box] > 0.25) & (sub.csf[box] < 0.6) & ~np.isin(lab, CSF_LABELS) & (lab > 0)
    if side in (1, 2):
        ok &= lab_side != (3 - side)
    return ok


def _attached(edema: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Oedema pieces that touch their tumour; detached islands would read as separate lesions."""
    lab, n = ndimage.label(edema | core, structure=np.ones((3, 3, 3), dtype=bool))
    keep = np.unique(lab[core])
    return edema & np.isin(lab, keep[keep > 0])


def _side_at(sub: Subject, box: tuple[slice, slice, slice], where: np.ndarray) -> int:
    sides = _SIDE_LUT[sub.labels[box][where]]
    counts = np.bincount(sides, minlength=4)
    return int(np.argmax(counts[1:3]) + 1) if counts[1:3].sum() else 3


def paint_tumour(
    sub: Subject,
    out: LesionBuild,
    centre: np.ndarray,
    core_blob: dict,
    necrosis_blob: dict | None,
    edema_blob: dict | None,
    margin: float,
) -> None:
    grid = sub.grid
    reach = max(core_blob["radius_mm"], edema_blob["radius_mm"] if edema_blob else 0.0) * 1.6 + margin
    box = grid.box(centre, reach)
    rho = blob_radius(grid, box, centre, core_blob)
    core = rho < 1.0
    if not core.any():
        return
    necrosis = np.zeros_like(core)
    if necrosis_blob is not None:
        necrosis = (blob_radius(grid, box, centre, necrosis_blob) < 1.0) & (rho < 0.8)
    enhancing = core & ~necrosis
    labels = out.labels[box]
    if edema_blob is not None:
        side = _side_at(sub, box, core)
        edema = (blob_radius(grid, box, centre, edema_blob) < 1.0) & ~core & _edema_allowed(sub, box, side)
        edema = ndimage.binary_opening(edema) | (edema & (rho < 1.3))
        labels[_attached(edema, core) & (labels == 0)] = EDEMA
    labels[enhancing] = ENHANCING
    labels[necrosis] = NECROSIS


def drop_fragments(labels: np.ndarray, min_voxels: int = 20) -> None:
    """Remove specks a shape edge can leave behind; a reader would take each for another lesion."""
    if not labels.any():
        return
    cc = cc3d.connected_components(labels > 0, connectivity=26)
    sizes = np.bincount(cc.ravel())
    has_core = np.bincount(
        cc.ravel(), weights=np.isin(labels, (NECROSIS, ENHANCING, INFARCT)).ravel(), minlength=len(sizes)
    )
    bad = (sizes < min_voxels) | (has_core == 0)
    bad[0] = False
    labels[bad[cc]] = 0


def paint_meningioma(sub: Subject, out: LesionBuild, params: dict) -> None:
    grid = sub.grid
    r = params["core"]["radius_mm"]
    normal = np.asarray(params["normal"])
    surface = np.asarray(params["surface_mm"])
    centre = surface + params["outward_offset"] * r * normal
    frame = frame_from_normal(normal)
    core_blob = dict(params["core"], axis_ratios=[1.0, 0.95, 0.8])
    box = grid.box(centre, r * 2.2 + 4)
    rho = blob_radius(grid, box, centre, core_blob, rotation=frame)
    x, y, z = (m - s for m, s in zip(grid.mesh(box), surface, strict=True))
    height = normal[0] * x + normal[1] * y + normal[2] * z  # distance above the brain surface
    dural_plane = (params["outward_offset"] + 0.25) * r
    core = (rho < 1.0) & (height < dural_plane)
    labels = out.labels[box]
    if params["dural_tail"]:
        tangential = np.sqrt(np.maximum(x**2 + y**2 + z**2 - height**2, 0.0))
        tail = (
            (np.abs(height - dural_plane + 1.0) < 1.2 * np.clip(1.0 - (tangential - r) / r, 0, 1))
            & (tangential < 1.8 * r)
            & ~core
        )
        labels[tail] = ENHANCING
    if params["edema"] is not None:
        side = _side_at(sub, box, core & (sub.labels[box] > 0))
        edema = (blob_radius(grid, box, centre, params["edema"]) < 1.0) & ~core & _edema_allowed(sub, box, side)
        labels[_attached(edema, core) & (labels == 0)] = EDEMA
    labels[core] = ENHANCING
    extra = np.zeros(grid.shape, dtype=bool)
    extra[box] = labels == ENHANCING
    out.extra_axial = extra


def paint_infarct(sub: Subject, out: LesionBuild, params: dict) -> None:
    grid = sub.grid
    seed = np.asarray(params["seed_mm"])
    shape = params["shape"]
    for grow in (1.0, 1.4, 2.0, 3.0):
        box = grid.box(seed, shape["radius_mm"] * 1.6 * grow + 3)
        x, y, z = grid.mesh(box)
        lab = sub.labels[box]
        allowed = (sub.csf[box] < 0.5) & ((sub.gm[box] + sub.wm[box]) > 0.4)
        if params["territory"] != "lacunar":
            allowed &= territory_mask(params["territory"], params["side"], lab, x, y, z)
        else:
            allowed &= (lab > 0) & ~np.isin(lab, CSF_LABELS)
        infarct = (blob_radius(grid, box, seed, shape, scale=grow) < 1.0) & allowed
        if infarct.sum() >= (15 if params["territory"] == "lacunar" else 200):
            break
    out.labels[box][infarct] = INFARCT


def paint_wmh(sub: Subject, out: LesionBuild, params: dict) -> None:
    grid = sub.grid
    vent = np.isin(sub.labels, schema.LATERAL_VENTRICLE)
    idx = np.argwhere(vent)
    thick = params["periventricular_mm"]
    if len(idx):
        lo = np.maximum(idx.min(0) - int(thick * 1.8) - 3, 0)
        hi = np.minimum(idx.max(0) + int(thick * 1.8) + 4, grid.shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        dist = ndimage.distance_transform_edt(~vent[box])
        y_axis = grid.local(box)[1]
        y_mid = float(np.mean(grid.axes_mm[1][idx[:, 1]]))
        # Caps at the frontal and occipital horns are thicker than the bands along the bodies.
        caps = 0.6 + 0.8 * np.clip(np.abs(y_axis - y_mid) / 30.0, 0.0, 1.0)
        span = tuple((float(a[0]), float(a[-1]) + 1e-3) for a in grid.local(box))
        noise = smooth_field(np.asarray(params["periventricular_noise"], dtype=np.float32), grid.local(box), span)[0]
        limit = thick * caps[None, :, None] * np.clip(1.0 + 0.35 * noise, 0.3, 2.0)
        lab = sub.labels[box]
        peri = (dist > 0) & (dist <= limit) & (sub.wm[box] > 0.35) & np.isin(lab, LOBES + (32,))
        out.labels[box][peri] = WMH
    for deep in params["deep"]:
        c = np.asarray(deep["centre_mm"])
        box = grid.box(c, deep["shape"]["radius_mm"] * 1.6 + 2)
        blob = (blob_radius(grid, box, c, deep["shape"]) < 1.0) & (sub.wm[box] > 0.3)
        out.labels[box][blob] = WMH


def tissue_fractions(sub: Subject, out: LesionBuild, kind: str, params: dict) -> None:
    """Turn labels into tissue fractions: oedema and WMH replace white matter, tumour replaces all."""
    if not out.labels.any():
        return
    idx = np.argwhere(out.labels > 0)
    lo = np.maximum(idx.min(0) - 3, 0)
    hi = np.minimum(idx.max(0) + 4, sub.grid.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    lab = out.labels[box]
    gm, wm, csf = sub.gm[box], sub.wm[box], sub.csf[box]
    parenchyma = np.clip((wm + 0.5 * gm) / np.maximum(gm + wm + csf, 1e-3), 0.0, 1.0)
    names = {
        NECROSIS: "necrosis",
        EDEMA: "edema",
        ENHANCING: "meningioma" if kind == "meningioma" else "enhancing",
        INFARCT: "infarct",
        WMH: "wmh",
    }
    for value, name in names.items():
        m = lab == value
        if not m.any():
            continue
        f = soften(m)
        if value in (EDEMA, WMH):
            f *= parenchyma
        elif value == INFARCT:
            f *= np.clip((gm + wm) / np.maximum(gm + wm + csf, 1e-3), 0.0, 1.0)
        full = np.zeros(sub.grid.shape, dtype=np.float32)
        full[box] = f
        out.fractions[name] = full
    if kind in ("glioma", "metastases", "meningioma"):
        tex = np.ones(sub.grid.shape, dtype=np.float32)
        tex[box] = texture(params["texture_seed"], lab.shape, 0.08 if kind == "meningioma" else 0.15)
        out.texture = tex
