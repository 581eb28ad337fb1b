"""Flag sentences whose side, region or size contradict the masks they are grounded in.

The editor shows these warnings next to a sentence while a clinician edits it; they are hints,
never blocks. Text is read with small regular expressions (sides, the schema's region words,
sizes in mm/cm, volumes in mL) and compared with the measured ``CaseFeatures``, with tolerances
wide enough that rounding and a clinician's own calliper measurement do not trigger them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.ml.report.features import CaseFeatures, LesionFeatures, extract_features
from inference.ml.schema import LabelSchema

SIZE_TOLERANCE_MM = 3.0
SIZE_TOLERANCE_FRACTION = 0.25
VOLUME_TOLERANCE_ML = 0.5
VOLUME_TOLERANCE_FRACTION = 0.3
MIDLINE_TOLERANCE_MM = 3.0
NORMAL_OVERLAP_ML = 0.5  # a "normal" region holding at least this much lesion is contradicted
NORMAL_MIN_LESION_ML = 0.1  # specks this small do not contradict "normal" (nor get a sentence)

REGION_PATTERNS: dict[str, str] = {
    "frontal lobe": r"\bfrontal\b",
    "parietal lobe": r"\bparietal\b",
    "temporal lobe": r"\btemporal\b",
    "occipital lobe": r"\boccipital\b",
    "insular lobe": r"\binsula(?:r)?\b",
    "cingulate": r"\bcingulate\b",
    "hippocampus": r"\bhippocamp",
    "amygdala": r"\bamygdal",
    "basal ganglia": r"\bbasal ganglia\b|\bcaudate\b|\bputamen\b|\bpallid|\blentiform\b",
    "thalamus": r"\bthalam",
    "cerebellum": r"\bcerebell(?:um|ar)\b(?! vermis)",
    "vermis": r"\bvermis\b",
    "brainstem": r"\bbrain ?stem\b|\bpons\b|\bmidbrain\b|\bmedulla\b",
    "lateral ventricle": r"\blateral ventricles?\b",
    "third ventricle": r"\bthird ventricle\b",
    "corpus callosum": r"\bcorpus callosum\b",
}
DIRECTIONAL = re.compile(r"\b(?:to|towards|toward) the (?:left|right)\b")
NEGATED = re.compile(r"\bno\b|\bnot\b|\bwithout\b|\bnormal\b|\bunremarkable\b|\bpreserved\b|\bcent(?:red|ered)\b")
MASS_EFFECT = re.compile(r"\bcompress|\beffac|\bnarrow|\bshift|\bdisplac|\bmass effect|\bdilat|\benlarg")
NUMBER = r"(\d+(?:\.\d+)?)"
DIMENSIONS = re.compile(
    rf"{NUMBER}\s*(mm|cm)?(?:\s*(?:x|×|\*|by)\s*{NUMBER}\s*(mm|cm)?)?(?:\s*(?:x|×|\*|by)\s*{NUMBER}\s*(mm|cm)?)?",
    re.IGNORECASE,
)
VOLUME = re.compile(rf"{NUMBER}\s*(?:ml|cc|cm3|cm³)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ConsistencyWarning:
    kind: str  # side | region | size | normal | grounding | midline
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


def region_pattern(coarse_region: str) -> str:
    return REGION_PATTERNS.get(coarse_region, rf"\b{re.escape(coarse_region.split()[0])}")


def mentioned_regions(text: str, schema: LabelSchema) -> set[str]:
    lowered = text.lower()
    return {region for region in schema.coarse_regions() if re.search(region_pattern(region), lowered)}


def mentioned_sides(text: str) -> set[str]:
    lowered = DIRECTIONAL.sub(" ", text.lower())
    sides = set()
    if re.search(r"\bbilateral(?:ly)?\b|\bboth\b", lowered):
        sides.add("bilateral")
    if re.search(r"\bleft\b", lowered):
        sides.add("left")
    if re.search(r"\bright\b", lowered):
        sides.add("right")
    if {"left", "right"} <= sides:
        sides = {"bilateral"}
    return sides


def stated_dimensions(text: str) -> list[list[float]]:
    """Groups of sizes in mm: '31 x 19 x 18 mm' → [[31, 19, 18]]; '3 cm' → [[30]]."""
    groups = []
    for match in DIMENSIONS.finditer(text):
        numbers = [match.group(i) for i in (1, 3, 5)]
        units = [match.group(i) for i in (2, 4, 6)]
        if not any(units):
            continue  # a bare number (a grade, a count) is not a size
        trailing = next((u for u in reversed(units) if u), "mm").lower()
        values = []
        for number, unit in zip(numbers, units, strict=True):
            if number is None:
                continue
            scale = 10.0 if (unit or trailing).lower() == "cm" else 1.0
            values.append(float(number) * scale)
        groups.append(values)
    return groups


def stated_volumes(text: str) -> list[float]:
    return [float(m.group(1)) for m in VOLUME.finditer(text)]


def _size_off(stated: float, measured: float) -> bool:
    return abs(stated - measured) > max(SIZE_TOLERANCE_MM, SIZE_TOLERANCE_FRACTION * measured)


def _fmt(values: Iterable[float], unit: str = "mm") -> str:
    return " x ".join(f"{v:.0f}" for v in values) + f" {unit}"


def _check_lesion(text: str, ids: list[int], lesion: LesionFeatures, schema: LabelSchema) -> list[ConsistencyWarning]:
    warnings: list[ConsistencyWarning] = []
    where = f"lesion {lesion.component}"
    sides = mentioned_sides(text)
    if sides and lesion.side not in sides and lesion.side != "midline":
        warnings.append(
            ConsistencyWarning(
                "side", f"the sentence says {'/'.join(sorted(sides))} but {where} is {lesion.side} in the mask"
            )
        )
    touched_regions = {o.coarse_region for o in lesion.touched} | set(lesion.coarse_regions)
    for region in sorted(mentioned_regions(text, schema) - touched_regions):
        involved = ", ".join(lesion.coarse_regions) or "no labelled structure"
        warnings.append(
            ConsistencyWarning(
                "region", f"the sentence names the {region}, but {where} does not reach it (it involves {involved})"
            )
        )
    touched_ids = {o.label_id for o in lesion.touched}
    if ids and touched_ids and not set(ids) & touched_ids:
        warnings.append(
            ConsistencyWarning(
                "grounding", f"the sentence is grounded in labels {sorted(ids)}, none of which {where} touches"
            )
        )
    measured = sorted(lesion.diameters_mm, reverse=True)
    for group in stated_dimensions(text):
        stated = sorted(group, reverse=True)
        if any(_size_off(s, m) for s, m in zip(stated, measured, strict=False)):
            warnings.append(
                ConsistencyWarning("size", f"the sentence gives {_fmt(stated)} but {where} measures {_fmt(measured)}")
            )
    total_ml = lesion.volume_ml + lesion.edema_ml
    for volume in stated_volumes(text):
        if all(
            abs(volume - m) > max(VOLUME_TOLERANCE_ML, VOLUME_TOLERANCE_FRACTION * m)
            for m in (lesion.volume_ml, total_ml)
        ):
            warnings.append(
                ConsistencyWarning(
                    "size", f"the sentence gives {volume:g} mL but {where} measures {lesion.volume_ml:.1f} mL"
                )
            )
    return warnings


def _lesion_in(features: CaseFeatures, label_ids: set[int]) -> list[tuple[LesionFeatures, float]]:
    hits = []
    for lesion in features.lesions:
        if lesion.volume_ml < NORMAL_MIN_LESION_ML:
            continue
        # The core counts, not oedema: "the basal ganglia are unremarkable" beside oedema that
        # seeps into them is how reports are written.
        named = {o.label_id for o in lesion.regions}
        inside = sum(o.volume_ml for o in lesion.core_touched if o.label_id in label_ids)
        if named & label_ids or inside >= NORMAL_OVERLAP_ML:
            hits.append((lesion, inside))
    return hits


def _check_unanchored(
    text: str, ids: list[int], features: CaseFeatures, schema: LabelSchema
) -> list[ConsistencyWarning]:
    """Sentences without a lesion component: normal regions, midline, grouped findings."""
    warnings: list[ConsistencyWarning] = []
    lowered = text.lower()
    sides = mentioned_sides(text)
    label_sides = {schema.label(i).side for i in ids if schema.get(i) is not None} - {"midline"}
    if sides and label_sides and not sides & (label_sides | ({"bilateral"} if len(label_sides) == 2 else set())):
        warnings.append(
            ConsistencyWarning(
                "side",
                f"the sentence says {'/'.join(sorted(sides))} but its labels are {'/'.join(sorted(label_sides))}",
            )
        )
    if "shift" in lowered or "midline" in lowered or "cent" in lowered:
        measured = features.midline_shift_mm
        stated = [v for group in stated_dimensions(text) for v in group]
        denied = bool(NEGATED.search(lowered)) and not stated
        if denied and abs(measured) >= MIDLINE_TOLERANCE_MM + 1.0:
            warnings.append(
                ConsistencyWarning(
                    "midline", f"the sentence denies a midline shift but the masks show {abs(measured):.0f} mm"
                )
            )
        for value in stated:
            if abs(value - abs(measured)) > MIDLINE_TOLERANCE_MM:
                warnings.append(
                    ConsistencyWarning(
                        "midline", f"the sentence gives a {value:g} mm shift but the masks show {abs(measured):.0f} mm"
                    )
                )
        direction = re.search(r"\b(?:to|towards|toward) the (left|right)\b", lowered)
        if direction and abs(measured) >= 2.0:
            actual = "right" if measured > 0 else "left"
            if direction.group(1) != actual:
                warnings.append(
                    ConsistencyWarning(
                        "side", f"the sentence shifts the midline to the {direction.group(1)}; the masks show {actual}"
                    )
                )
        return warnings
    regions = mentioned_regions(text, schema)
    region_ids = {lab.index for lab in schema.labels if lab.coarse_region in regions}
    if sides and sides != {"bilateral"}:
        region_ids = {i for i in region_ids if schema.label(i).side in sides | {"midline"}}
    scope = set(ids) | region_ids
    if NEGATED.search(lowered):
        hits = _lesion_in(features, scope)
        if hits:
            names = sorted({o.name for lesion, _ in hits for o in lesion.regions if o.label_id in scope})
            which = ", ".join(str(lesion.component) for lesion, _ in hits)
            total = sum(inside for _, inside in hits)
            warnings.append(
                ConsistencyWarning(
                    "normal",
                    f"the sentence calls these regions normal, but lesion{'s' if len(hits) > 1 else ''} {which} "
                    f"involve{'' if len(hits) > 1 else 's'} {', '.join(names) or 'them'} ({total:.1f} mL)",
                )
            )
    elif regions and features.lesions and not MASS_EFFECT.search(lowered):
        touched = {o.coarse_region for lesion in features.lesions for o in lesion.touched}
        for region in sorted(regions - touched):
            warnings.append(ConsistencyWarning("region", f"the sentence names the {region}, but no lesion reaches it"))
    return warnings


def check_sentence(
    text: str,
    region_label_ids: Iterable[int],
    lesion_component: int | None,
    features: CaseFeatures,
    schema: LabelSchema,
) -> list[ConsistencyWarning]:
    """Warnings for one sentence against measured features (compute them once per case)."""
    ids = [int(i) for i in region_label_ids]
    unknown = [i for i in ids if schema.get(i) is None]
    warnings = []
    if unknown:
        warnings.append(ConsistencyWarning("grounding", f"labels {unknown} are not in schema '{schema.slug}'"))
    if lesion_component is None:
        return warnings + _check_unanchored(text, ids, features, schema)
    lesion = features.lesion(int(lesion_component))
    if lesion is None:
        return warnings + [
            ConsistencyWarning(
                "grounding",
                f"lesion component {lesion_component} is not in the lesion mask ({len(features.lesions)} component(s))",
            )
        ]
    return warnings + _check_lesion(text, ids, lesion, schema)


def check_consistency(
    sentence_text: str,
    region_label_ids: Iterable[int],
    lesion_component: int | None,
    *,
    structure: np.ndarray,
    lesion: np.ndarray,
    affine: np.ndarray,
    schema: LabelSchema,
    features: CaseFeatures | None = None,
) -> list[ConsistencyWarning]:
    """Check one sentence against the masks (``features`` saves re-measuring for many sentences)."""
    if features is None:
        features = extract_features(structure, lesion, affine, schema)
    return check_sentence(sentence_text, region_label_ids, lesion_component, features, schema)


def check_report(
    sentences: Iterable[Mapping[str, Any] | Any], features: CaseFeatures, schema: LabelSchema
) -> list[list[ConsistencyWarning]]:
    """Warnings per sentence, for dicts (``text``, ``region_label_ids``, ``lesion_component``) or
    ``Sentence`` objects."""
    out = []
    for sentence in sentences:
        if isinstance(sentence, Mapping):
            text, ids, component = (
                sentence["text"],
                sentence.get("region_label_ids", []),
                sentence.get("lesion_component"),
            )
        else:
            text, ids, component = sentence.text, sentence.region_label_ids, sentence.lesion_component
        out.append(check_sentence(text, ids, component, features, schema))
    return out
