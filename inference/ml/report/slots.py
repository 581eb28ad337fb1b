"""Slot values shared by every writer: how a location, a size or a signal is put into words.

Region words come from the schema's ``coarse_region`` column and sides from its ``side`` column,
so the same code words Hammers and demo-atlas reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inference.ml.report.features import RegionOverlap

VENTRICLES = ("lateral ventricle", "third ventricle", "fourth ventricle")
POSTERIOR_FOSSA = ("cerebellum", "vermis", "brainstem")
DEEP_GREY = ("basal ganglia", "thalamus")
MIDLINE_STRUCTURES = ("third ventricle", "corpus callosum")
DISPLAY = {"cingulate": "cingulate gyrus", "vermis": "cerebellar vermis", "cerebellum": "cerebellar hemisphere"}
SEQUENCE_NAMES = {
    "T1": "T1WI",
    "T1CE": "contrast-enhanced T1WI",
    "T2": "T2WI",
    "FLAIR": "FLAIR",
    "DWI": "DWI",
    "ADC": "the ADC map",
}
SIGNAL_ORDER = ("T1", "T2", "FLAIR", "DWI", "ADC")  # T1CE is described as enhancement
ENHANCEMENT = {
    "ring": "ring enhancement",
    "nodular": "nodular enhancement",
    "heterogeneous": "heterogeneous enhancement",
    "homogeneous": "homogeneous enhancement",
    "none": "no enhancement",
}


def region_word(coarse_region: str) -> str:
    return DISPLAY.get(coarse_region, coarse_region)


def _join(words: Sequence[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _phrase(words: list[str]) -> str:
    if len(words) > 1 and all(w.endswith(" lobe") for w in words):
        return _join([w[: -len(" lobe")] for w in words]) + " lobes"
    return _join(words)


def location_phrase(regions: Sequence[RegionOverlap]) -> str:
    """'left frontal and parietal lobes', 'bilateral thalamus', 'right insular lobe and putamen'."""
    by_side: dict[str, list[str]] = {}
    for region in regions:
        word = region_word(region.coarse_region)
        words = by_side.setdefault(region.side, [])
        if word not in words:
            words.append(word)
    if not by_side:
        return "brain parenchyma"
    if "left" in by_side and "right" in by_side and by_side["left"] == by_side["right"]:
        words = [w[: -len(" lobe")] + " lobes" if w.endswith(" lobe") else w for w in by_side.pop("left")]
        by_side.pop("right")
        by_side = {"bilateral": words, **by_side}
    parts = []
    for side, words in sorted(by_side.items(), key=lambda kv: kv[0] == "midline"):  # midline last
        phrase = _phrase(words) if side != "bilateral" else _join(words)
        parts.append(phrase if side == "midline" else f"{side} {phrase}")
    return _join(parts)


def size_phrase(diameters_mm: Sequence[float]) -> str:
    return " x ".join(str(int(round(v))) for v in diameters_mm) + " mm"


def _signal_words(category: str) -> str:
    return "isointense signal" if category == "iso" else f"{category} signal"


def signal_phrase(signal: Mapping[str, str], necrosis: Mapping[str, str] | None = None) -> str:
    """'slightly low signal on T1WI, high signal on T2WI and high signal on FLAIR'."""
    parts = []
    for modality in SIGNAL_ORDER:
        if modality not in signal:
            continue
        words = _signal_words(signal[modality])
        centre = (necrosis or {}).get(modality)
        if centre is not None and centre != signal[modality]:
            words += f" with a {centre}-signal centre"
        parts.append(f"{words} on {SEQUENCE_NAMES[modality]}")
    return _join(parts) if parts else ""


def enhancement_phrase(pattern: str) -> str:
    return ENHANCEMENT.get(pattern, f"{pattern} enhancement")
