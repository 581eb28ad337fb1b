"""``manage.py infer PROJECT [--cases 1 2 …] [--model ID] [--force]``: model proposals from the shell."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotations.errors import CaseStoreError
from annotations.management.commands.import_cases import find_project
from inference.services.inference import PROPOSABLE, infer_case, inference_targets, resolve_model


class Command(BaseCommand):
    help = "Propose masks and reports for a project's cases with its champion (or a named) model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="Project id or exact name.")
        parser.add_argument("--cases", type=int, nargs="*", help="Case ids (default: every case nobody started).")
        parser.add_argument("--model", type=int, help="Model version id (default: the champion).")
        parser.add_argument("--force", action="store_true", help="Propose on top of clinicians' work too.")

    def handle(
        self, *args: Any, project: str, cases: list[int] | None, model: int | None, force: bool, **options: Any
    ) -> None:
        target = find_project(project)
        try:
            model_version = resolve_model(target, model)
        except CaseStoreError as exc:
            raise CommandError(exc.message) from None
        selected = inference_targets(target, cases)
        if cases is None and not force:
            selected = [c for c in selected if c.status in PROPOSABLE]
        counts = {"proposed": 0, "skipped": 0}
        for case in tqdm(selected, unit="case", disable=options["verbosity"] == 0):
            outcome = infer_case(case=case, model_version=model_version, force=force)
            counts[outcome.action] += 1
        self.stdout.write(
            f"{counts['proposed']} cases proposed, {counts['skipped']} skipped, with {model_version.name}."
        )
