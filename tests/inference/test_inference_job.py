import pytest
from django.core.management import call_command

from annotations.models import MaskVersion, ReportVersion
from inference.models import Job
from inference.services.jobs import job_create, job_execute
from inference.services.models import model_promote, model_register


@pytest.fixture
def champion(project, tiny_demo_model):
    model = model_register(project=project, data=tiny_demo_model, name="tiny")
    return model_promote(model=model, user=None, reason="test champion")


def test_inference_job_writes_model_masks_and_a_grounded_report(members, client_for, project, champion, phantom_case):
    case = phantom_case()
    response = client_for(members["reviewer"]).post(
        f"/api/projects/{project.pk}/jobs/", {"type": "inference", "params": {"cases": [case.pk]}}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert job_execute(job_id=response.json()["id"]) == "succeeded"
    masks = MaskVersion.objects.filter(case=case)
    assert {(m.kind, m.source, m.model_version_id) for m in masks} == {
        ("structure", "model", champion.pk),
        ("lesion", "model", champion.pk),
    }
    structure = masks.get(kind="structure")
    assert set(map(int, structure.counts)) <= set(
        project.label_schema.labels.filter(kind="structure").values_list("index", flat=True)
    )
    report = ReportVersion.objects.get(case=case)
    assert report.source == "model" and report.model_version_id == champion.pk
    sentences = list(report.sentences.all())
    assert sentences and all(s.source == "model" and s.original_text == s.text for s in sentences)
    assert all(isinstance(s.warnings, list) for s in sentences)
    case.refresh_from_db()
    assert case.status == "predicted"
    job = Job.objects.get(pk=response.json()["id"])
    assert job.progress == 1.0 and job.result["proposed"] == 1


def test_running_it_twice_creates_nothing_new(project, champion, phantom_case):
    case = phantom_case()
    for _ in range(2):
        job = job_create(project=project, type="inference", params={"cases": [case.pk]}, user=None)
        job_execute(job_id=job.pk)
    assert MaskVersion.objects.filter(case=case).count() == 2
    assert ReportVersion.objects.filter(case=case).count() == 1
    assert Job.objects.order_by("-pk").first().result["skipped"] == 1


def test_cases_clinicians_started_on_keep_their_work(project, champion, phantom_case):
    case = phantom_case()
    case.status = "in_progress"
    case.save(update_fields=["status"])
    job = job_create(project=project, type="inference", params={"cases": [case.pk]}, user=None)
    job_execute(job_id=job.pk)
    assert not MaskVersion.objects.filter(case=case).exists()


def test_a_case_missing_modalities_is_still_inferred(project, champion, phantom_case):
    from annotations.models import Volume

    case = phantom_case()
    Volume.objects.filter(case=case, modality__in=["T2", "FLAIR"]).delete()
    job = job_create(project=project, type="inference", params={"cases": [case.pk]}, user=None)
    assert job_execute(job_id=job.pk) == "succeeded"
    assert MaskVersion.objects.filter(case=case).count() == 2


def test_without_a_champion_the_job_is_refused_with_a_sentence(members, client_for, project, phantom_case):
    case = phantom_case()
    response = client_for(members["admin"]).post(
        f"/api/projects/{project.pk}/jobs/", {"type": "inference", "params": {"cases": [case.pk]}}, format="json"
    )
    assert response.status_code == 400 and "no champion" in response.json()["detail"]


def test_manage_py_infer_does_the_same(project, champion, phantom_case, capsys):
    case = phantom_case()
    call_command("infer", str(project.pk), verbosity=0)
    assert "1 cases proposed" in capsys.readouterr().out
    assert MaskVersion.objects.filter(case=case, source="model").count() == 2


def test_clinician_sentences_that_contradict_the_masks_get_warnings(
    members, client_for, project, champion, phantom_case
):
    from annotations.services.masks import mask_labels

    case = phantom_case()
    job_execute(job_id=job_create(project=project, type="inference", params={"cases": [case.pk]}, user=None).pk)
    client = client_for(members["annotator"])
    structure = mask_labels(MaskVersion.objects.get(case=case, kind="structure"))
    present = sorted({int(v) for v in set(structure.ravel().tolist())} - {0})
    response = client.put(
        f"/api/cases/{case.pk}/report",
        {
            "sentences": [
                {"text": "A 9 cm mass in the occipital lobe.", "region_label_ids": present[:1], "lesion_component": 1},
            ]
        },
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.json()
    assert response.json()["sentences"][0]["warnings"], "the checker found nothing wrong with an invented finding"
