"""MR signal from tissue classes: relaxation times, diffusivity and sequence timings, not painted grey levels.

Each tissue class has proton density, T1, T2 (3 T, ms), apparent diffusion coefficient
(10^-6 mm^2/s) and a gadolinium concentration. The sequences use the textbook signal equations, so
the contrasts a radiologist expects follow from the physics: CSF dark on T1 and nulled on FLAIR
but bright on T2; vasogenic oedema bright on T2 and FLAIR; enhancing tumour bright only after
contrast; restricted diffusion bright at b = 1000 and dark on the ADC map computed from it.
"""

from __future__ import annotations

import numpy as np

from .deform import FIELD_BOX_MM

MODALITIES = ("T1", "T1CE", "T2", "FLAIR", "DWI", "ADC")

# class: (proton density, T1 ms, T2 ms, ADC 1e-6 mm^2/s, gadolinium mM)
TISSUES: dict[str, tuple[float, float, float, float, float]] = {
    "csf": (1.00, 4000.0, 2000.0, 3000.0, 0.0),
    "gm": (0.80, 1330.0, 100.0, 870.0, 0.0),
    "wm": (0.69, 830.0, 80.0, 720.0, 0.0),
    "necrosis": (0.90, 2500.0, 400.0, 2000.0, 0.0),
    "enhancing": (0.85, 1500.0, 120.0, 1050.0, 0.25),
    "edema": (0.86, 1750.0, 200.0, 1400.0, 0.01),
    "infarct": (0.82, 1450.0, 120.0, 380.0, 0.0),
    "wmh": (0.80, 1100.0, 150.0, 1000.0, 0.0),
    "meningioma": (0.80, 1300.0, 100.0, 800.0, 0.35),
}
LESION_TISSUES = ("edema", "wmh", "infarct", "enhancing", "necrosis", "meningioma")
TEXTURED = ("enhancing", "necrosis", "meningioma")  # solid tumour is heterogeneous; oedema and fluid less so
GD_RELAXIVITY = 4.5  # r1 of a gadolinium agent at 3 T, 1/(mM s)
B_VALUE = 1000.0  # s/mm^2

SEQUENCES: dict[str, dict[str, float]] = {
    "T1": {"TR": 500.0, "TE": 10.0},  # spin-echo T1
    "T1CE": {"TR": 500.0, "TE": 10.0},
    "T2": {"TR": 4000.0, "TE": 100.0},
    "FLAIR": {"TR": 9000.0, "TE": 120.0, "TI": 2400.0},
    "DWI": {"TR": 5000.0, "TE": 80.0, "b": B_VALUE},
}


def sample_contrast_params(rng: np.random.Generator) -> dict:
    """Scanner-to-scanner variation: timings, tissue properties, gain, bias field and noise."""
    seq = {
        name: {k: round(float(v * rng.uniform(0.92, 1.08)), 1) if k != "b" else v for k, v in p.items()}
        for name, p in SEQUENCES.items()
    }
    seq["T1CE"] = dict(seq["T1"])  # same sequence, before and after contrast
    # FLAIR's inversion time is set to null CSF, as the scanner protocol would be.
    tr, t1_csf = seq["FLAIR"]["TR"], TISSUES["csf"][1]
    seq["FLAIR"]["TI"] = round(float(t1_csf * np.log(2.0 / (1.0 + np.exp(-tr / t1_csf)))), 1)
    tissue_jitter = {name: np.round(rng.uniform(0.95, 1.05, 4), 4).tolist() for name in TISSUES}
    return {
        "sequences": seq,
        "tissue_jitter": tissue_jitter,  # multiplies PD, T1, T2, ADC
        "gain": {m: round(float(rng.uniform(500.0, 1000.0)), 1) for m in MODALITIES if m != "ADC"},
        # log bias field: a quadratic polynomial over the head per sequence (x, y, z, x2, y2, z2, xy, xz, yz)
        "bias_coefficients": np.round(rng.normal(0.0, rng.uniform(0.05, 0.12), (len(MODALITIES), 9)), 4).tolist(),
        "noise_fraction": {m: round(float(rng.uniform(0.012, 0.03)), 4) for m in MODALITIES if m != "ADC"},
        "noise_seed": int(rng.integers(0, 2**31 - 1)),
    }


def tissue_properties(params: dict) -> dict[str, tuple[float, float, float, float, float]]:
    props = {}
    for name, (pd, t1, t2, adc, gd) in TISSUES.items():
        j = params["tissue_jitter"][name]
        props[name] = (pd * j[0], t1 * j[1], t2 * j[2], adc * j[3], gd)
    return props


