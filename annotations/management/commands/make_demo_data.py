"""``manage.py make_demo_data --cases N --seed S [--out DIR] [--import PROJECT]``: synthetic demo cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.importers.run import import_path
from annotations.management.commands.import_cases import find_project


class Command(BaseCommand):
    help = "Generate synthetic lesions on real template anatomy (deterministic per seed), optionally importing them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=40)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, help="Folder (default: var/demo-data/seed-S-nN).")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--import", dest="import_into", help="Project id or name to import the cases into.")

    def handle(
        self, *args: Any, cases: int, seed: int, out: Path | None, workers: int, import_into: str | None, **options: Any
    ) -> None:
        from annotations.demo import generate_dataset

        if cases < 1:
            raise CommandError("--cases must be at least 1.")
        project = find_project(import_into) if import_into else None
        out = out or Path(settings.VAR_DIR) / "demo-data" / f"seed-{seed}-n{cases}"
        summary = generate_dataset(out, cases, seed, workers=workers, progress=options["verbosity"] > 0)
        self.stdout.write(f"Generated {len(summary.case_ids)} synthetic cases in {summary.seconds:.0f} s into {out}.")
        if project is not None:
            result = import_path(project=project, root=out, layout="radgenome", user=None)
            for case_id, reason in result.failed.items():
                self.stderr.write(f"skipped {case_id}: {reason}")
            self.stdout.write(
                f"Imported {len(result.created)} new cases and {len(result.reports)} reports into {project.name}."
            )
