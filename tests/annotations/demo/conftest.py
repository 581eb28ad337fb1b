"""Fixtures for the demo-generator tests: a small generated dataset, shared by the slow tests."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

SEED = 11
N_CASES = 6  # the first block of six cases holds one case of every kind


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory: pytest.TempPathFactory):
    from annotations.demo import generate_dataset

    out = tmp_path_factory.mktemp("demo") / "ds"
    return generate_dataset(out, N_CASES, SEED, workers=2)


class CaseFiles:
    """One generated case read back from disk, reoriented to RAS as a viewer would."""

    def __init__(self, case_dir: Path):
        self.dir = case_dir
        self.params = json.loads((case_dir / "params.json").read_text())
        self.report = json.loads((case_dir / "report.json").read_text())
        self.kind = self.params["kind"]
        self.images = {m: nib.load(case_dir / f"{m}.nii.gz") for m in self.params["modalities"]}
        self.lesion_img = nib.load(case_dir / "lesion.nii.gz")
        self.structure_img = nib.load(case_dir / "structure.nii.gz")

    def ras(self, img: nib.Nifti1Image) -> np.ndarray:
        return np.asanyarray(nib.as_closest_canonical(img).dataobj)

    @property
    def lesion(self) -> np.ndarray:
        return self.ras(self.lesion_img)

    @property
    def structure(self) -> np.ndarray:
        return self.ras(self.structure_img)

    def volume(self, modality: str) -> np.ndarray:
        return self.ras(self.images[modality]).astype(np.float32)


@pytest.fixture(scope="session")
def demo_cases(demo_dataset) -> list[CaseFiles]:
    return [CaseFiles(demo_dataset.out_dir / "cases" / cid) for cid in demo_dataset.case_ids]
