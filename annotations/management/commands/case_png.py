"""``manage.py case_png CASE [--out FILE]``: the case's sequences in three planes through its largest lesion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import Case
from annotations.services.previews import case_preview_png


class Command(BaseCommand):
    help = "Render axial, coronal and sagittal slices through the largest lesion of a case, with mask outlines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case", help="Case id, or external id if unique.")
        parser.add_argument("--out", type=Path, help="PNG file (default: <external id>.png).")
        parser.add_argument("--size", type=int, default=200, help="Tile size in pixels.")
        parser.add_argument("--structures", action="store_true", help="Outline the structure labels too.")

    def handle(self, *args: Any, case: str, out: Path | None, size: int, structures: bool, **options: Any) -> None:
        found = Case.objects.filter(pk=int(case)) if case.isdigit() else Case.objects.filter(external_id=case)
        if found.count() != 1:
            raise CommandError(f"No single case matches {case!r}; give its numeric id.")
        target = found.get()
        data, _ = case_preview_png(target, size=size, show_structure=structures)
        path = out or Path(f"{target.external_id}.png")
        path.write_bytes(data)
        self.stdout.write(f"Wrote {path} ({len(data) / 1024:.0f} KiB).")
