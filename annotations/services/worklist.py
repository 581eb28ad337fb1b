"""Handing out cases: each call gives the caller one case nobody else holds.

The pick is a conditional update (assign only if still unassigned), so two annotators asking at the
same moment never receive the same case. Active-learning strategies order the candidates; without
one, stored priority then creation order decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from annotations.errors import InvalidInput
from annotations.models import Case, CaseStatus, Project, Role
from annotations.services.access import require_role
from annotations.services.audit import audit_record

OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.PREDICTED, CaseStatus.IN_PROGRESS, CaseStatus.REJECTED)
CANDIDATES_PER_TRY = 20

Ordering = Callable[[QuerySet[Case]], QuerySet[Case]]


def _by_priority(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.order_by(F("priority").desc(nulls_last=True), "created_at", "id")


def _by_creation(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.order_by("created_at", "id")


ORDERINGS: dict[str, Ordering] = {"priority": _by_priority, "created": _by_creation}


def register_ordering(name: str, ordering: Ordering) -> None:
    """Active-learning strategies add themselves here (see inference.services.active_learning)."""
    ORDERINGS[name] = ordering


def case_next(*, project: Project, user: Any, strategy: str | None = None) -> Case | None:
    require_role(user, project, Role.ANNOTATOR, "take cases from the worklist")
    name = strategy or "priority"
    if name not in ORDERINGS:
        raise InvalidInput(f"Unknown strategy {name!r}; use one of {', '.join(sorted(ORDERINGS))}.")
    base = Case.objects.filter(project=project, deleted_at__isnull=True, status__in=OPEN_STATUSES)
    mine = base.filter(assignee=user).order_by("updated_at").first()
    if mine is not None:
        return mine  # finish what you started before taking more
    candidates = ORDERINGS[name](base.filter(assignee__isnull=True))
    for _ in range(5):
        ids = list(candidates.values_list("pk", flat=True)[:CANDIDATES_PER_TRY])
        if not ids:
            return None
        for pk in ids:
            with transaction.atomic():
                taken = Case.objects.filter(pk=pk, assignee__isnull=True).update(
                    assignee=user, priority_strategy=name, updated_at=timezone.now()
                )
                if taken:
                    case = Case.objects.get(pk=pk)
                    audit_record(verb="case.assign", actor=user, case=case, obj=case, data={"strategy": name})
                    return case
    return None
