"""A tiny model for the demo-aal3 schema, trained once per session with the project's own trainer on
small phantoms, so the Django side (registry, inference jobs) can be tested in seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SHAPE = (40, 48, 40)


def demo_schema_rows() -> list[tuple[int, str, str, str]]:
    with (REPO / "annotations" / "schemas" / "demo-aal3.csv").open() as fh:
        return [(int(r["index"]), r["name"], r["side"], r["coarse_region"]) for r in csv.DictReader(fh)]


def phantom(seed: int, lesion_x: float) -> dict[str, nib.Nifti1Image]:
    """An ellipsoid brain in four quadrants (labels 1-4 of demo-aal3) with one oedema+enhancing lesion."""
    rng = np.random.default_rng(seed)
    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [(SHAPE[0] - 1) / 2, -(SHAPE[1] - 1) / 2, -(SHAPE[2] - 1) / 2]
    ijk = np.indices(SHAPE).reshape(3, -1)
    x, y, z = (affine[:3, :3] @ ijk + affine[:3, 3:]).reshape(3, *SHAPE)
    brain = (x / 16) ** 2 + (y / 20) ** 2 + (z / 16) ** 2 <= 1
    structure = np.zeros(SHAPE, np.uint8)
    structure[brain & (x < 0) & (y > 0)] = 1
    structure[brain & (x >= 0) & (y > 0)] = 2
    structure[brain & (x < 0) & (y <= 0)] = 3
    structure[brain & (x >= 0) & (y <= 0)] = 4
    dist = np.sqrt((x - lesion_x) ** 2 + (y - 4) ** 2 + z**2)
    lesion = np.zeros(SHAPE, np.uint8)
    lesion[(dist < 6) & brain] = 2
    lesion[(dist < 3) & brain] = 3
    images = {}
    for name, (base, edema, core) in {"T1": (800, 600, 450), "FLAIR": (500, 950, 750), "T2": (500, 800, 950)}.items():
        data = np.where(brain, base, 0).astype(np.float32)
        data[lesion == 2], data[lesion == 3] = edema, core
        data = np.where(brain, data + rng.normal(0, 10, SHAPE), 0).astype(np.float32)
        images[name] = nib.Nifti1Image(data, affine)
    images["structure"] = nib.Nifti1Image(structure, affine)
    images["lesion"] = nib.Nifti1Image(lesion, affine)
    return images


@pytest.fixture(scope="session")
def tiny_demo_model(tmp_path_factory) -> bytes:
    import torch

    from inference.ml.config import SegmentationConfig
    from inference.ml.datasets import TrainingCase
    from inference.ml.schema import schema_from_rows
    from inference.ml.training import train

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("tiny-demo-data")
    cases = []
    for seed, x in enumerate((-8.0, 8.0, -6.0)):
        folder = root / f"c{seed}"
        folder.mkdir()
        for name, image in phantom(seed, x).items():
            nib.save(image, folder / f"{name}.nii.gz")
        cases.append(
            TrainingCase(
                f"c{seed}",
                {m: folder / f"{m}.nii.gz" for m in ("T1", "FLAIR", "T2")},
                folder / "structure.nii.gz",
                folder / "lesion.nii.gz",
            )
        )
    config = SegmentationConfig(
        modalities=("T1", "T2", "FLAIR"),
        channels=(8, 16),
        strides=(2,),
        num_res_units=1,
        head_features=8,
        dropout=0.1,
        patch_size=(16, 16, 16),
        epochs=2,
        batch_size=2,
        validate_every=2,
        grid_margin_mm=4.0,
    )
    result = train(
        config,
        cases,
        root / "out",
        schema=schema_from_rows("demo-aal3", demo_schema_rows()),
        val_cases=cases[-1:],
        max_steps_per_epoch=3,
    )
    return Path(result.best_checkpoint).read_bytes()


@pytest.fixture
def phantom_case(project):
    """A case of the demo-aal3 project made of one phantom's volumes."""
    import gzip

    from annotations.services.cases import case_create

    def make(external_id: str = "phantom", lesion_x: float = -8.0) -> object:
        images = phantom(7, lesion_x)
        volumes = {m: gzip.compress(images[m].to_bytes()) for m in ("T1", "FLAIR", "T2")}
        return case_create(project=project, external_id=external_id, volumes=volumes).case

    return make


@pytest.fixture
def labelled_case(project, members):
    """A phantom case whose ground-truth masks a reviewer approved (the labelled set)."""
    import gzip

    from annotations.services.cases import case_create
    from annotations.services.reviews import case_review

    def make(
        external_id: str,
        lesion_x: float = -8.0,
        seed: int = 7,
        approve: bool = True,
        split: str = "unassigned",
        report: str = "",
    ) -> object:
        images = phantom(seed, lesion_x)
        volumes = {m: gzip.compress(images[m].to_bytes()) for m in ("T1", "FLAIR", "T2")}
        masks = {k: gzip.compress(images[k].to_bytes()) for k in ("lesion", "structure")}
        case = case_create(project=project, external_id=external_id, volumes=volumes, masks=masks, split=split).case
        if report:
            from annotations.services.reports import report_save

            report_save(case=case, sentences=[{"text": report}], expected_version=0, user=members["annotator"])
        if approve:
            case_review(case=case, action="submit", user=members["annotator"])
            case_review(case=case, action="approve", user=members["reviewer"])
        return case

    return make


@pytest.fixture
def tiny_champion(project, tiny_demo_model):
    from inference.models import Job
    from inference.services.models import model_promote, model_register

    model = model_register(project=project, data=tiny_demo_model, name="tiny champion", metrics={"val_score": 0.1})
    model_promote(model=model, user=None, reason="test champion")
    Job.objects.all().delete()  # the jobs a promotion queues are not what these tests watch
    return model
