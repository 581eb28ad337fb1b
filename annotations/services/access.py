"""Who may do what in a project. Services call these so that the API, the CLI and jobs share one rule.

``user=None`` means the platform itself (a management command or a job acting on an admin's
request that was checked when the job was created); it is allowed everything.
"""

from __future__ import annotations

from typing import Any

from annotations.errors import NotAllowed
from annotations.models import Project, Role
from annotations.selectors import has_role, role_in_project

ROLE_ARTICLE = {
    Role.ADMIN: "an admin",
    Role.REVIEWER: "a reviewer",
    Role.ANNOTATOR: "an annotator",
    Role.VIEWER: "a viewer",
}


def require_role(user: Any, project: Project, minimum: Role, action: str) -> None:
    if user is None:
        return
    role = role_in_project(user, project)
    if not has_role(role, minimum):
        yours = f"you are {ROLE_ARTICLE[role]}" if role else "you are not a member"
        raise NotAllowed(f"To {action} you must be at least {ROLE_ARTICLE[minimum]} of this project; {yours}.")
