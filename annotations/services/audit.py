from __future__ import annotations

from typing import Any

from annotations.models import AuditEvent, Case, Project


def audit_record(
    *,
    verb: str,
    actor: Any = None,
    project: Project | None = None,
    case: Case | None = None,
    obj: Any = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail, inside the caller's transaction so it commits with the change."""
    if case is not None and project is None:
        project = case.project
    return AuditEvent.objects.create(
        verb=verb,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        project=project,
        case=case,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "pk", "")) if obj is not None else "",
        data=data or {},
    )
