"""Read-side queries. Every lookup of a project object goes through a member-scoped queryset, so
a user who is not a member of a project cannot tell its objects exist (they get 404)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from annotations.models import Case, Membership, Project
from annotations.models.projects import ROLE_RANK, Role

User = AbstractBaseUser | AnonymousUser


def projects_for_user(user: User) -> QuerySet[Project]:
    qs = Project.objects.select_related("label_schema")
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(memberships__user=user)


def role_in_project(user: User, project: Project | int) -> Role | None:
    """The user's role; superusers act as admins of every project."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    project_id = project if isinstance(project, int) else project.pk
    role = Membership.objects.filter(project_id=project_id, user=user).values_list("role", flat=True).first()
    return Role(role) if role else None


def has_role(role: Role | None, minimum: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def cases_for_user(user: User) -> QuerySet[Case]:
    qs = Case.objects.filter(deleted_at__isnull=True)
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(project__memberships__user=user)
