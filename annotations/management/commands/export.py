"""``manage.py export PROJECT --format nnunet --out DIR``: write a dataset export to a local folder.

The same exporters as the export job; only the destination differs (a folder instead of a zip in
the file store). Without ``--snapshot`` the approved cases are frozen first (or the identical
snapshot that already exists is reused), so the folder's manifest names the snapshot it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotations.errors import CaseStoreError
from annotations.exporters.base import ExportError
from annotations.exporters.jobs import clean_export_params, format_options
from annotations.exporters.registry import EXPORTERS
from annotations.exporters.run import export_write
from annotations.exporters.sinks import FolderSink
from annotations.management.commands.import_cases import find_project
from annotations.models import DatasetSnapshot
from annotations.services.audit import audit_record
from annotations.services.snapshots import snapshot_freeze


class Command(BaseCommand):
    help = "Export a frozen snapshot of a project's cases (by default the approved ones) to a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="Project id or exact name.")
        parser.add_argument("--format", required=True, choices=sorted(EXPORTERS))
        parser.add_argument("--out", required=True, type=Path, help="An empty or new folder.")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--snapshot", type=int, help="Export this snapshot instead of freezing one.")
        group.add_argument("--cases", choices=["approved", "all"], help="Which cases to freeze (default approved).")
        parser.add_argument("--mask", choices=["lesion", "structure"], help="nnunet, monai: the label map.")
        parser.add_argument("--modalities", help="nnunet, monai: channels, e.g. T1,T1CE,T2,FLAIR.")
        parser.add_argument("--dataset-id", type=int, help="nnunet: the three-digit dataset id (default 501).")
        parser.add_argument("--dataset-name", help="nnunet: the dataset name (default: the project's name).")
        parser.add_argument("--workers", type=int, default=None, help="Reader threads (default: up to 4).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        out: Path = options["out"]
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} is not an empty folder; exports go to a new or empty folder.")
        raw = {"format": options["format"]}
        for name in ("snapshot", "cases", "mask", "modalities", "dataset_id", "dataset_name"):
            if options.get(name) is not None:
                raw[name] = options[name]
        try:
            params = clean_export_params(project, raw)
            if "snapshot" in params:
                snapshot = DatasetSnapshot.objects.get(pk=params["snapshot"])
            else:
                snapshot = snapshot_freeze(project=project, user=None, cases=params["cases"])
        except CaseStoreError as exc:
            raise CommandError(exc.message) from None

        bar = tqdm(total=0, unit="case", disable=options["verbosity"] == 0)

        def progress(done: int, total: int, what: str) -> None:
            bar.total = total
            bar.set_postfix_str(what[:40])
            bar.update(done - bar.n)

        try:
            outcome = export_write(
                snapshot=snapshot,
                format=params["format"],
                params=format_options(params),
                sink=FolderSink(out),
                progress=progress,
                workers=options["workers"],
            )
        except ExportError as exc:
            raise CommandError(f"{exc} ({out} is incomplete: it has no manifest.json).") from None
        finally:
            bar.close()
        audit_record(
            verb="export.create",
            project=project,
            obj=snapshot,
            data={
                "format": params["format"],
                "snapshot": snapshot.checksum,
                "cases": outcome.n_cases,
                "destination": "folder",
                "manifest_sha256": outcome.manifest_sha256,
            },
        )
        for case_id, reason in outcome.skipped.items():
            self.stderr.write(f"skipped {case_id}: {reason}")
        self.stdout.write(
            f"{outcome.n_cases} cases exported as {params['format']} to {out} ({outcome.n_files} files, "
            f"{outcome.total_bytes / 2**20:.1f} MiB), {len(outcome.skipped)} skipped; snapshot {snapshot.pk} "
            f"({snapshot.checksum[:12]}); manifest sha256 {outcome.manifest_sha256}."
        )
