from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from annotations.errors import InvalidInput, NotAllowed, StateConflict
from annotations.models import LabelSchema, Membership, Project, Role
from annotations.models.projects import MODALITIES
from annotations.services.audit import audit_record


def user_can_create_projects(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_staff or user.has_perm("annotations.add_project")))


@transaction.atomic
def project_create(
    *, name: str, label_schema: str, user: Any, description: str = "", expected_modalities: list[str] | None = None
) -> Project:
    """Create a project; its creator becomes its first admin."""
    if not user_can_create_projects(user):
        raise NotAllowed("Only staff users (or users with the add_project permission) can create projects.")
    schema = LabelSchema.objects.filter(slug=label_schema).first()
    if schema is None:
        known = ", ".join(LabelSchema.objects.values_list("slug", flat=True))
        raise InvalidInput(f"Unknown label schema {label_schema!r}; known schemas: {known}.")
    modalities = expected_modalities or list(MODALITIES)
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise InvalidInput(f"Unknown modalities {unknown}; use any of {list(MODALITIES)}.")
    if Project.objects.filter(name=name).exists():
        raise StateConflict(f"A project named {name!r} exists already.")
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name, description=description, label_schema=schema, expected_modalities=modalities, created_by=user
            )
    except IntegrityError:
        raise StateConflict(f"A project named {name!r} exists already.") from None
    Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    audit_record(verb="project.create", actor=user, project=project, obj=project, data={"schema": schema.slug})
    return project


@transaction.atomic
def membership_set(*, project: Project, username: str, role: str, actor: Any) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {Role.values}.")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"There is no user named {username!r}.")
    membership, created = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    _ensure_an_admin_remains(project)
    audit_record(
        verb="member.add" if created else "member.role",
        actor=actor,
        project=project,
        obj=membership,
        data={"user": username, "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Any) -> None:
    project = membership.project
    username = membership.user.get_username()
    membership.delete()
    _ensure_an_admin_remains(project)
    audit_record(verb="member.remove", actor=actor, project=project, data={"user": username})


def _ensure_an_admin_remains(project: Project) -> None:
    if not project.memberships.filter(role=Role.ADMIN).exists():
        raise StateConflict("A project must keep at least one admin; add another admin first.")
