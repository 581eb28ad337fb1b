"""Saving a report: a new immutable version with every sentence, under the same If-Match rule as masks.

Sentences keep a stable ``key`` across versions, so each edit can be traced back to the model's
original wording (kept in ``original_text``) and a reviewer can diff against the draft.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotations.errors import InvalidInput, PreconditionRequired, StaleVersion
from annotations.models import (
    Case,
    CaseStatus,
    LabelKind,
    ReportVersion,
    Sentence,
    SentenceKind,
    SentenceStatus,
    VersionSource,
)
from annotations.services.audit import audit_record
from annotations.services.masks import require_editable

MAX_SENTENCES = 500
MAX_SENTENCE_CHARS = 4000

# Filled in by the inference app: (case, sentence dicts) -> list of warning lists, one per sentence.
ConsistencyChecker = Callable[[Case, list[dict[str, Any]]], list[list[dict[str, Any]]]]
_consistency_checker: ConsistencyChecker | None = None


def register_consistency_checker(checker: ConsistencyChecker | None) -> None:
    global _consistency_checker
    _consistency_checker = checker


def report_latest(case: Case) -> ReportVersion | None:
    return ReportVersion.objects.filter(case=case).order_by("-version").first()


def _clean_sentences(
    case: Case, sentences: Sequence[dict[str, Any]], parent: ReportVersion | None, source: str
) -> list[dict[str, Any]]:
    if not isinstance(sentences, (list, tuple)):
        raise InvalidInput("sentences must be a list.")
    if len(sentences) > MAX_SENTENCES:
        raise InvalidInput(f"A report holds at most {MAX_SENTENCES} sentences; got {len(sentences)}.")
    structure_ids = set(
        case.project.label_schema.labels.filter(kind=LabelKind.STRUCTURE).values_list("index", flat=True)
    )
    previous = {s.key: s for s in parent.sentences.all()} if parent else {}
    cleaned = []
    for n, raw in enumerate(sentences, start=1):
        if not isinstance(raw, dict):
            raise InvalidInput(f"Sentence {n} must be an object with at least a text.")
        text = str(raw.get("text", "")).strip()
        if not text:
            raise InvalidInput(f"Sentence {n} has no text; remove it or mark it rejected instead.")
        if len(text) > MAX_SENTENCE_CHARS:
            raise InvalidInput(f"Sentence {n} is longer than {MAX_SENTENCE_CHARS} characters.")
        regions = raw.get("region_label_ids") or []
        if not isinstance(regions, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in regions):
            raise InvalidInput(f"Sentence {n}: region_label_ids must be a list of structure label numbers.")
        unknown = sorted(set(regions) - structure_ids)
        if unknown:
            raise InvalidInput(
                f"Sentence {n} names regions {unknown} that are not structures of the "
                f"{case.project.label_schema.slug} schema."
            )
        component = raw.get("lesion_component")
        if component is not None and (not isinstance(component, int) or isinstance(component, bool) or component < 1):
            raise InvalidInput(f"Sentence {n}: lesion_component must be a positive number or null.")
        kind = raw.get("kind") or SentenceKind.LESION
        if kind not in SentenceKind.values:
            raise InvalidInput(f"Sentence {n}: unknown kind {kind!r}; use one of {SentenceKind.values}.")
        status = raw.get("status") or None
        if status is not None and status not in SentenceStatus.values:
            raise InvalidInput(f"Sentence {n}: unknown status {status!r}; use one of {SentenceStatus.values}.")
        try:
            key = uuid.UUID(str(raw["key"])) if raw.get("key") else uuid.uuid4()
        except ValueError:
            raise InvalidInput(f"Sentence {n}: key must be a UUID (or omitted for a new sentence).") from None
        before = previous.get(key)
        if source != VersionSource.HUMAN:
            original_text = text
            sentence_source = source
            status = status or SentenceStatus.PROPOSED
        elif before is None:
            original_text = ""
            sentence_source = VersionSource.HUMAN
            status = (
                SentenceStatus.ADDED if status in (None, SentenceStatus.PROPOSED, SentenceStatus.EDITED) else status
            )
        else:
            original_text = before.original_text
            sentence_source = before.source
            if status is None:
                status = SentenceStatus.EDITED if text != before.text else before.status
            if status in (SentenceStatus.ACCEPTED, SentenceStatus.PROPOSED) and text != (
                before.original_text or before.text
            ):
                status = SentenceStatus.EDITED
        cleaned.append(
            {
                "key": key,
                "text": text,
                "kind": kind,
                "modality": str(raw.get("modality") or ""),
                "region_label_ids": sorted(set(regions)),
                "lesion_component": component,
                "source": sentence_source,
                "status": status,
                "original_text": original_text,
                "features": raw.get("features") if isinstance(raw.get("features"), dict) else {},
            }
        )
    keys = [c["key"] for c in cleaned]
    if len(set(keys)) != len(keys):
        raise InvalidInput("Two sentences share the same key; each sentence appears once.")
    return cleaned


def report_save(
    *,
    case: Case,
    sentences: Sequence[dict[str, Any]],
    expected_version: int | None,
    user: Any,
    source: str = VersionSource.HUMAN,
    model_version: Any = None,
    comment: str = "",
) -> ReportVersion:
    if expected_version is None:
        raise PreconditionRequired(
            'Saving a report requires If-Match with the version you edited (e.g. If-Match: "2").'
        )
    if source == VersionSource.HUMAN:
        require_editable(case, user, "report")
    parent = ReportVersion.objects.filter(case=case, version=expected_version).first() if expected_version else None
    cleaned = _clean_sentences(case, sentences, parent, source)
    warnings = _consistency_checker(case, cleaned) if _consistency_checker else [[] for _ in cleaned]

    try:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=case.pk)
            current = ReportVersion.objects.filter(case=locked).aggregate(v=Max("version"))["v"] or 0
            if current != expected_version:
                raise StaleVersion(
                    f"This report was saved by someone else since you loaded version {expected_version}; "
                    f"the current version is {current}.",
                    current_version=current,
                )
            report = ReportVersion.objects.create(
                case=locked,
                version=current + 1,
                parent=parent,
                source=source,
                model_version=model_version,
                author=user if getattr(user, "is_authenticated", False) else None,
                comment=comment,
            )
            pairs = enumerate(zip(cleaned, warnings, strict=True))
            Sentence.objects.bulk_create([Sentence(report=report, order=i, warnings=w, **c) for i, (c, w) in pairs])
            fields: dict[str, Any] = {"updated_at": timezone.now()}
            if source == VersionSource.HUMAN:
                fields["last_editor"] = user if getattr(user, "is_authenticated", False) else None
                if locked.status in (CaseStatus.NEW, CaseStatus.PREDICTED):
                    fields["status"] = CaseStatus.IN_PROGRESS
            Case.objects.filter(pk=locked.pk).update(**fields)
            audit_record(
                verb="report.save",
                actor=user,
                case=locked,
                obj=report,
                data={"version": report.version, "source": source, "sentences": len(cleaned)},
            )
    except IntegrityError:
        latest = report_latest(case)
        raise StaleVersion(
            "Someone saved this report first.", current_version=latest.version if latest else 0
        ) from None
    return report
