"""``manage.py import_cases PROJECT PATH --layout …``: import a folder of cases with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotations.importers.layouts import ImportPathError
from annotations.importers.run import ALL_LAYOUTS, import_path
from annotations.models import Project


def find_project(ref: str) -> Project:
    project = Project.objects.filter(pk=int(ref)).first() if ref.isdigit() else Project.objects.filter(name=ref).first()
    if project is None:
        raise CommandError(f"There is no project {ref!r} (give its id or exact name).")
    return project


class Command(BaseCommand):
    help = "Import cases from a folder. One bad case is reported and skipped; re-importing creates nothing new."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="Project id or exact name.")
        parser.add_argument("path", type=Path)
        parser.add_argument("--layout", choices=sorted(ALL_LAYOUTS), default="generic")

    def handle(self, *args: Any, project: str, path: Path, layout: str, **options: Any) -> None:
        target = find_project(project)
        bar = tqdm(total=0, unit="case", disable=options["verbosity"] == 0)

        def progress(done: int, total: int, what: str) -> None:
            bar.total = total
            bar.set_postfix_str(what[:40])
            bar.update(done - bar.n)

        try:
            summary = import_path(project=target, root=path, layout=layout, user=None, progress=progress)
        except ImportPathError as exc:
            raise CommandError(f"Cannot import {path}: {exc}.") from None
        finally:
            bar.close()
        for case_id, reason in summary.failed.items():
            self.stderr.write(f"skipped {case_id}: {reason}")
        for warning in summary.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"{len(summary.created)} new cases, {len(summary.existing)} already present, "
            f"{len(summary.reports)} reports, {len(summary.failed)} skipped."
        )
        if summary.failed and not (summary.created or summary.existing):
            raise CommandError("Nothing could be imported.")
