"""The review workflow: submit → approve or reject, reopen. Who may move a case depends on role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotations.errors import InvalidInput, StateConflict
from annotations.models import Case, CaseStatus, MaskVersion, ReportVersion, Review, ReviewAction, Role
from annotations.services.access import require_role
from annotations.services.audit import audit_record


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    minimum: Role
    comment_required: bool = False


TRANSITIONS: dict[str, Transition] = {
    ReviewAction.SUBMIT: Transition(
        frozenset({CaseStatus.NEW, CaseStatus.PREDICTED, CaseStatus.IN_PROGRESS, CaseStatus.REJECTED}),
        CaseStatus.SUBMITTED,
        Role.ANNOTATOR,
    ),
    ReviewAction.APPROVE: Transition(frozenset({CaseStatus.SUBMITTED}), CaseStatus.APPROVED, Role.REVIEWER),
    ReviewAction.REJECT: Transition(frozenset({CaseStatus.SUBMITTED}), CaseStatus.REJECTED, Role.REVIEWER, True),
    ReviewAction.REOPEN: Transition(
        frozenset({CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.SUBMITTED}),
        CaseStatus.IN_PROGRESS,
        Role.REVIEWER,
    ),
}


@transaction.atomic
def case_review(*, case: Case, action: str, user: Any, comment: str = "") -> Review:
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidInput(f"Unknown review action {action!r}; use one of {', '.join(TRANSITIONS)}.")
    locked = Case.objects.select_for_update().get(pk=case.pk)
    require_role(user, locked.project, transition.minimum, f"{action} a case")
    if locked.status not in transition.sources:
        allowed = ", ".join(sorted(s.replace("_", " ") for s in transition.sources))
        raise StateConflict(
            f"This case is {locked.status.replace('_', ' ')}; {action!r} applies only to cases that are {allowed}."
        )
    comment = (comment or "").strip()
    if transition.comment_required and not comment:
        raise InvalidInput(f"Say why when you {action} a case: the comment is what the annotator reads.")
    masks = {
        row["kind"]: row["v"]
        for row in MaskVersion.objects.filter(case=locked).values("kind").annotate(v=Max("version"))
    }
    report = ReportVersion.objects.filter(case=locked).aggregate(v=Max("version"))["v"]
    review = Review.objects.create(
        case=locked,
        action=action,
        comment=comment,
        author=user if getattr(user, "is_authenticated", False) else None,
        from_status=locked.status,
        to_status=transition.target,
        mask_versions=masks,
        report_version=report,
    )
    Case.objects.filter(pk=locked.pk).update(status=transition.target, updated_at=timezone.now())
    audit_record(
        verb=f"case.{action}",
        actor=user,
        case=locked,
        obj=review,
        data={"from": locked.status, "to": transition.target, "comment": comment},
    )
    locked.status = transition.target
    return review
