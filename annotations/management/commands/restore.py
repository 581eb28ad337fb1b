from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import CaseStoreError
from annotations.services.backup import backup_restore, backup_verify


class Command(BaseCommand):
    help = "Restore a backup into an empty instance, after checking every checksum (run migrate first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", type=Path, help="A folder written by manage.py backup.")
        parser.add_argument("--verify-only", action="store_true", help="Check the backup's checksums and stop.")

    def handle(self, *args: Any, source: Path, verify_only: bool, **options: Any) -> None:
        try:
            if verify_only:
                manifest = backup_verify(source)
                self.stdout.write(f"Backup is intact: {len(manifest['files'])} files, checksums match.")
                return
            summary = backup_restore(in_dir=source)
        except CaseStoreError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Restored {sum(summary.rows.values())} rows and {summary.files} files; every checksum matches."
        )
