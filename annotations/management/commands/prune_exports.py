from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.services.exports import exports_prune


class Command(BaseCommand):
    help = (
        "Delete the files of exports older than a number of days, keeping the newest of each project and "
        "format; the records, manifests and snapshots stay (any export can be made again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, required=True)
        parser.add_argument("--keep-latest", type=int, default=1, help="newest exports kept per project and format")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, older_than_days: int, keep_latest: int, dry_run: bool, **options: Any) -> None:
        if older_than_days < 0 or keep_latest < 0:
            raise CommandError("--older-than-days and --keep-latest must be 0 or more.")
        pruned = exports_prune(older_than=timedelta(days=older_than_days), keep_latest=keep_latest, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        total = sum(export.total_bytes for export in pruned)
        self.stdout.write(f"{verb} the files of {len(pruned)} exports ({total / 1e6:.1f} MB of dataset files).")
        for export in pruned:
            when = f"{export.created_at:%Y-%m-%d}"
            self.stdout.write(f"  export {export.pk}: {export.format} of project {export.project_id}, {when}")
