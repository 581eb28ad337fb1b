"""Clinical entities of a report sentence — region, side, finding, negation — and their F1.

A lexicon, not a model: it is transparent, deterministic and needs nothing downloaded, and it
checks exactly what a grounded report must get right (which region, which side, what was found,
and whether it was denied). Each sentence yields tuples ``(region, side, finding, negated)``; a
report is the set of its tuples; F1 compares the sets of a generated and a reference report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Canonical region → patterns. Order matters where one pattern contains another ("cerebellar
# vermis" before "cerebellar").
REGION_PATTERNS: tuple[tuple[str, str], ...] = (
    ("frontal lobe", r"\bfrontal"),
    ("parietal lobe", r"\bparietal"),
    ("temporal lobe", r"\btemporal"),
    ("occipital lobe", r"\boccipital"),
    ("insula", r"\binsul(?:a|ar)"),
    ("cingulate", r"\bcingulate"),
    ("hippocampus", r"\bhippocamp"),
    ("amygdala", r"\bamygdal"),
    ("basal ganglia", r"\bbasal ganglia|\bcaudate|\bputamen|\bpallid|\blentiform|\bdeep grey|\bdeep gray"),
    ("thalamus", r"\bthalam"),
    ("vermis", r"\bvermis"),
    ("cerebellum", r"\bcerebell(?:um|ar)(?! vermis)|\bposterior fossa"),
    ("brainstem", r"\bbrain ?stem|\bpons\b|\bmidbrain|\bmedulla|\bposterior fossa"),
    ("ventricle", r"\bventric"),
    ("corpus callosum", r"\bcorpus callosum"),
    ("midline", r"\bmidline"),
    ("white matter", r"\bwhite matter"),
    ("cerebral hemispheres", r"\bcerebral (?:hemisphere|lobe|parenchyma)|\bbrain parenchyma|grey-white"),
)
FINDING_PATTERNS: tuple[tuple[str, str], ...] = (
    ("mass", r"\bmass\b|\bspace-occupying|\btumou?r|\bglioma|\bmeningioma|\bmetasta"),
    ("lesion", r"\blesions?\b|\bfocus\b|\bfoci\b"),
    ("oedema", r"\boedema|\bedema"),
    ("necrosis", r"\bnecro"),
    ("enhancement", r"\benhanc"),
    ("infarct", r"\binfarct|\bischa?emi"),
    ("restricted diffusion", r"\brestrict|\breduced adc|\blow adc"),
    ("hyperintensity", r"\bhyperintens|\bhigh signal|\bbright"),
    ("hypointensity", r"\bhypointens|\blow signal|\bdark"),
    ("abnormal signal", r"\babnormal signal|\bsignal abnormality|\babnormality"),
    ("mass effect", r"\bmass effect|\bcompress|\beffac|\bnarrowed"),
    ("midline shift", r"\bshift|\bdisplaced"),
    ("dilatation", r"\bdilat|\bhydroceph|\benlarg"),
    ("haemorrhage", r"\bha?emorrha|\bbleed|\bblood"),
)
NEGATION = re.compile(
    r"\bno\b|\bnot\b|\bwithout\b|\bnormal\b|\bunremarkable\b|\bpreserved\b|\bcentred\b|\bcentered\b|\babsent\b"
)
SIDES = (("bilateral", r"\bbilateral|\bboth\b"), ("left", r"\bleft\b"), ("right", r"\bright\b"))


@dataclass(frozen=True)
class Entity:
    region: str
    side: str
    finding: str
    negated: bool


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.;!?])\s+|\n+", text) if s.strip()]


def sentence_entities(sentence: str) -> set[Entity]:
    text = sentence.lower()
    regions = [name for name, pattern in REGION_PATTERNS if re.search(pattern, text)] or [""]
    findings = [name for name, pattern in FINDING_PATTERNS if re.search(pattern, text)]
    negated = bool(NEGATION.search(text))
    if not findings:
        if not negated and regions == [""]:
            return set()
        findings = ["abnormality" if negated else "mention"]
    found_sides = [name for name, pattern in SIDES if re.search(pattern, text)]
    side = (
        "bilateral"
        if "bilateral" in found_sides or {"left", "right"} <= set(found_sides)
        else (found_sides[0] if found_sides else "")
    )
    return {Entity(region, side, finding, negated) for region in regions for finding in findings}


def report_entities(text: str) -> set[Entity]:
    entities: set[Entity] = set()
    for sentence in split_sentences(text):
        entities |= sentence_entities(sentence)
    return entities


def _f1(predicted: set, reference: set) -> float:
    if not predicted and not reference:
        return 1.0
    if not predicted or not reference:
        return 0.0
    overlap = len(predicted & reference)
    return 2.0 * overlap / (len(predicted) + len(reference))


PROJECTIONS = {
    "entity_f1": lambda e: e,
    "region_f1": lambda e: e.region,
    "side_f1": lambda e: (e.region, e.side),
    "finding_f1": lambda e: e.finding,
    "negation_f1": lambda e: (e.finding, e.negated),
}


def entity_f1(generated: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean per-report F1 of the full tuples and of each field (region, side, finding, negation)."""
    if len(generated) != len(references):
        raise ValueError("generated and reference reports differ in number")
    sums = dict.fromkeys(PROJECTIONS, 0.0)
    for hyp, ref in zip(generated, references, strict=True):
        hyp_entities, ref_entities = report_entities(hyp), report_entities(ref)
        for name, project in PROJECTIONS.items():
            sums[name] += _f1({project(e) for e in hyp_entities}, {project(e) for e in ref_entities})
    n = max(1, len(generated))
    return {name: value / n for name, value in sums.items()}


def entities_of(texts: Iterable[str]) -> list[set[Entity]]:
    return [report_entities(t) for t in texts]
