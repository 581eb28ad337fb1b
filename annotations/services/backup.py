"""Backups that can be trusted: a consistent database dump plus every file it references, checksummed.

A backup folder holds ``database.json.gz`` (every row of the platform's own tables, dumped inside
one transaction so it is a single point in time), ``blobs/…`` (the content-addressed files those
rows point at, copied byte for byte) and ``manifest.json`` with the sha256 of everything. Restore
checks every checksum before it writes anything, refuses a non-empty instance, and verifies after
loading that each version's file is present with the checksum its row records.

The dump is JSON through Django's serialisers, so a backup taken on SQLite restores on PostgreSQL
and the other way round.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.core import serializers
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from annotations.errors import InvalidInput, StateConflict

FORMAT = "brainscribe-backup"
FORMAT_VERSION = 1
# Tables that belong in a backup, in an order that loads parents before children.
MODELS = [
    "auth.Group",
    "auth.User",
    "authtoken.Token",
    "annotations.LabelSchema",
    "annotations.Label",
    "annotations.Project",
    "annotations.Membership",
    "annotations.Case",
    "annotations.Volume",
    "annotations.DatasetSnapshot",
    "inference.Job",
    "inference.ModelVersion",
    "annotations.MaskVersion",
    "annotations.ReportVersion",
    "annotations.Sentence",
    "annotations.Review",
    "annotations.AuditEvent",
    "annotations.Export",
]
# model label → fields naming a stored file
FILE_FIELDS = {
    "annotations.Volume": ("file", "sha256"),
    "annotations.MaskVersion": ("file", "sha256"),
    "inference.ModelVersion": ("checkpoint", "sha256"),
}


class BackupError(InvalidInput):
    pass


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    rows: dict[str, int]
    files: int
    bytes: int


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_stream(fh: io.BufferedIOBase) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def backup_create(*, out_dir: Path) -> BackupSummary:
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"{out_dir} is not empty; back up into a new folder so nothing is mixed or overwritten.")
    out_dir.mkdir(parents=True, exist_ok=True)

    rows: dict[str, int] = {}
    files: dict[str, str] = {}
    chunks: list[str] = []
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for label in MODELS:
            model = apps.get_model(label)
            queryset = model._default_manager.order_by("pk")
            rows[label] = queryset.count()
            chunks.append(serializers.serialize("json", queryset, use_natural_foreign_keys=False))
            if label in FILE_FIELDS:
                name_field, sha_field = FILE_FIELDS[label]
                for name, sha in queryset.exclude(**{name_field: ""}).values_list(name_field, sha_field):
                    files[name] = sha
        migrations = {
            app: sorted(MigrationRecorder.Migration.objects.filter(app=app).values_list("name", flat=True))[-1:]
            for app in ("annotations", "inference")
        }

    records = [record for chunk in chunks for record in json.loads(chunk)]
    database = gzip.compress(json.dumps(records, sort_keys=True).encode(), mtime=0)
    (out_dir / "database.json.gz").write_bytes(database)

    total = 0
    for name, sha in sorted(files.items()):
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(name, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        actual = _sha256_file(target)
        if actual != sha:
            raise BackupError(f"{name} does not match the checksum its row records ({actual[:12]}… ≠ {sha[:12]}…).")
        total += target.stat().st_size

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "database_vendor": connection.vendor,
        "migrations": migrations,
        "rows": rows,
        "database": {"file": "database.json.gz", "sha256": hashlib.sha256(database).hexdigest()},
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return BackupSummary(path=out_dir, rows=rows, files=len(files), bytes=total + len(database))


def backup_verify(in_dir: Path) -> dict:
    """The manifest, after checking every file in the backup against it."""
    in_dir = Path(in_dir)
    try:
        manifest = json.loads((in_dir / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BackupError(f"{in_dir} holds no readable manifest.json ({exc}).") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{in_dir} is not a Brainscribe backup of format version {FORMAT_VERSION}.")
    database = in_dir / manifest["database"]["file"]
    if not database.exists() or _sha256_file(database) != manifest["database"]["sha256"]:
        raise BackupError("database.json.gz is missing or does not match its checksum; the backup is damaged.")
    for name, sha in manifest["files"].items():
        path = (in_dir / name).resolve()
        if not path.is_relative_to(in_dir.resolve()) or not name.startswith("blobs/"):
            raise BackupError(f"The manifest names a file outside the backup ({name!r}); refusing it.")
        if not path.exists() or _sha256_file(path) != sha:
            raise BackupError(f"{name} is missing or does not match its checksum; the backup is damaged.")
    return manifest


def _instance_is_empty() -> bool:
    from annotations.models import Case, Project

    return not Project.objects.exists() and not Case.objects.exists()


def backup_restore(*, in_dir: Path) -> BackupSummary:
    in_dir = Path(in_dir)
    manifest = backup_verify(in_dir)
    if not _instance_is_empty():
        raise StateConflict("This instance already holds projects or cases; restore only into an empty instance.")

    for name in sorted(manifest["files"]):
        if not default_storage.exists(name):
            with (in_dir / name).open("rb") as fh:
                default_storage.save(name, File(fh))

    records = json.loads(gzip.decompress((in_dir / manifest["database"]["file"]).read_bytes()))
    fixture = in_dir / ".restore-fixture.json"
    fixture.write_text(json.dumps(records))
    try:
        with transaction.atomic():
            # Built-in label schemas were created by migrate; the backup's copies replace them.
            from annotations.models import Label, LabelSchema

            Label.objects.all().delete()
            LabelSchema.objects.all().delete()
            call_command("loaddata", str(fixture), verbosity=0)
    finally:
        fixture.unlink(missing_ok=True)

    problems = []
    for label, (name_field, sha_field) in FILE_FIELDS.items():
        model = apps.get_model(label)
        for name, sha in model._default_manager.exclude(**{name_field: ""}).values_list(name_field, sha_field):
            if not default_storage.exists(name):
                problems.append(f"{name} missing")
                continue
            with default_storage.open(name, "rb") as fh:
                if _sha256_stream(fh) != sha:
                    problems.append(f"{name} checksum differs")
    if problems:
        raise BackupError(f"Restored rows point at files that are not right: {'; '.join(problems[:5])}.")
    rows = {label: apps.get_model(label)._default_manager.count() for label in MODELS}
    return BackupSummary(path=in_dir, rows=rows, files=len(manifest["files"]), bytes=0)
