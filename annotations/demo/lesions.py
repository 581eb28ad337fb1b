"""Lesion kinds: parameters sampled in template space before the warp, painted on the subject after it.

Sampling happens before the warp because space-occupying lesions push the anatomy aside, and the
warp needs to know where and how hard. Painting (``paint.py``) happens after it, so oedema can
follow the subject's own white matter and an infarct its own vascular territory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from .anatomy import Anatomy, load_anatomy
from .deform import MassEffect
from .paint import (
    LOBES,
    LesionBuild,
    Subject,
    drop_fragments,
    paint_infarct,
    paint_meningioma,
    paint_tumour,
    paint_wmh,
    territory_mask,
    tissue_fractions,
)
from .shapes import sample_blob

KINDS = ("healthy", "glioma", "metastases", "meningioma", "infarct", "wmh")
TERRITORIES = ("MCA", "ACA", "PCA", "lacunar")
TERRITORY_WEIGHTS = (0.55, 0.15, 0.15, 0.15)  # of acute infarcts, in the order of TERRITORIES
__all__ = [
    "KINDS",
    "TERRITORIES",
    "TERRITORY_WEIGHTS",
    "territory_weights",
    "LesionBuild",
    "Subject",
    "build_lesion",
    "mass_effects",
    "sample_lesion_params",
    "warm_caches",
]


def _pick(rng: np.random.Generator, candidates: np.ndarray, anat: Anatomy) -> np.ndarray:
    flat = int(candidates[rng.integers(len(candidates))])
    ijk = np.array(np.unravel_index(flat, anat.shape), dtype=float)
    return anat.world(ijk)


@functools.cache
def _candidates(name: str) -> np.ndarray:
    """Flat template indices where a lesion of a given kind may be centred (cached per process)."""
    a = load_anatomy()
    x, y, z = np.meshgrid(
        *[a.affine[i, i] * np.arange(n) + a.affine[i, 3] for i, n in enumerate(a.shape)], indexing="ij", sparse=True
    )
    lobes = np.isin(a.labels, LOBES)
    if name == "glioma":
        ok = np.isin(a.labels, LOBES + (9, 10)) & (a.wm > 0.6) & (a.depth > 22)
    elif name == "metastases":
        ok = np.isin(a.labels, LOBES + (25, 26)) & (a.gm > 0.25) & (a.gm < 0.75) & (a.wm > 0.2) & (a.depth > 6)
    elif name == "meningioma":
        ok = lobes & (a.depth >= 1.5) & (a.depth <= 3.5) & (z > -15)
    elif name == "wmh":
        ok = lobes & (a.wm > 0.85) & (a.depth > 12)
    elif name.startswith("infarct:"):
        _, territory, side = name.split(":")
        ok = territory_mask(territory, side, a.labels, x, y, z) & (a.gm + a.wm > 0.8)
    else:
        raise ValueError(name)
    return np.flatnonzero(ok)


def warm_caches() -> None:
    """Load the anatomy and every candidate list (a few seconds), e.g. before forking workers."""
    load_anatomy()
    for name in ("glioma", "metastases", "meningioma", "wmh"):
        _candidates(name)
    for territory in TERRITORIES:
        for side in ("left", "right"):
            _candidates(f"infarct:{territory}:{side}")


def _outward_normal(anat: Anatomy, point_mm: np.ndarray) -> np.ndarray:
    ijk = np.round(anat.voxel(point_mm)).astype(int)
    sl = tuple(slice(i - 3, i + 4) for i in ijk)
    grad = np.array([g[3, 3, 3] for g in np.gradient(anat.depth[sl].astype(np.float64))])
    n = -grad / max(np.linalg.norm(grad), 1e-6)
    return n


def territory_weights(lacunar_share: float | None = None) -> tuple[float, ...]:
    """Probabilities of TERRITORIES for an infarct; ``lacunar_share`` replaces the lacunar one and
    scales the others to fill the rest (None: the natural mix)."""
    if lacunar_share is None:
        return TERRITORY_WEIGHTS
    if not 0.0 <= lacunar_share <= 1.0:
        raise ValueError(f"lacunar_share must be from 0 to 1, not {lacunar_share}")
    rest = sum(TERRITORY_WEIGHTS[:-1])
    return (*(w * (1.0 - lacunar_share) / rest for w in TERRITORY_WEIGHTS[:-1]), lacunar_share)


def sample_lesion_params(
    kind: str,
    rng: np.random.Generator,
    to_subject: Callable[[np.ndarray], np.ndarray],
    skull: bool = False,
    accept: Callable[[np.ndarray], bool] | None = None,
    lacunar_share: float | None = None,
) -> dict:
    """Draw where and what the lesion is; ``to_subject`` maps template mm to the subject's mm.

    ``skull``: the subject keeps its skull, so an extra-axial mass grows inwards instead of into
    the space a skull-stripped template leaves around the brain. ``accept``: whether a subject
    position is brain tissue, for subjects that an affine only roughly aligns with the template.
    ``lacunar_share``: the share of infarcts that are lacunes (see ``territory_weights``).
    """
    anat = load_anatomy()

    def place(candidates: str) -> list[float]:
        for _ in range(50):
            point = to_subject(_pick(rng, _candidates(candidates), anat))
            if accept is None or accept(point):
                break
        return np.round(point, 3).tolist()

    if kind == "healthy":
        return {}
    if kind == "glioma":
        radius = float(rng.uniform(12.0, 22.0))
        edema_margin = float(rng.uniform(8.0, 24.0))
        return {
            "centre_mm": place("glioma"),
            "core": sample_blob(rng, radius, elongation=0.3, irregularity=0.3),
            "necrosis": bool(rng.random() < 0.85),
            "necrosis_blob": sample_blob(rng, radius * rng.uniform(0.45, 0.7), elongation=0.3, irregularity=0.3),
            "edema": sample_blob(rng, radius + edema_margin, elongation=0.35, irregularity=0.4),
            # Tumour and oedema both take up room; the push grows with both.
            "mass_radius_mm": round(radius * float(rng.uniform(0.6, 0.85)) + 0.25 * edema_margin, 3),
            "mass_reach_mm": round(float(rng.uniform(25.0, 40.0)), 3),
            "texture_seed": int(rng.integers(2**31 - 1)),
        }
    if kind == "metastases":
        centres: list[list[float]] = []
        for _ in range(200):
            if len(centres) >= int(rng.integers(2, 6)):
                break
            c = place("metastases")
            if all(np.linalg.norm(np.subtract(c, o)) > 25 for o in centres):
                centres.append(c)
        lesions = []
        for c in centres:
            r = float(rng.uniform(3.5, 11.0))
            lesions.append(
                {
                    "centre_mm": c,
                    "core": sample_blob(rng, r, elongation=0.15, irregularity=0.1),
                    "necrosis": bool(r >= 5.5),
                    "edema": sample_blob(rng, r + rng.uniform(4.0, 16.0), elongation=0.3, irregularity=0.3),
                }
            )
        return {"lesions": lesions, "texture_seed": int(rng.integers(2**31 - 1))}
    if kind == "meningioma":
        template_point = _pick(rng, _candidates("meningioma"), anat)
        radius = float(rng.uniform(10.0, 24.0))
        return {
            "surface_mm": np.round(to_subject(template_point), 3).tolist(),
            "normal": np.round(_outward_normal(anat, template_point), 4).tolist(),
            "core": sample_blob(rng, radius, elongation=0.15, irregularity=0.08),
            "outward_offset": -0.2 if skull else 0.3,  # centre above the brain surface, in radii
            "dural_tail": bool(rng.random() < 0.7),
            "edema": sample_blob(rng, radius + rng.uniform(5.0, 14.0), elongation=0.3, irregularity=0.3)
            if radius > 15 and rng.random() < 0.5
            else None,
            "texture_seed": int(rng.integers(2**31 - 1)),
        }
    if kind == "infarct":
        territory = str(rng.choice(TERRITORIES, p=list(territory_weights(lacunar_share))))
        side = str(rng.choice(["left", "right"]))
        lo, hi = (3.0, 7.5) if territory == "lacunar" else (12.0, 32.0)
        return {
            "territory": territory,
            "side": side,
            "seed_mm": place(f"infarct:{territory}:{side}"),
            "shape": sample_blob(
                rng, rng.uniform(lo, hi), elongation=0.3, irregularity=0.15 if territory == "lacunar" else 0.35
            ),
        }
    if kind == "wmh":
        grade = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
        thickness = {1: (2.0, 4.0), 2: (4.0, 7.0), 3: (7.0, 11.0)}[grade]
        n_deep = int(rng.integers(*{1: (1, 5), 2: (3, 10), 3: (6, 16)}[grade]))
        return {
            "fazekas": grade,
            "periventricular_mm": round(float(rng.uniform(*thickness)), 3),
            "periventricular_noise": np.round(rng.normal(0.0, 1.0, (1, 6, 7, 6)), 4).tolist(),
            "deep": [
                {
                    "centre_mm": place("wmh"),
                    "shape": sample_blob(rng, rng.uniform(1.5, 2.5 + grade), elongation=0.4, irregularity=0.2),
                }
                for _ in range(n_deep)
            ],
        }
    raise ValueError(f"unknown lesion kind {kind!r}")


def mass_effects(kind: str, params: dict) -> list[MassEffect]:
    """The pushes a lesion exerts on the surrounding anatomy (none for infarcts and WMH)."""
    if kind == "glioma":
        return [MassEffect(tuple(params["centre_mm"]), params["mass_radius_mm"], params["mass_reach_mm"])]
    if kind == "metastases":
        return [
            MassEffect(tuple(le["centre_mm"]), 0.7 * le["core"]["radius_mm"], 10.0)
            for le in params["lesions"]
            if le["core"]["radius_mm"] >= 6.0
        ]
    if kind == "meningioma":
        r = params["core"]["radius_mm"]
        centre = np.asarray(params["surface_mm"]) + params["outward_offset"] * r * np.asarray(params["normal"])
        return [MassEffect(tuple(centre.tolist()), 0.6 * r, 18.0)]
    return []


def build_lesion(kind: str, params: dict, sub: Subject) -> LesionBuild:
    """Paint the ground-truth lesion labels and the tissue fractions the contrasts are made from."""
    out = LesionBuild(labels=np.zeros(sub.grid.shape, dtype=np.uint8))
    if kind == "glioma":
        c = np.asarray(params["centre_mm"])
        necrosis = params["necrosis_blob"] if params["necrosis"] else None
        paint_tumour(sub, out, c, params["core"], necrosis, params["edema"], margin=4.0)
    elif kind == "metastases":
        for le in params["lesions"]:
            c = np.asarray(le["centre_mm"])
            nec = dict(le["core"], radius_mm=le["core"]["radius_mm"] * 0.5) if le["necrosis"] else None
            paint_tumour(sub, out, c, le["core"], nec, le["edema"], margin=3.0)
    elif kind == "meningioma":
        paint_meningioma(sub, out, params)
    elif kind == "infarct":
        paint_infarct(sub, out, params)
    elif kind == "wmh":
        paint_wmh(sub, out, params)
    if kind != "wmh":
        drop_fragments(out.labels)
        if out.extra_axial is not None:
            out.extra_axial &= out.labels > 0
    tissue_fractions(sub, out, kind, params)
    return out
