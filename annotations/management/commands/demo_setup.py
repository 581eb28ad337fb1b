"""Prepare the demo: users for each role, a project of synthetic cases, and the demo model.

Idempotent: users, data and the project are created once; later runs only print the login.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from annotations.importers.run import import_path
from annotations.models import Membership, Project, Role
from annotations.services.projects import project_create

DEMO_PROJECT = "Demo: synthetic lesions on real anatomy"
DEMO_USERS = {"demo": Role.ADMIN, "reviewer": Role.REVIEWER, "annotator": Role.ANNOTATOR}


class Command(BaseCommand):
    help = "Create the demo users, project, synthetic cases and model (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=24)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, cases: int, seed: int, **options: Any) -> None:
        password = self._password()
        users = self._users(password)
        project = Project.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            with transaction.atomic():
                project = project_create(
                    name=DEMO_PROJECT,
                    label_schema="demo-aal3",
                    user=users["demo"],
                    description="Synthetic lesions (glioma, metastases, meningioma, infarct, white-matter "
                    "hyperintensities) inserted into the real MNI152 template anatomy. Not patient data.",
                )
        for username, role in DEMO_USERS.items():
            Membership.objects.update_or_create(project=project, user=users[username], defaults={"role": role})

        if not project.cases.exists():
            self._generate_and_import(project, cases, seed)
        self._model(project)
        login = (
            f"Log in as demo / {password} (admin); reviewer and annotator share the password. "
            f"{project.cases.count()} synthetic cases in project '{project.name}'."
        )
        (Path(settings.VAR_DIR) / "demo-login.txt").write_text(login + "\n")
        self.stdout.write(login)

    def _password(self) -> str:
        path = Path(settings.VAR_DIR) / "demo-password"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(9) + "\n")
            path.chmod(0o600)
        return path.read_text().strip()

    def _users(self, password: str) -> dict[str, Any]:
        User = get_user_model()
        users = {}
        for username in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": username == "demo"})
            if created or not user.check_password(password):
                user.set_password(password)
                user.save()
            users[username] = user
        return users

    def _generate_and_import(self, project: Project, cases: int, seed: int) -> None:
        from annotations.demo import generate_dataset

        out = Path(settings.VAR_DIR) / "demo-data" / f"seed-{seed}-n{cases}"
        if not (out / "train_val_test_split.json").exists():
            self.stdout.write(f"  generating {cases} synthetic cases (seed {seed}) into {out}")
            generate_dataset(out, cases, seed, workers=2, progress=True)
        self.stdout.write("  importing them")
        summary = import_path(project=project, root=out, layout="radgenome", user=None)
        for case_id, reason in summary.failed.items():
            self.stderr.write(f"  skipped {case_id}: {reason}")
        self.stdout.write(f"  imported {len(summary.created)} cases, {len(summary.reports)} reference reports")

    def _model(self, project: Project) -> None:
        try:
            from inference.services.demo import demo_model_install
        except ImportError:
            return
        message = demo_model_install(project=project)
        if message:
            self.stdout.write(f"  {message}")
