"""Export through the API: start a job, poll it, download the archive; who may do what."""

import io
import json
import zipfile

import pytest

from annotations.models import AuditEvent, Export
from inference.models import Job
from inference.services.jobs import job_execute

pytestmark = pytest.mark.usefixtures("export_job_type", "export_urls")


def start(client, project, params):
    return client.post(f"/api/projects/{project.pk}/jobs/", {"type": "export", "params": params}, format="json")


def test_start_poll_download(project, members, client_for, cohort):
    reviewer = client_for(members["reviewer"])
    started = start(reviewer, project, {"format": "nnunet", "mask": "lesion"})
    assert started.status_code == 202, started.json()
    job_id = started.json()["id"]
    assert started.json()["params"] == {
        "format": "nnunet",
        "cases": "approved",
        "mask": "lesion",
        "dataset_id": 501,
        "dataset_name": "Gliomas",
    }
    assert job_execute(job_id=job_id) == "succeeded", Job.objects.get(pk=job_id).error

    polled = reviewer.get(f"/api/jobs/{job_id}/").json()
    assert polled["status"] == "succeeded" and polled["progress"] == 1.0
    result = polled["result"]
    assert result["n_cases"] == 5 and result["skipped"] == {}
    assert result["download_url"] == f"/api/exports/{result['export_id']}/download"

    viewer = client_for(members["viewer"])  # any member may download
    download = viewer.get(result["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"] and ".zip" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    assert int(download["Content-Length"]) == len(body)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["snapshot"]["id"] == result["snapshot_id"]

    listed = viewer.get(f"/api/projects/{project.pk}/exports/").json()["results"]
    assert [(e["id"], e["status"], e["format"]) for e in listed] == [(result["export_id"], "ready", "nnunet")]
    assert listed[0]["snapshot"]["checksum"] == result["snapshot_checksum"]
    detail = viewer.get(f"/api/exports/{result['export_id']}/").json()
    assert detail["manifest"]["files"] == manifest["files"]
    assert AuditEvent.objects.filter(verb="export.create", project=project).count() == 1


def test_the_same_snapshot_is_reused_and_the_manifest_is_identical(project, members, client_for, cohort):
    reviewer = client_for(members["reviewer"])
    results = []
    for _ in range(2):
        job_id = start(reviewer, project, {"format": "monai"}).json()["id"]
        job_execute(job_id=job_id)
        results.append(Job.objects.get(pk=job_id).result)
    assert results[0]["snapshot_id"] == results[1]["snapshot_id"]
    assert results[0]["manifest_sha256"] == results[1]["manifest_sha256"]
    assert results[0]["export_id"] != results[1]["export_id"]


def test_an_explicit_snapshot_can_be_exported(project, members, client_for, cohort):
    from annotations.services.snapshots import snapshot_freeze

    snapshot = snapshot_freeze(project=project, user=members["reviewer"], cases=cohort[:2])
    job_id = start(client_for(members["admin"]), project, {"format": "bids", "snapshot": snapshot.pk}).json()["id"]
    job_execute(job_id=job_id)
    job = Job.objects.get(pk=job_id)
    assert job.status == "succeeded" and job.result["snapshot_id"] == snapshot.pk and job.result["n_cases"] == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "params.format must be one of"),
        ({"format": "dicom"}, "params.format must be one of"),
        ({"format": "nnunet", "mask": "tumour"}, "mask must be one of"),
        ({"format": "nnunet", "modalities": ["T1", "PET"]}, "Unknown modality"),
        ({"format": "nnunet", "dataset_id": 1000}, "from 1 to 999"),
        ({"format": "bids", "mask": "lesion"}, "Unknown parameter 'mask' for the bids format"),
        ({"format": "monai", "snapshot": 99999}, "has no snapshot 99999"),
        ({"format": "monai", "cases": "some"}, "params.cases must be one of"),
    ],
)
def test_bad_params_are_400_with_a_sentence(project, members, client_for, cohort, params, message):
    response = start(client_for(members["reviewer"]), project, params)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_a_project_without_approved_cases_says_so(project, members, client_for, make_approved):
    make_approved("DRAFT-1", approve=False)
    response = start(client_for(members["reviewer"]), project, {"format": "nnunet"})
    assert response.status_code == 400 and "no approved cases" in response.json()["detail"]


def test_annotators_cannot_start_exports_and_outsiders_cannot_see_them(project, members, client_for, cohort):
    assert start(client_for(members["annotator"]), project, {"format": "jsonl"}).status_code == 403
    job_id = start(client_for(members["reviewer"]), project, {"format": "jsonl"}).json()["id"]
    job_execute(job_id=job_id)
    export_id = Job.objects.get(pk=job_id).result["export_id"]
    outsider = client_for(members["outsider"])
    assert outsider.get(f"/api/exports/{export_id}/download").status_code == 404
    assert outsider.get(f"/api/exports/{export_id}/").status_code == 404
    assert outsider.get(f"/api/projects/{project.pk}/exports/").status_code == 404


def test_a_running_duplicate_is_409_and_an_unfinished_export_cannot_be_downloaded(project, members, client_for, cohort):
    reviewer = client_for(members["reviewer"])
    first = start(reviewer, project, {"format": "radgenome"})
    duplicate = start(reviewer, project, {"format": "radgenome"})
    assert duplicate.status_code == 409 and duplicate.json()["job_id"] == first.json()["id"]
    from annotations.services.snapshots import snapshot_freeze

    snapshot = snapshot_freeze(project=project, user=None)
    job = Job.objects.get(pk=first.json()["id"])
    pending = Export.objects.create(project=project, snapshot=snapshot, format="radgenome", job=job)
    response = reviewer.get(f"/api/exports/{pending.pk}/download")
    assert response.status_code == 409 and "queued" in response.json()["detail"]
    listed = reviewer.get(f"/api/projects/{project.pk}/exports/").json()["results"]
    assert listed[0]["status"] == "queued" and listed[0]["download_url"] is None


def test_an_export_with_nothing_to_write_fails_with_a_reason(project, members, client_for, make_approved):
    make_approved("NOREPORT-1", sentences=[])
    job_id = start(client_for(members["reviewer"]), project, {"format": "jsonl"}).json()["id"]
    assert job_execute(job_id=job_id) == "failed"
    assert "Nothing to export" in Job.objects.get(pk=job_id).error


def test_the_openapi_schema_builds_with_the_export_views(db):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")


def test_a_cancelled_export_leaves_no_archive_behind(project, members, client_for, cohort, settings):
    from pathlib import Path

    from annotations.exporters.jobs import run_export_job
    from inference.services.jobs import JobCancelled

    job = Job.objects.get(pk=start(client_for(members["reviewer"]), project, {"format": "nnunet"}).json()["id"])

    class CancelledHalfway:
        def log(self, line):
            pass

        def progress(self, fraction, message=""):
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        run_export_job(job, CancelledHalfway())
    export = Export.objects.get(job=job)
    assert export.archive == "" and export.finished_at is None
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file() and "exports" in p.parts]
