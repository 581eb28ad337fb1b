"""A report writer that learns the clinicians' phrasing from their accepted and edited sentences.

Every model sentence comes from one phrasebook entry (its *role*) with measured values in its slots
("There is {extent} surrounding edema." with extent = "moderate"). Given the model's original text
and the clinician's final text for the same sentence, the role and the slot values are recovered
from the original; putting the slots back into the final text yields the clinician's template
("Perilesional oedema is {extent}."). Counting templates per role over many approved reports gives
a learnt phrasebook: the template clinicians converge on wins, a role they keep rejecting is dropped,
and measurements keep coming from the masks, so a learnt sentence is as grounded as a template one.

Pure Python: no Django, no torch.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from string import Formatter

from inference.ml.report.writers import DEFAULT_PHRASEBOOK, Phrasebook

# Roles whose sentences embed another phrasebook entry are learnt only as a whole.
NESTED = {"signal": ("enhancement",)}
OMIT = ""  # a learnt template that says "leave this sentence out"


@dataclass(frozen=True)
class SentenceOutcome:
    """One model sentence and what the clinician made of it."""

    original_text: str
    final_text: str  # equal to the original when accepted
    status: str  # accepted | edited | rejected | proposed


@dataclass
class LearntPhrasebook:
    phrasebook: Phrasebook
    support: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> template -> count
    changed_roles: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"phrasebook": asdict(self.phrasebook), "changed_roles": self.changed_roles, "support": self.support}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LearntPhrasebook:
        known = {f.name for f in fields(Phrasebook)}
        entries = {k: v for k, v in dict(data.get("phrasebook", {})).items() if k in known}
        return cls(
            replace(DEFAULT_PHRASEBOOK, **entries), dict(data.get("support", {})), list(data.get("changed_roles", []))
        )


def _slots(template: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(template) if name]


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for literal, name, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.*?)")
    regex = "".join(parts)
    if regex.startswith("A\\ "):
        regex = "An?\\ " + regex[3:]  # the writer turns "A irregular" into "An irregular"
    return re.compile(f"^{regex}$", re.DOTALL)


_PATTERNS = {f.name: _pattern(getattr(DEFAULT_PHRASEBOOK, f.name)) for f in fields(Phrasebook)}


def identify(original_text: str, phrasebook: Phrasebook = DEFAULT_PHRASEBOOK) -> tuple[str, dict[str, str]] | None:
    """Which phrasebook entry wrote this sentence, and with which slot values."""
    patterns = (
        _PATTERNS
        if phrasebook is DEFAULT_PHRASEBOOK
        else {f.name: _pattern(getattr(phrasebook, f.name)) for f in fields(Phrasebook)}
    )
    best: tuple[str, dict[str, str]] | None = None
    for role, pattern in patterns.items():
        match = pattern.match(original_text.strip())
        if match and (best is None or len(_slots(getattr(phrasebook, role))) < len(best[1])):
            best = (role, {k: v for k, v in match.groupdict().items()})
    return best


def templatise(final_text: str, values: dict[str, str]) -> str | None:
    """The clinician's sentence with the measured values turned back into slots; None if a value is gone."""
    text = final_text.strip().replace("{", "{{").replace("}", "}}")
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        if not value:
            continue
        escaped = value.replace("{", "{{").replace("}", "}}")
        if escaped not in text:
            return None  # the clinician changed a measurement, not the phrasing: nothing to learn here
        text = text.replace(escaped, "{" + name + "}", 1)
    return text


def learn_phrasebook(outcomes: Iterable[SentenceOutcome], *, min_support: int = 2) -> LearntPhrasebook:
    """Count the templates clinicians approved per role; adopt one once it outnumbers the default."""
    votes: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        found = identify(outcome.original_text)
        if found is None:
            continue
        role, values = found
        counter = votes.setdefault(role, Counter())
        default = getattr(DEFAULT_PHRASEBOOK, role)
        if outcome.status == "rejected":
            counter[OMIT] += 1
        elif outcome.status in ("accepted", "proposed") or outcome.final_text.strip() == outcome.original_text.strip():
            counter[default] += 1
        else:
            template = templatise(outcome.final_text, values)
            if template is not None and set(_slots(template)) == set(_slots(default)):
                counter[template] += 1
    chosen: dict[str, str] = {}
    for role, counter in votes.items():
        if role in {child for children in NESTED.values() for child in children}:
            continue
        template, count = counter.most_common(1)[0]
        default = getattr(DEFAULT_PHRASEBOOK, role)
        if template != default and count >= min_support and count > counter[default]:
            chosen[role] = template
    support = {role: dict(counter) for role, counter in votes.items()}
    return LearntPhrasebook(replace(DEFAULT_PHRASEBOOK, **chosen), support, sorted(chosen))
