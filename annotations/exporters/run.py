"""The export loop shared by the export job and ``manage.py export``.

Speed comes from not doing work: stored volumes are already scrubbed canonical .nii.gz, so they are
streamed as stored, never decompressed and recompressed; only files that must change (a label map
renumbered for nnU-Net, a volume stored before scrubbing existed) are rebuilt. Worker threads check
the next few cases' stored files against their sha256 while the calling thread streams the current
one into the sink, so hashing and writing overlap; files are copied in pieces through a reused
buffer and the number of cases in flight is bounded, so memory does not grow with the dataset.
Files are written in the planned order, so the output never depends on thread timing.

The manifest lists the sha256 of every file and the snapshot it came from, and holds nothing that
changes between runs (no time, no user, no export id): the same snapshot and parameters give a
byte-identical manifest.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotations import nifti
from annotations.blobs import blob_open
from annotations.exporters.base import (
    Content,
    CopyBlob,
    ExportError,
    FileEntry,
    RemapLabels,
    Sentence,
    SnapshotCase,
)
from annotations.exporters.registry import EXPORTERS
from annotations.exporters.sinks import Sink
from annotations.models import DatasetSnapshot, SentenceStatus
from annotations.models import Sentence as SentenceRow
from annotations.services.snapshots import canonical_json

EXPORT_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 2**20
HEADER_PREFIX = 64 * 1024  # compressed bytes enough to hold any NIfTI header

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Ready:
    """One file made ready by a worker: its bytes (or a stream to copy) and its checksum."""

    path: str
    sha256: str
    size: int
    data: bytes | None = None
    stream: CopyBlob | None = None


@dataclass
class ExportOutcome:
    manifest: dict[str, Any]
    manifest_sha256: str
    n_cases: int
    skipped: dict[str, str]
    n_files: int
    total_bytes: int


def export_write(
    *,
    snapshot: DatasetSnapshot,
    format: str,
    params: dict[str, Any],
    sink: Sink,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ExportOutcome:
    """Write ``snapshot`` in ``format`` to ``sink``; ``params`` are already cleaned for the format.

    The manifest is written last, so a folder without ``manifest.json`` is an unfinished export.
    """
    if format not in EXPORTERS:
        raise ExportError(f"unknown export format {format!r}")
    try:
        return _export(snapshot, format, params, sink, progress, workers)
    except BaseException:
        sink.abort()
        raise


def _export(
    snapshot: DatasetSnapshot,
    format: str,
    params: dict[str, Any],
    sink: Sink,
    progress: Progress | None,
    workers: int | None,
) -> ExportOutcome:
    manifest = snapshot.manifest
    schema = manifest["label_schema"]
    exporter = EXPORTERS[format](params=params, labels=schema["labels"], project_name=snapshot.project.name)
    cases = [SnapshotCase.from_manifest(entry, n) for n, entry in enumerate(manifest["cases"], start=1)]
    chosen = exporter.select(cases)
    total = len(chosen)
    files: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []

    def record(ready: Ready) -> None:
        if ready.path in files or ready.path == MANIFEST:
            raise ExportError(f"two files of the export share the path {ready.path}")
        files[ready.path] = {"sha256": ready.sha256, "size_bytes": ready.size}

    workers = workers or min(4, os.cpu_count() or 1)
    lookahead = 2 * workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export") as pool:
        pending: deque[tuple[SnapshotCase, dict[str, Any], list[Future[Ready]]]] = deque()

        def drain_one() -> None:
            case, case_record, futures = pending.popleft()
            for future in futures:
                ready = future.result()
                record(ready)
                _write(sink, ready)
            records.append(case_record)
            if progress:
                progress(len(records), total, case.external_id)

        try:
            for case, sentences in _with_sentences(chosen, exporter.needs_reports):
                plan = exporter.plan_case(case, sentences)
                if plan is None:
                    total -= 1
                    continue
                pending.append((case, plan.record, [pool.submit(make_ready, entry) for entry in plan.files]))
                while len(pending) > lookahead:
                    drain_one()
            while pending:
                drain_one()
        finally:
            for _, _, futures in pending:
                for future in futures:
                    future.cancel()

    if not records:
        reasons = "; ".join(f"{k}: {v}" for k, v in sorted(exporter.skipped.items())[:5])
        raise ExportError(
            f"Nothing to export: the snapshot has {len(cases)} cases"
            + (f" and every one was skipped ({reasons})." if reasons else ".")
        )
    for content in exporter.dataset_files(records):
        ready = make_ready(content)
        record(ready)
        _write(sink, ready)

    body = {
        "brainscribe_export": EXPORT_FORMAT_VERSION,
        "format": format,
        "params": params,
        "snapshot": {
            "id": snapshot.pk,
            "checksum": snapshot.checksum,
            "selection": manifest["selection"],
            "n_cases": snapshot.n_cases,
        },
        "label_schema": schema["slug"],
        "cases": records,
        "skipped": dict(sorted(exporter.skipped.items())),
        "details": exporter.details(),
        "files": dict(sorted(files.items())),
        "n_files": len(files),
        "total_bytes": sum(f["size_bytes"] for f in files.values()),
    }
    data = canonical_json(body)
    sink.write_bytes(MANIFEST, data)
    sink.close()
    return ExportOutcome(
        manifest=body,
        manifest_sha256=hashlib.sha256(data).hexdigest(),
        n_cases=len(records),
        skipped=body["skipped"],
        n_files=body["n_files"],
        total_bytes=body["total_bytes"],
    )


def _with_sentences(cases: list[SnapshotCase], needed: bool) -> Iterator[tuple[SnapshotCase, list[Sentence] | None]]:
    """Pinned report sentences, read here in the calling thread (worker threads never touch the DB)."""
    for case in cases:
        if not needed or case.report_version is None:
            yield case, None
            continue
        rows = (
            SentenceRow.objects.filter(report__case_id=case.case, report__version=case.report_version)
            .exclude(status=SentenceStatus.REJECTED)  # a rejected sentence is not part of the approved report
            .order_by("order")
        )
        yield (
            case,
            [
                Sentence(
                    text=s.text,
                    kind=s.kind,
                    modality=s.modality,
                    region_label_ids=list(s.region_label_ids),
                    lesion_component=s.lesion_component,
                    status=s.status,
                    features=s.features or {},
                )
                for s in rows
            ],
        )


def _write(sink: Sink, ready: Ready) -> None:
    if ready.data is not None:
        sink.write_bytes(ready.path, ready.data)
        return
    assert ready.stream is not None
    copied = 0

    def chunks() -> Iterator[memoryview]:
        nonlocal copied
        for chunk in _chunks(ready.stream.source.file):
            copied += len(chunk)
            yield chunk

    sink.write_chunks(ready.path, chunks(), ready.size)
    if copied != ready.size:
        raise ExportError(f"the stored file behind {ready.path} changed size while it was exported")


def _chunks(name: str) -> Iterator[memoryview]:
    """A stored file in pieces through one reused buffer: no file is ever held whole in memory.

    Each piece is only valid until the next one is read, so consumers write or hash it at once.
    """
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with blob_open(name) as fh:
        while n := fh.readinto(buffer):
            yield view[:n]


# --- making one file ready (runs in worker threads) ----------------------------------------------------


def make_ready(entry: FileEntry) -> Ready:
    if isinstance(entry, Content):
        return Ready(entry.path, hashlib.sha256(entry.data).hexdigest(), len(entry.data), data=entry.data)
    if isinstance(entry, CopyBlob):
        return _copy_blob(entry)
    if isinstance(entry, RemapLabels):
        return _remap(entry)
    raise TypeError(f"unknown file entry {entry!r}")


def _damaged(path: str) -> ExportError:
    return ExportError(f"the stored file behind {path} does not match its checksum; it is damaged")


def _read_verified(entry: CopyBlob | RemapLabels) -> bytes:
    with blob_open(entry.source.file) as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != entry.source.sha256:
        raise _damaged(entry.path)
    return data


def _copy_blob(entry: CopyBlob) -> Ready:
    """Check the stored file against its checksum here; the writer then streams it as it is.

    Reading it twice (here to hash, there to copy) costs a pass over the page cache and keeps
    memory flat whatever the file sizes.
    """
    source = entry.source
    digest = hashlib.sha256()
    size = 0
    prefix = b""
    for chunk in _chunks(source.file):
        if not prefix:
            prefix = bytes(chunk[:HEADER_PREFIX])
        digest.update(chunk)
        size += len(chunk)
    if digest.hexdigest() != source.sha256 or size != source.size_bytes:
        raise _damaged(entry.path)
    if entry.check_header and not header_is_clean(prefix):
        # Stored before scrubbing existed, or by hand: rebuild it without the text fields.
        data = nifti.scrub_volume(nifti.decode_stored(_read_verified(entry)), level=1)
        return Ready(entry.path, hashlib.sha256(data).hexdigest(), len(data), data=data)
    return Ready(entry.path, source.sha256, size, stream=entry)


def header_is_clean(prefix: bytes) -> bool:
    """No free-text header field and no extension: nothing that could carry an identifier."""
    raw = prefix
    if nifti.is_gzip(prefix):
        raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(prefix, nifti.NIFTI2_HEADER_SIZE + 4)
    info = nifti.parse_header(raw)
    for name in nifti.TEXT_FIELDS:
        if bytes(np.asarray(info.header[name]).tobytes()).strip(b"\x00 "):
            return False
    size = len(info.header.binaryblock)
    extension_flag = raw[size : size + 4]
    return not (len(extension_flag) == 4 and extension_flag[0] != 0)


def _remap(entry: RemapLabels) -> Ready:
    volume = nifti.decode_stored(_read_verified(entry))
    labels = nifti.label_values(volume.data)
    lut = np.asarray(entry.lut, dtype=np.uint8 if max(entry.lut) < 256 else np.uint16)
    if labels.size and int(labels.max()) >= len(lut):
        raise ExportError(f"{entry.path}: the mask holds label {int(labels.max())}, which the schema does not define")
    data = nifti.encode_labels(lut[labels], volume.affine)
    return Ready(entry.path, hashlib.sha256(data).hexdigest(), len(data), data=data)
