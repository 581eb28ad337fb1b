"""A RadGenome-Brain export imports back through our own importer into an identical project."""

import json

from annotations.importers.run import import_path
from annotations.models import Case, MaskVersion, ReportVersion
from annotations.services.masks import mask_labels
from annotations.services.projects import project_create
from annotations.services.snapshots import snapshot_freeze

from .conftest import SENTENCES, export_folder


def _content(case: Case) -> dict:
    volumes = dict(case.volumes.values_list("modality", "sha256"))
    masks = {}
    for kind in ("lesion", "structure"):
        mask = MaskVersion.objects.filter(case=case, kind=kind).order_by("-version").first()
        if mask is not None:
            masks[kind] = (mask.sha256, mask_labels(mask).tobytes())
    report = ReportVersion.objects.filter(case=case).order_by("-version").first()
    sentences = [
        (s.text, s.kind, s.modality, s.region_label_ids, s.lesion_component, s.features)
        for s in report.sentences.order_by("order")
        if s.status != "rejected"
    ]
    return {
        "split": case.split,
        "reference": case.reference_modality,
        "shape": case.shape,
        "affine": case.affine,
        "volumes": volumes,
        "masks": masks,
        "sentences": sentences,
    }


def test_export_reimports_into_an_identical_project(project, cohort, staff, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, "radgenome", tmp_path)

    copy = project_create(name="Gliomas again", label_schema="demo-aal3", user=staff)
    summary = import_path(project=copy, root=tmp_path, layout="radgenome")
    assert not summary.failed and sorted(summary.created) == [c.external_id for c in cohort]
    assert sorted(summary.reports) == [c.external_id for c in cohort]
    for original in cohort:
        imported = Case.objects.get(project=copy, external_id=original.external_id)
        assert _content(imported) == _content(original), original.external_id
    # The rejected sentence was not part of the approved report, so it did not travel.
    texts = [s.text for s in ReportVersion.objects.get(case__project=copy, case__external_id="GLI-001").sentences.all()]
    assert "A sentence the reviewer rejected." not in texts and len(texts) == len(SENTENCES) - 1


def test_free_text_files_follow_radgenome(project, cohort, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, "radgenome", tmp_path)
    modal = json.loads((tmp_path / "modal_wise_finding.json").read_text())
    global_ = json.loads((tmp_path / "global_finding.json").read_text())
    impression = json.loads((tmp_path / "impression.json").read_text())
    split = json.loads((tmp_path / "train_val_test_split.json").read_text())
    assert modal["GLI-001"] == {"FLAIR": "The mass is hyperintense on FLAIR."}
    assert global_["GLI-001"] == (
        "There is a mass in the left frontal lobe, about 14 x 12 x 10 mm. The brainstem is normal."
    )
    assert impression["GLI-001"] == "Left frontal glioma."
    assert split == {"train": ["GLI-001", "GLI-002", "GLI-005"], "val": ["GLI-003"], "test": ["GLI-004"]}
    assert sorted(p.name for p in (tmp_path / "cases" / "GLI-005").iterdir()) == [
        "FLAIR.nii.gz",
        "T1.nii.gz",
        "T2.nii.gz",
        "lesion.nii.gz",
        "report.json",
        "structure.nii.gz",
    ]