def tissue_signal(modality: str, props: tuple[float, float, float, float, float], seq: dict) -> float:
    """Signal of one pure tissue on one sequence (arbitrary units, white matter on T1 is about 0.27)."""
    pd, t1, t2, adc, gd = props
    if modality == "T1CE":
        t1 = 1.0 / (1.0 / t1 + GD_RELAXIVITY * gd / 1000.0)
    if modality in ("T1", "T1CE", "T2"):
        return pd * (1 - np.exp(-seq["TR"] / t1)) * np.exp(-seq["TE"] / t2)
    if modality == "FLAIR":
        return pd * abs(1 - 2 * np.exp(-seq["TI"] / t1) + np.exp(-seq["TR"] / t1)) * np.exp(-seq["TE"] / t2)
    if modality == "DWI_B0":
        return pd * (1 - np.exp(-seq["TR"] / t1)) * np.exp(-seq["TE"] / t2)
    if modality == "DWI":
        return tissue_signal("DWI_B0", (pd, t1, t2, adc, gd), seq) * np.exp(-seq["b"] * adc * 1e-6)
    raise ValueError(modality)


def synthesise(
    fractions: dict[str, np.ndarray],
    heterogeneity: np.ndarray | None,
    params: dict,
    modalities: tuple[str, ...],
    axes_mm: list[np.ndarray],
) -> dict[str, np.ndarray]:
    """Mix pure-tissue signals by their voxel fractions, then add bias field and Rician noise.

    ``fractions`` are float32 maps of the tissue classes (summing to at most one); voxels whose sum
    is zero are background and stay exactly zero. ``heterogeneity`` scales the lesion classes'
    signal voxel by voxel, because tumours are not uniform. Returns float32 images; ADC is in
    10^-6 mm^2/s, computed from the noisy b = 0 and b = 1000 images as a scanner would.
    """
    props = tissue_properties(params)
    seqs = params["sequences"]
    shape = next(iter(fractions.values())).shape
    support = np.zeros(shape, dtype=np.float32)
    for f in fractions.values():
        support += f
    inside = support > 0.02
    n_inside = int(inside.sum())
    # Work on the voxels inside the head only: a third of the grid.
    flat = {name: f[inside] for name, f in fractions.items()}
    het = heterogeneity[inside] if heterogeneity is not None else None
    noise_rng = np.random.default_rng(params["noise_seed"])
    ijk = np.nonzero(inside)
    # Head coordinates scaled to about [-1, 1] (the same world box as the warp's control grid).
    u = [
        ((np.asarray(axes_mm[a], dtype=np.float32)[ijk[a]] - (lo + hi) / 2) / ((hi - lo) / 2))
        for a, (lo, hi) in enumerate(FIELD_BOX_MM)
    ]
    terms = (u[0], u[1], u[2], u[0] ** 2, u[1] ** 2, u[2] ** 2, u[0] * u[1], u[0] * u[2], u[1] * u[2])
    coefficients = np.asarray(params["bias_coefficients"], dtype=np.float32)

    def bias(index: int) -> np.ndarray:
        log_field = np.zeros(n_inside, dtype=np.float32)
        for c, t in zip(coefficients[index], terms, strict=True):
            log_field += c * t
        return np.exp(log_field)

    def mix(kind: str, seq: dict) -> np.ndarray:
        img = np.zeros(n_inside, dtype=np.float32)
        for name, frac in flat.items():
            s = np.float32(tissue_signal(kind, props[name], seq))
            img += frac * s * het if het is not None and name in TEXTURED else frac * s
        return img

    def finish(img: np.ndarray, field: np.ndarray, modality: str, reference: float) -> np.ndarray:
        img *= field
        sigma = np.float32(params["noise_fraction"][modality] * reference)
        n1 = noise_rng.standard_normal(n_inside, dtype=np.float32) * sigma
        n2 = noise_rng.standard_normal(n_inside, dtype=np.float32) * sigma
        return np.sqrt((img + n1) ** 2 + n2**2)  # magnitude images carry Rician noise

    def scatter(values: np.ndarray) -> np.ndarray:
        full = np.zeros(shape, dtype=np.float32)
        full[inside] = values
        return full

    wm_ref = {
        m: float(tissue_signal(m if m != "ADC" else "DWI", props["wm"], seqs["DWI" if m == "ADC" else m]))
        for m in MODALITIES
    }
    out: dict[str, np.ndarray] = {}
    for i, m in enumerate(MODALITIES):
        if m in ("ADC", "DWI") or m not in modalities:
            continue
        img = finish(mix(m, seqs[m]), bias(i), m, wm_ref[m])
        out[m] = scatter(img * np.float32(params["gain"][m] / wm_ref[m]))
    if "DWI" in modalities or "ADC" in modalities:
        field = bias(MODALITIES.index("DWI"))
        b0_ref = float(tissue_signal("DWI_B0", props["wm"], seqs["DWI"]))
        b0 = finish(mix("DWI_B0", seqs["DWI"]), field, "DWI", b0_ref)
        b1000 = finish(mix("DWI", seqs["DWI"]), field, "DWI", wm_ref["DWI"])
        if "DWI" in modalities:
            out["DWI"] = scatter(b1000 * np.float32(params["gain"]["DWI"] / wm_ref["DWI"]))
        if "ADC" in modalities:
            adc = np.full(n_inside, 3000.0, dtype=np.float32)
            ok = (b0 > 0) & (b1000 > 0)
            adc[ok] = np.log(b0[ok] / b1000[ok]) / np.float32(seqs["DWI"]["b"]) * np.float32(1e6)
            out["ADC"] = scatter(np.clip(adc, 0.0, 4000.0))
    return out
