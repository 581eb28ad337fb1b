"""Export throughput and memory: approved cases to nnU-Net v2 raw (folder and zip) and the other formats.

    .venv/bin/python bench/bench_export.py [--cases 100] [--sizes 25,50,100] [--repeat 3]
                                           [--source synthetic|demo] [--demo-dir DIR] [--workers N]
                                           [--database-url …]

Cases are demo-sized 181×217×181 int16 volumes stored as the case store stores them (scrubbed
canonical .nii.gz, gzip level 1), a lesion and a structure mask, a grounded report and an approve
review. ``--source synthetic`` (the default) writes them straight into the case store, T1, T1CE, T2
and FLAIR for every case, each volume with its own noise so no two files are alike. ``--source demo``
imports the demo generator's cases (``annotations.demo.generate_dataset``, generated into
``--demo-dir`` when it holds too few; about 5 s per case on two cores); their sequences vary with the
lesion kind, so nnU-Net and MONAI exports default to the one sequence every case has (FLAIR).

Each row exports the snapshot of the first N cases, in a forked child (best of --repeat runs):
"CPU ms/case" counts every thread of the export, so on a shared, busy machine it says what the
wall-clock rate would be on idle cores; "peak memory" is the child's highest resident set size
(sampled every 5 ms) above its size when the export began, and must not grow with N. Stored files
were just written, so they are read from the page cache, as on a warm server.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import boot, table

SHAPE = (181, 217, 181)
MODALITIES = ("T1", "T1CE", "T2", "FLAIR")
PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Highest resident set size while the block runs, above what it was when the block began."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @property
    def above_base_mib(self) -> float:
        return (self.peak - self.base) / 2**20


def _head(shape: tuple[int, int, int]) -> np.ndarray:
    grid = np.indices(shape, dtype=np.float32)
    centre = (np.array(shape, dtype=np.float32) - 1) / 2
    r = sum(((grid[i] - centre[i]) / (shape[i] * 0.42)) ** 2 for i in range(3))
    return np.where(r < 1, 600 + 300 * np.cos(6 * r), 0).astype(np.float32)


def synthesise(project, user, n: int, seed: int = 0) -> list:
    """Approved demo-sized cases written straight into the case store."""
    from annotations import nifti
    from annotations.blobs import blob_put
    from annotations.models import Case, MaskVersion, Review, Volume
    from annotations.services.reports import report_save

    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [90, -126, -72]
    head = _head(SHAPE)
    brain = head > 0
    contrast = {"T1": 1.0, "T1CE": 1.1, "T2": 0.7, "FLAIR": 0.85}
    structure = np.zeros(SHAPE, np.uint8)  # 32 slabs from left to right, inside the head
    slab = (np.arange(SHAPE[0]) * 32 // SHAPE[0] + 1).astype(np.uint8)
    structure[brain] = np.broadcast_to(slab[:, None, None], SHAPE)[brain]

    def volume(index: int, modality: str) -> tuple[str, str, int]:
        rng = np.random.default_rng([seed, index, sum(map(ord, modality))])
        data = head * contrast[modality] + rng.normal(0, 25, SHAPE).astype(np.float32) * brain
        img = nib.Nifti1Image(np.clip(data, 0, 32767).astype(np.int16), affine)
        img.header.set_xyzt_units("mm")
        return blob_put(gzip.compress(img.to_bytes(), compresslevel=1, mtime=0))

    cases = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for i in range(n):
            case = Case.objects.create(
                project=project,
                external_id=f"SYN-{i:04d}",
                split=("train", "train", "train", "val", "test")[i % 5],
                status="submitted",
                reference_modality="T1",
                shape=list(SHAPE),
                affine=affine.tolist(),
                orientation="LAS",
                modalities=list(MODALITIES),
            )
            stored = dict(zip(MODALITIES, pool.map(lambda m, i=i: volume(i, m), MODALITIES), strict=True))
            for modality, (name, sha, size) in stored.items():
                Volume.objects.create(
                    case=case,
                    modality=modality,
                    file=name,
                    sha256=sha,
                    size_bytes=size,
                    shape=list(SHAPE),
                    affine=affine.tolist(),
                    spacing=[1.0, 1.0, 1.0],
                    dtype="int16",
                    orientation="LAS",
                )
            rng = np.random.default_rng([seed, i])
            lesion = np.zeros(SHAPE, np.uint8)
            x, y, z = (int(v) for v in rng.integers(50, 120, size=3))
            lesion[x : x + 30, y : y + 30, z : z + 25] = 2
            lesion[x + 5 : x + 22, y + 5 : y + 22, z + 5 : z + 18] = 3
            lesion[x + 10 : x + 16, y + 10 : y + 16, z + 8 : z + 14] = 1
            for kind, labels in (("lesion", lesion), ("structure", structure)):
                name, sha, size = blob_put(nifti.encode_labels(labels, affine))
                MaskVersion.objects.create(
                    case=case,
                    kind=kind,
                    version=1,
                    file=name,
                    sha256=sha,
                    size_bytes=size,
                    source="human",
                    counts=nifti.label_counts(labels),
                )
            report_save(
                case=case,
                sentences=[
                    {
                        "text": f"A mass in the left frontal lobe, case {i}.",
                        "region_label_ids": [1],
                        "lesion_component": 1,
                    },
                    {"text": "The mass is hyperintense on FLAIR.", "modality": "FLAIR", "region_label_ids": [1]},
                    {"text": "Left frontal glioma.", "kind": "impression", "region_label_ids": [1]},
                ],
                expected_version=0,
                user=None,
                source="import",
            )
            Review.objects.create(
                case=case,
                action="approve",
                author=user,
                from_status="submitted",
                to_status="approved",
                mask_versions={"lesion": 1, "structure": 1},
                report_version=1,
            )
            Case.objects.filter(pk=case.pk).update(status="approved")
            cases.append(case)
    return cases


def from_demo(project, user, n: int, demo_dir: Path) -> list:
    from annotations.demo import generate_dataset
    from annotations.importers.run import import_path
    from annotations.models import Case
    from annotations.services.reviews import case_review

    if not (demo_dir / "cases").is_dir() or len(list((demo_dir / "cases").iterdir())) < n:
        print(f"generating {n} demo cases into {demo_dir} …", flush=True)
        generate_dataset(demo_dir, n, seed=7, workers=os.cpu_count() or 2, progress=True)
    import_path(project=project, root=demo_dir, layout="radgenome")
    cases = list(Case.objects.filter(project=project).order_by("external_id")[:n])
    for case in cases:
        case_review(case=case, action="submit", user=None)
        case_review(case=case, action="approve", user=None)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--sizes", default="25,50,100", help="Snapshot sizes to export (each ≤ --cases).")
    parser.add_argument("--source", choices=["synthetic", "demo"], default="synthetic")
    parser.add_argument("--demo-dir", type=Path, default=Path("var/bench-demo"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per row; the fastest is shown.")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    boot(args.database_url)

    from django.contrib.auth import get_user_model
    from django.core.files.storage import default_storage

    from annotations.exporters.jobs import export_archive
    from annotations.exporters.registry import EXPORTERS
    from annotations.exporters.run import export_write
    from annotations.exporters.sinks import FolderSink
    from annotations.models import Export, Volume
    from annotations.services.projects import project_create
    from annotations.services.snapshots import snapshot_freeze

    user = get_user_model().objects.create_user("bench", password="x", is_staff=True)
    project = project_create(name="Bench", label_schema="demo-aal3", user=user)
    t0 = time.perf_counter()
    if args.source == "synthetic":
        cases = synthesise(project, user, args.cases)
    else:
        cases = from_demo(project, user, args.cases, args.demo_dir)
    print(f"{len(cases)} approved {args.source} cases ready in {time.perf_counter() - t0:.0f} s", flush=True)

    out_root = Path(tempfile.mkdtemp(prefix="brainscribe-bench-export-"))
    rows = []

    def run(label: str, n: int, fmt: str, write) -> None:
        snapshot = snapshot_freeze(project=project, user=None, cases=cases[:n])
        options = EXPORTERS[fmt].clean_params({}, project_name=project.name)
        trials = []
        for _ in range(args.repeat):
            trials.append(in_child(lambda: write(snapshot, fmt, options)))
            # Deleting a GB of output is not part of exporting it (and is slow on a disk mounted with discard).
            shutil.rmtree(out_root / "out", ignore_errors=True)
            shutil.rmtree(Path(default_storage.path("exports")), ignore_errors=True)
        best = min(trials, key=lambda t: t["seconds"])
        mib = best["total_bytes"] / 2**20
        rows.append(
            [
                label,
                fmt,
                n,
                best["n_cases"],
                f"{best['seconds']:.2f}",
                f"{best['n_cases'] / best['seconds']:.1f}",
                f"{mib / best['seconds']:.0f}",
                f"{1000 * best['cpu'] / best['n_cases']:.0f}",
                f"{mib:.0f}",
                f"{max(t['peak_mib'] for t in trials):.0f}",
                ",".join(best["channels"]) or "all",
            ]
        )
        print(" | ".join(str(c) for c in rows[-1]), flush=True)

    def to_folder(snapshot, fmt, options):
        sink = FolderSink(out_root / "out")
        return export_write(snapshot=snapshot, format=fmt, params=options, sink=sink, workers=args.workers)

    def to_archive(snapshot, fmt, options):
        export = Export.objects.create(project=project, snapshot=snapshot, format=fmt)
        return export_archive(export=export, options=options, workers=args.workers)

    sizes = [int(s) for s in args.sizes.split(",") if int(s) <= len(cases)]
    for n in sizes:
        run("folder (CLI)", n, "nnunet", to_folder)
    for n in sizes:
        run("zip in file store (job)", n, "nnunet", to_archive)
    for fmt in ("monai", "radgenome", "bids", "jsonl"):
        for n in sizes:
            run("folder (CLI)", n, fmt, to_folder)
    shutil.rmtree(out_root, ignore_errors=True)

    volumes = Volume.objects.filter(case__project=project)
    per_case = volumes.count() / len(cases)
    stored = sum(volumes.values_list("size_bytes", flat=True)) / len(cases) / 2**20
    print()
    print(
        f"Export of approved {args.source} cases ({SHAPE[0]}×{SHAPE[1]}×{SHAPE[2]} int16, {per_case:.1f} volumes "
        f"of {stored / per_case:.1f} MiB each + 2 masks per case; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; best of {args.repeat}). nnU-Net and MONAI take the modalities every case "
        "has (channels column); the other formats take every volume."
    )
    print(
        table(
            [
                "destination",
                "format",
                "snapshot cases",
                "exported",
                "seconds",
                "cases/s",
                "MiB/s",
                "CPU ms/case",
                "MiB written",
                "peak memory MiB",
                "channels",
            ],
            rows,
        )
    )


def in_child(work) -> dict:
    """Run ``work`` in a forked child so its memory peak is its own, not an earlier run's heap."""
    from django.db import connections

    connections.close_all()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 0
        try:
            with PeakRss() as rss:
                start, cpu = time.perf_counter(), time.process_time()
                outcome = work()
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            result = {
                "seconds": seconds,
                "cpu": cpu,
                "n_cases": outcome.n_cases,
                "total_bytes": outcome.total_bytes,
                "peak_mib": rss.above_base_mib,
                "channels": outcome.manifest["details"].get("channels", []),
            }
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            result, code = {"error": repr(exc)}, 1
        with os.fdopen(write, "w") as fh:
            json.dump(result, fh)
        connections.close_all()
        os._exit(code)  # never run the parent's atexit teardown (it drops the database)
    os.close(write)
    with os.fdopen(read) as fh:
        result = json.load(fh)
    os.waitpid(pid, 0)
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


if __name__ == "__main__":
    main()
