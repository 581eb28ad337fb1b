from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import CaseStoreError
from annotations.services.backup import backup_create


class Command(BaseCommand):
    help = "Write a consistent, checksummed backup (database rows + every referenced file) into a new folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="A new or empty folder.")

    def handle(self, *args: Any, out: Path, **options: Any) -> None:
        try:
            summary = backup_create(out_dir=out)
        except CaseStoreError as exc:
            raise CommandError(exc.message) from None
        rows = sum(summary.rows.values())
        self.stdout.write(f"Backed up {rows} rows and {summary.files} files ({summary.bytes / 2**20:.1f} MB) to {out}.")
