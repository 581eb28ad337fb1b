"""Approved cases with masks and reports, the export job type and the export URLs, for export tests."""

from __future__ import annotations

import gzip
import sys
import types
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

SHAPE = (24, 28, 20)
AFFINES = {
    "RAS": np.diag([2.0, 2.0, 2.0, 1.0]),
    "LAS": np.array([[-2.0, 0, 0, 46], [0, 2.0, 0, -27], [0, 0, 2.0, -19], [0, 0, 0, 1]]),
}


def lesion_map(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(SHAPE, np.uint8)
    x, y, z = (int(v) for v in rng.integers(4, 12, size=3))
    out[x : x + 7, y : y + 6, z : z + 5] = 2  # oedema around
    out[x + 1 : x + 5, y + 1 : y + 5, z + 1 : z + 4] = 3  # an enhancing rim
    out[x + 2 : x + 4, y + 2 : y + 4, z + 2] = 1  # a necrotic core
    return out


def structure_map(seed: int) -> np.ndarray:
    out = np.zeros(SHAPE, np.uint8)
    out[: 10 + seed % 3] = 1  # frontal lobe L
    out[12:] = 2  # frontal lobe R
    out[:, :6] = 5  # temporal lobe L
    out[:, :, 15:] = 30  # brainstem
    return out


def volume_data(seed: int, modality: str) -> np.ndarray:
    rng = np.random.default_rng([seed, sum(map(ord, modality))])
    return rng.integers(0, 1000, size=SHAPE).astype(np.int16)


def nii(data: np.ndarray, affine: np.ndarray, descrip: str = "") -> bytes:
    img = nib.Nifti1Image(data, affine)
    img.header["descrip"] = descrip.encode()[:79]
    return gzip.compress(img.to_bytes(), mtime=0)


SENTENCES = [
    {
        "text": "There is a mass in the left frontal lobe, about 14 x 12 x 10 mm.",
        "kind": "lesion",
        "region_label_ids": [1],
        "lesion_component": 1,
        "features": {"volume_ml": 0.8},
    },
    {"text": "The mass is hyperintense on FLAIR.", "kind": "lesion", "modality": "FLAIR", "region_label_ids": [1]},
    {"text": "The brainstem is normal.", "kind": "normal", "region_label_ids": [30]},
    {"text": "A sentence the reviewer rejected.", "kind": "lesion", "status": "rejected"},
    {"text": "Left frontal glioma.", "kind": "impression", "region_label_ids": [1], "lesion_component": 1},
]


@pytest.fixture
def make_approved(project, members) -> Callable[..., object]:
    """A case with volumes, both masks and a grounded report, submitted and approved by the reviewer."""
    from annotations.services.cases import case_create
    from annotations.services.masks import mask_save
    from annotations.services.reports import report_save
    from annotations.services.reviews import case_review

    def make(
        external_id: str,
        *,
        seed: int = 0,
        modalities: tuple[str, ...] = ("T1", "T1CE", "T2", "FLAIR"),
        split: str = "train",
        orientation: str = "RAS",
        masks: tuple[str, ...] = ("lesion", "structure"),
        sentences: list[dict] | None = None,
        approve: bool = True,
        descrip: str = "",
        off_grid: tuple[str, ...] = (),
    ) -> object:
        affine = AFFINES[orientation]
        volumes = {}
        for m in modalities:
            data = volume_data(seed, m)
            if m in off_grid:
                data = data[:20]  # another grid: a different shape
            volumes[m] = nii(data, affine, descrip)
        case = case_create(
            project=project, external_id=external_id, volumes=volumes, split=split, user=members["admin"]
        ).case
        annotator = members["annotator"]
        for kind in masks:
            labels = lesion_map(seed) if kind == "lesion" else structure_map(seed)
            mask_save(case=case, kind=kind, data=nii(labels, affine), expected_version=0, user=annotator)
        report_save(
            case=case, sentences=SENTENCES if sentences is None else sentences, expected_version=0, user=annotator
        )
        if approve:
            case_review(case=case, action="submit", user=annotator)
            case_review(case=case, action="approve", user=members["reviewer"])
        case.refresh_from_db()
        return case

    return make


@pytest.fixture
def cohort(make_approved) -> list[object]:
    """Five approved cases over every split, one stored LAS, one without T1CE."""
    return [
        make_approved("GLI-001", seed=1, split="train"),
        make_approved("GLI-002", seed=2, split="train", orientation="LAS"),
        make_approved("GLI-003", seed=3, split="val"),
        make_approved("GLI-004", seed=4, split="test"),
        make_approved("GLI-005", seed=5, split="train", modalities=("T1", "T2", "FLAIR")),
    ]


@pytest.fixture
def export_job_type(monkeypatch):
    """The export job in the registry, exactly as the lead adds it to inference/jobtypes.py."""
    from annotations.exporters.jobs import clean_export_params, export_dedupe_key
    from annotations.models import Role
    from inference import jobtypes
    from inference.services.jobs import JobSpec

    monkeypatch.setitem(
        jobtypes.JOB_TYPES,
        "export",
        JobSpec(
            runner="annotations.exporters.jobs:run_export_job",
            queue="default",
            minimum_role=Role.REVIEWER,
            clean_params=clean_export_params,
            dedupe_key=export_dedupe_key,
        ),
    )


@pytest.fixture
def export_urls(settings, monkeypatch):
    """The export URLs mounted under /api/, as annotations/api/urls.py will include them."""
    from django.urls import include, path

    import brainscribe.urls

    module = types.ModuleType("export_test_urls")
    module.urlpatterns = [path("api/", include("annotations.api.export_urls")), *brainscribe.urls.urlpatterns]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    settings.ROOT_URLCONF = module.__name__


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def export_folder(snapshot, fmt: str, out: Path, **options):
    """Write ``snapshot`` as ``fmt`` into ``out`` with the same cleaning the job and the CLI apply."""
    from annotations.exporters.registry import EXPORTERS
    from annotations.exporters.run import export_write
    from annotations.exporters.sinks import FolderSink

    params = EXPORTERS[fmt].clean_params(options, project_name=snapshot.project.name)
    return export_write(snapshot=snapshot, format=fmt, params=params, sink=FolderSink(out))
