"""RadGenome-Brain-style report text from measured findings, with seeded paraphrase.

Every sentence carries the structure labels it is grounded in and, for lesion sentences, the
lesion component it describes. Wordings live in ``phrases.py``; this module decides what is said.
"""

from __future__ import annotations

import numpy as np

from . import schema
from .findings import CaseFindings, LesionFinding
from .phrases import ENHANCEMENT, PHRASES, SIZE

SEQ_NAME = {
    "T1": "T1WI",
    "T1CE": "contrast-enhanced T1WI",
    "T2": "T2WI",
    "FLAIR": "FLAIR",
    "DWI": "DWI",
    "ADC": "the ADC map",
}
NOUN = {"glioma": "mass", "metastases": "lesion", "meningioma": "extra-axial mass", "infarct": "lesion"}
FOSSA = (25, 26, 29, 30)
DEEP_GREY = (17, 18, 19, 20, 21, 22, 23, 24)
VENTRICLES = (27, 28, 31)
MIDLINE = (31, 32)
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class _Writer:
    """Picks wordings with the case's report seed."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def say(self, key: str, **slots: object) -> str:
        return str(self.rng.choice(PHRASES[key])).format(**slots)

    def choice(self, options: tuple[str, ...] | list[str]) -> str:
        return str(self.rng.choice(options))


def _sentence(
    text: str, regions: list[int] | tuple[int, ...], component: int | None, modality: str | None, kind: str
) -> dict:
    return {
        "text": text,
        "region_label_ids": sorted(int(r) for r in regions),
        "lesion_component": component,
        "modality": modality,
        "kind": kind,
    }


def _plural(word: str) -> str:
    return word[:-4] + "lobes" if word.endswith(" lobe") else word


def location(ids: list[int]) -> str:
    """'left frontal and parietal lobes', 'right temporal lobe, insular lobe and basal ganglia'."""
    groups: dict[str, list[str]] = {}
    for i in ids:
        s = schema.BY_INDEX[i]
        word = {"cingulate": "cingulate gyrus", "vermis": "cerebellar vermis"}.get(s.coarse_region, s.coarse_region)
        if word not in groups.setdefault(s.side, []):
            groups[s.side].append(word)
    if set(groups) >= {"left", "right"} and groups["left"] == groups["right"]:
        midline = {k: v for k, v in groups.items() if k == "midline"}
        groups = {"bilateral": groups["left"], **midline}
    parts = []
    for side, words in groups.items():
        if len(words) > 1 and all(w.endswith(" lobe") for w in words):
            phrase = ", ".join(w[:-5] for w in words[:-1]) + " and " + words[-1][:-5] + " lobes"
        elif len(words) > 1:
            phrase = ", ".join(words[:-1]) + " and " + words[-1]
        else:
            phrase = _plural(words[0]) if side == "bilateral" else words[0]
        parts.append(phrase if side == "midline" else f"{side} {phrase}")
    return " and ".join(parts) if parts else "brain parenchyma"


def _signal(cat: str, w: _Writer) -> str:
    return w.choice(["isointense signal", "iso-signal"]) if cat == "iso" else f"{cat} signal"


def _mixed(core: str, necrosis: str | None, w: _Writer) -> str:
    """Signal of a lesion whose centre may differ from its solid part."""
    if necrosis is None or necrosis == core:
        return _signal(core, w)
    if w.rng.random() < 0.5:
        return f"mixed {'iso-' if core == 'iso' else core} and {necrosis} signal"
    return f"{_signal(core, w)} with a {necrosis}-signal centre"


def _size(d: tuple[float, float, float], w: _Writer) -> str:
    a, b, c = (int(round(v)) for v in d)
    return w.choice(SIZE).format(a=a, b=b, c=c)


def lesion_sentences(kind: str, f: LesionFinding, modalities: list[str], w: _Writer, params: dict) -> list[dict]:
    """Location and size, signal across sequences, diffusion and edema of one finding."""
    loc = location(f.region_ids)
    out = []

    def add(text: str) -> None:
        out.append(_sentence(text, f.region_ids, f.component, None, "lesion"))

    if kind == "wmh":
        text = w.say("wmh", loc=loc)
        if params.get("fazekas"):
            text += w.say("fazekas", grade=params["fazekas"])
        add(text)
    elif kind in ("meningioma", "infarct"):
        add(w.say(kind, loc=loc, size=_size(f.diameters_mm, w)))
    else:
        shape = "round" if max(f.diameters_mm) < 1.3 * min(f.diameters_mm) else "irregular"
        a = "an" if shape == "irregular" else "a"
        add(w.say("mass", A=a.capitalize(), a=a, shape=shape, noun=NOUN[kind], loc=loc, size=_size(f.diameters_mm, w)))
    parts = [
        f"{_mixed(f.signal[m], f.necrosis_signal.get(m), w)} on {SEQ_NAME[m]}"
        for m in modalities
        if m != "T1CE" and m in f.signal
    ]
    if parts:
        text = w.say("signal_lead_wmh" if kind == "wmh" else "signal_lead")
        text += ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        if f.enhancement is not None:
            text += ", with " + w.choice(ENHANCEMENT[f.enhancement]) + " after contrast"
        add(text + ".")
    if f.restricted_diffusion:
        add(w.say("restricted"))
    if f.has_edema:
        extent = "extensive" if f.edema_ratio > 2.0 else ("mild" if f.edema_ratio < 0.5 else "moderate")
        add(w.say("edema", extent=extent, Extent=extent.capitalize()))
    return out


def modal_sentence(kind: str, f: LesionFinding, modality: str, w: _Writer) -> str:
    """What one sequence shows of one finding, as RadGenome-Brain's modal-wise findings do."""
    loc = location(f.region_ids)
    what = "the white matter hyperintensities" if kind == "wmh" else f"the {NOUN[kind]}"
    at = "adjacent to the" if kind == "meningioma" else "in the"
    plural = kind == "wmh"
    show, demonstrate = ("show", "demonstrate") if plural else ("shows", "demonstrates")
    if modality == "T1CE":
        enhancement = w.choice(ENHANCEMENT[f.enhancement or "none"])
        return w.say(
            "modal_enhancement", what=what, at=at, loc=loc, show=show, demonstrate=demonstrate, enhancement=enhancement
        )
    signal = _mixed(f.signal[modality], f.necrosis_signal.get(modality), w)
    text = w.say(
        "modal_signal",
        seq=SEQ_NAME[modality],
        what=what,
        What=what[0].upper() + what[1:],
        at=at,
        loc=loc,
        exhibit="exhibit" if plural else "exhibits",
        show=show,
        signal=signal,
        Signal=signal[0].upper() + signal[1:],
    )
    edema = f.edema_signal.get(modality) if f.has_edema else None
    if edema and edema != "iso":
        text += " " + w.say("modal_edema", signal=_signal(edema, w))
    return text


