from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.services.blob_cleanup import blobs_cleanup


class Command(BaseCommand):
    help = "Remove stored files that no row references (left by a crash mid-save), older than a grace period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grace-minutes", type=int, default=60)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, grace_minutes: int, dry_run: bool, **options: Any) -> None:
        summary = blobs_cleanup(grace=timedelta(minutes=grace_minutes), dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(
            f"{verb} {len(summary.removed)} unreferenced files; {summary.referenced} referenced, "
            f"{summary.kept_young} too recent to judge, {summary.scanned} scanned."
        )
