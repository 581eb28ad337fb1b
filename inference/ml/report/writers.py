"""Sentences from measurements: a pluggable writer, with a template phrasebook as the default.

A writer turns ``CaseFeatures`` into grounded ``Sentence``s. The default ``TemplateWriter`` fills a
``Phrasebook`` of format strings with slot values (``slots.py``); the same slot values are what a
retrieval-based writer needs to adapt a clinician's accepted sentence to a new case, so a writer
that learns from edits can replace the phrasebook without touching feature extraction. Writers
are looked up by name in ``WRITERS`` (an explicit registry, not discovery).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from inference.ml.report.features import CaseFeatures, LesionFeatures
from inference.ml.report.slots import (
    DEEP_GREY,
    MIDLINE_STRUCTURES,
    POSTERIOR_FOSSA,
    VENTRICLES,
    enhancement_phrase,
    location_phrase,
    signal_phrase,
    size_phrase,
)
from inference.ml.schema import LabelSchema

SENTENCE_KINDS = ("lesion", "normal", "global")


@dataclass
class Sentence:
    """One report sentence and what it is grounded in (label ids, lesion component, numbers)."""

    text: str
    region_label_ids: list[int]
    lesion_component: int | None
    kind: str  # lesion | normal | global
    features: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "region_label_ids": list(self.region_label_ids),
            "lesion_component": self.lesion_component,
            "kind": self.kind,
            "features": self.features,
        }


class ReportWriter(Protocol):
    name: str

    def write(self, features: CaseFeatures, schema: LabelSchema) -> list[Sentence]: ...


@dataclass(frozen=True)
class Phrasebook:
    """Format strings of the template writer; slots in braces (see ``slots.py``)."""

    mass: str = "A {shape} {noun} is seen in the {location}, measuring approximately {size}."
    extra_axial: str = "An extra-axial mass is seen adjacent to the {location}, measuring approximately {size}."
    signal_abnormality: str = "An area of abnormal signal is seen in the {location}, measuring approximately {size}."
    wmh: str = "Multiple white matter hyperintensities are seen in the {location}."
    wmh_signal: str = "They show {signals}."
    signal: str = "It shows {signals}{enhancement}."
    enhancement: str = ", with {pattern} after contrast"
    restricted: str = "Diffusion is restricted, with high signal on DWI and low signal on the ADC map."
    edema: str = "There is {extent} surrounding edema."
    compressed: str = "The {side} lateral ventricle is compressed."
    shift: str = "There is a midline shift of {mm} mm to the {direction}."
    centred: str = "Midline structures are centred."
    ventricles_normal: str = "The ventricular system is normal in size and configuration."
    fossa_normal: str = "The brainstem and cerebellum are unremarkable."
    deep_grey_normal: str = "The basal ganglia and thalami are unremarkable."
    cerebral_normal: str = "Grey-white matter differentiation is preserved in {which} cerebral lobes."
    no_lesion: str = "No focal lesion is identified."


DEFAULT_PHRASEBOOK = Phrasebook()
MAX_LESIONS_DESCRIBED = 6
MIN_DESCRIBED_ML = 0.1  # specks below this are more often segmentation noise than findings


def _ids(schema: LabelSchema, regions: tuple[str, ...]) -> list[int]:
    return sorted(lab.index for lab in schema.labels if lab.coarse_region in regions)


def lesion_summary(lesion: LesionFeatures) -> dict[str, Any]:
    """The measured numbers a lesion sentence carries (and the consistency checker re-reads)."""
    return {
        "component": lesion.component,
        "side": lesion.side,
        "regions": lesion.coarse_regions,
        "diameters_mm": [round(v, 1) for v in lesion.diameters_mm],
        "volume_ml": round(lesion.volume_ml, 2),
        "edema_ml": round(lesion.edema_ml, 2),
        "finding": lesion.finding,
        "enhancement": lesion.enhancement,
        "signal": dict(lesion.signal),
        "restricted_diffusion": lesion.restricted_diffusion,
    }


@dataclass
class TemplateWriter:
    """Deterministic sentences from a phrasebook; the fallback when nothing has been learnt yet."""

    phrasebook: Phrasebook = DEFAULT_PHRASEBOOK
    name: str = "templates"

    def write(self, features: CaseFeatures, schema: LabelSchema) -> list[Sentence]:
        kept = [
            lesion
            for lesion in features.lesions
            if lesion.volume_ml >= MIN_DESCRIBED_ML or lesion.finding == "white matter hyperintensity"
        ]
        features = replace(features, lesions=kept)
        sentences: list[Sentence] = []
        wmh = [lesion for lesion in features.lesions if lesion.finding == "white matter hyperintensity"]
        others = [lesion for lesion in features.lesions if lesion.finding != "white matter hyperintensity"]
        for lesion in others[:MAX_LESIONS_DESCRIBED]:
            sentences += self.lesion_sentences(lesion)
        if wmh and features.wmh_group is not None:
            sentences += self.wmh_sentences(features.wmh_group, wmh)
        sentences += self.global_sentences(features, schema)
        sentences += self.normal_sentences(features, schema)
        return sentences

    def lesion_sentences(self, lesion: LesionFeatures) -> list[Sentence]:
        book = self.phrasebook
        ids, component = lesion.region_label_ids, lesion.component
        summary = lesion_summary(lesion)
        location = location_phrase(lesion.regions)
        size = size_phrase(lesion.diameters_mm)
        if lesion.extra_axial:
            first = book.extra_axial.format(location=location, size=size)
        elif lesion.finding in ("infarct", "signal abnormality"):
            first = book.signal_abnormality.format(location=location, size=size)
        else:
            d = lesion.diameters_mm
            shape = "round" if d[0] < 1.3 * d[2] else "irregular"
            first = book.mass.format(shape=shape, noun=lesion.finding, location=location, size=size)
        first = first.replace("A irregular", "An irregular")
        out = [Sentence(first, ids, component, "lesion", summary)]
        signals = signal_phrase(lesion.signal, lesion.necrosis_signal)
        if signals:
            enhancement = ""
            if lesion.enhancement is not None:
                enhancement = book.enhancement.format(pattern=enhancement_phrase(lesion.enhancement))
            text = book.signal.format(signals=signals, enhancement=enhancement)
            out.append(
                Sentence(
                    text, ids, component, "lesion", {"signal": dict(lesion.signal), "enhancement": lesion.enhancement}
                )
            )
        if lesion.restricted_diffusion:
            out.append(Sentence(book.restricted, ids, component, "lesion", {"restricted_diffusion": True}))
        if lesion.edema_ml >= 0.02:
            ratio = lesion.edema_ratio
            extent = "extensive" if ratio > 2.0 else "mild" if ratio < 0.5 else "moderate"
            out.append(
                Sentence(
                    book.edema.format(extent=extent), ids, component, "lesion", {"edema_ml": round(lesion.edema_ml, 2)}
                )
            )
        return out

    def wmh_sentences(self, group: LesionFeatures, lesions: list[LesionFeatures]) -> list[Sentence]:
        """White-matter hyperintensities are reported together (grounded in no single component)."""
        ids = group.region_label_ids
        summary = lesion_summary(group)
        summary["component"] = None
        summary["components"] = [lesion.component for lesion in lesions]
        out = [
            Sentence(self.phrasebook.wmh.format(location=location_phrase(group.regions)), ids, None, "lesion", summary)
        ]
        signals = signal_phrase(group.signal)
        if signals:
            out.append(
                Sentence(
                    self.phrasebook.wmh_signal.format(signals=signals),
                    ids,
                    None,
                    "lesion",
                    {"signal": dict(group.signal)},
                )
            )
        return out

    def global_sentences(self, features: CaseFeatures, schema: LabelSchema) -> list[Sentence]:
        book = self.phrasebook
        out = []
        side = features.compressed_ventricle_side
        if side is not None:
            ids = [i for i in _ids(schema, ("lateral ventricle",)) if schema.label(i).side == side]
            out.append(
                Sentence(
                    book.compressed.format(side=side),
                    ids,
                    None,
                    "global",
                    {"ventricle_ratio": features.ventricle_ratio},
                )
            )
        midline_ids = _ids(schema, MIDLINE_STRUCTURES)
        shift = features.midline_shift_mm
        if abs(shift) >= 2.0:
            text = book.shift.format(mm=f"{abs(shift):.0f}", direction="right" if shift > 0 else "left")
        else:
            text = book.centred
        out.append(Sentence(text, midline_ids, None, "global", {"midline_shift_mm": shift}))
        return out

    def normal_sentences(self, features: CaseFeatures, schema: LabelSchema) -> list[Sentence]:
        book = self.phrasebook
        involved = {label_id for lesion in features.lesions for label_id in lesion.region_label_ids}
        out = []
        ventricles = _ids(schema, VENTRICLES)
        if ventricles and not involved & set(ventricles) and features.compressed_ventricle_side is None:
            out.append(Sentence(book.ventricles_normal, ventricles, None, "normal"))
        fossa = _ids(schema, POSTERIOR_FOSSA)
        if fossa and not involved & set(fossa):
            out.append(Sentence(book.fossa_normal, fossa, None, "normal"))
        deep = _ids(schema, DEEP_GREY)
        if deep and not involved & set(deep):
            out.append(Sentence(book.deep_grey_normal, deep, None, "normal"))
        special = set(VENTRICLES) | set(POSTERIOR_FOSSA) | set(DEEP_GREY) | set(MIDLINE_STRUCTURES)
        cerebral = sorted(
            lab.index for lab in schema.labels if lab.coarse_region not in special and lab.index not in involved
        )
        if cerebral:
            which = "the remaining" if features.lesions else "the"
            out.append(Sentence(book.cerebral_normal.format(which=which), cerebral, None, "normal"))
        return out


WRITERS: dict[str, Callable[[], ReportWriter]] = {
    "templates": TemplateWriter,
}


def get_writer(name: str) -> ReportWriter:
    try:
        return WRITERS[name]()
    except KeyError:
        raise ValueError(f"unknown report writer {name!r}; known: {sorted(WRITERS)}") from None