def _normal_sentences(cf: CaseFindings, w: _Writer) -> list[dict]:
    out = []
    involved = cf.involved_ids
    if not cf.compressed_ventricles and not involved & set(VENTRICLES):
        out.append(_sentence(w.say("normal_ventricles"), VENTRICLES, None, None, "normal"))
    if not involved & set(FOSSA):
        out.append(_sentence(w.say("normal_fossa"), FOSSA, None, None, "normal"))
    if not involved & set(DEEP_GREY):
        out.append(_sentence(w.say("normal_deep_grey"), DEEP_GREY, None, None, "normal"))
    other = [i for i in range(1, 17) if i not in involved]
    if other:
        the = "the remaining" if cf.lesions else "the"
        out.append(_sentence(w.say("normal_lobes", the=the, The=the.capitalize()), other, None, None, "normal"))
    return out


def _global_sentences(cf: CaseFindings, w: _Writer) -> list[dict]:
    out = []
    if cf.compressed_ventricles:
        many = len(cf.compressed_ventricles) > 1
        text = w.say(
            "compressed",
            sides=" and ".join(cf.compressed_ventricles),
            noun="lateral ventricles" if many else "lateral ventricle",
            verb="are" if many else "is",
        )
        ids = [schema.LATERAL_VENTRICLE[0 if s == "left" else 1] for s in cf.compressed_ventricles]
        out.append(_sentence(text, ids, None, None, "global"))
    if cf.shift_direction:
        mm = f"{cf.midline_shift_mm:.0f} mm" if cf.midline_shift_mm >= 2 else "about 1-2 mm"
        out.append(_sentence(w.say("shift", direction=cf.shift_direction, mm=mm), MIDLINE, None, None, "global"))
    else:
        out.append(_sentence(w.say("no_shift"), MIDLINE, None, None, "global"))
    return out


def _impression(kind: str, cf: CaseFindings, params: dict, w: _Writer) -> str:
    if not cf.lesions:
        return w.say("impression_normal")
    f = cf.lesions[0]
    loc = location(f.region_ids)
    big_shift = cf.shift_direction and cf.midline_shift_mm >= 2
    shift = f", with {cf.midline_shift_mm:.0f} mm midline shift to the {cf.shift_direction}" if big_shift else ""
    if kind == "glioma":
        necrosis = "central necrosis and " if f.has_necrosis else ""
        return w.say("impression_glioma", loc=loc, Loc=loc[0].upper() + loc[1:], necrosis=necrosis, shift=shift)
    if kind == "metastases":
        n = len(cf.lesions)
        if n == 1:
            return w.say("impression_metastasis", loc=loc)
        return w.say("impression_metastases", loc=loc, many=f"{NUMBER_WORDS.get(n, str(n))} enhancing lesions")
    if kind == "meningioma":
        return w.say("impression_meningioma", loc=loc, shift=shift)
    if kind == "infarct":
        territory = params.get("territory", "")
        territory = "lacunar" if territory == "lacunar" else f"{f.side} {territory}-territory"
        return w.say("impression_infarct", loc=loc, territory=territory)
    return w.say("impression_wmh", grade=params.get("fazekas"))


def write_report(
    kind: str, cf: CaseFindings, modalities: list[str], lesion_params: dict, seed: int
) -> tuple[list[dict], dict[str, str], str, str]:
    """Return (grounded sentences, modal-wise findings, findings paragraph, impression)."""
    w = _Writer(seed)
    sentences: list[dict] = []
    for f in cf.lesions[:6]:
        sentences += lesion_sentences(kind, f, modalities, w, lesion_params)
    sentences += _global_sentences(cf, w)
    sentences += _normal_sentences(cf, w)
    modal: dict[str, str] = {}
    for m in modalities:
        texts = []
        for f in cf.lesions[:6]:
            texts.append(modal_sentence(kind, f, m, w))
            sentences.append(_sentence(texts[-1], f.region_ids, f.component, m, "lesion"))
        if not texts:
            texts = [w.say("modal_normal_contrast") if m == "T1CE" else w.say("modal_normal", seq=SEQ_NAME[m])]
            sentences.append(_sentence(texts[0], [], None, m, "normal"))
        modal[m] = " ".join(texts)
    paragraph = " ".join(s["text"] for s in sentences if s["modality"] is None)
    return sentences, modal, paragraph, _impression(kind, cf, lesion_params, w)
