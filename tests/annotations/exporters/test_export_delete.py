"""Deleting an export's files (admins, and the retention command): the record stays, the bytes go."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from annotations.models import AuditEvent, Export
from inference.models import Job, JobStatus
from inference.services.jobs import job_execute

pytestmark = pytest.mark.usefixtures("export_job_type", "export_urls")


def _export(client, project, fmt="nnunet") -> Export:
    started = client.post(
        f"/api/projects/{project.pk}/jobs/", {"type": "export", "params": {"format": fmt}}, format="json"
    )
    assert started.status_code == 202, started.json()
    assert job_execute(job_id=started.json()["id"]) == "succeeded"
    return Export.objects.get(job_id=started.json()["id"])


def test_an_admin_deletes_the_files_and_the_record_stays(project, members, client_for, cohort):
    admin, reviewer, viewer = (client_for(members[r]) for r in ("admin", "reviewer", "viewer"))
    export = _export(reviewer, project)
    archive, manifest = export.archive, export.manifest
    assert default_storage.exists(archive)

    for who in (reviewer, viewer):
        refused = who.delete(f"/api/exports/{export.pk}/")
        assert refused.status_code == 403 and "delete exports" in refused.json()["detail"]
    assert default_storage.exists(archive)

    deleted = admin.delete(f"/api/exports/{export.pk}/")
    assert deleted.status_code == 200, deleted.json()
    body = deleted.json()
    assert body["status"] == "deleted" and body["download_url"] is None
    assert body["files_deleted_by"]["username"] == members["admin"].username
    assert body["manifest"] == manifest  # what was exported, with every file's sha256, is still on record
    assert not default_storage.exists(archive)
    assert default_storage.listdir(f"exports/{export.pk}") == ([], [])

    gone = viewer.get(f"/api/exports/{export.pk}/download")
    assert gone.status_code == 410
    assert "deleted on" in gone.json()["detail"] and f"snapshot {export.snapshot_id}" in gone.json()["detail"]
    listed = viewer.get(f"/api/projects/{project.pk}/exports/").json()["results"]
    assert [(e["id"], e["status"]) for e in listed] == [(export.pk, "deleted")]

    again = admin.delete(f"/api/exports/{export.pk}/")  # nothing left to delete: the same answer
    assert again.status_code == 200 and again.json()["files_deleted_at"] == body["files_deleted_at"]
    events = AuditEvent.objects.filter(verb="export.delete_files", project=project)
    assert events.count() == 1 and events.get().data["bytes"] > 0


def test_an_export_still_being_written_is_not_deleted(project, members, client_for, cohort):
    job = Job.objects.create(project=project, type="export", params={"format": "nnunet"}, status=JobStatus.RUNNING)
    snapshot = _export(client_for(members["reviewer"]), project).snapshot
    export = Export.objects.create(project=project, snapshot=snapshot, format="monai", job=job)
    refused = client_for(members["admin"]).delete(f"/api/exports/{export.pk}/")
    assert refused.status_code == 409 and "still being written" in refused.json()["detail"]
    export.refresh_from_db()
    assert export.files_deleted_at is None


def test_retention_keeps_the_newest_per_format_and_everything_recent(project, members, client_for, cohort, capsys):
    reviewer = client_for(members["reviewer"])
    old, newer = _export(reviewer, project), _export(reviewer, project)
    monai = _export(reviewer, project, "monai")
    Export.objects.filter(pk__in=[old.pk, newer.pk, monai.pk]).update(created_at=timezone.now() - timedelta(days=40))
    recent = _export(reviewer, project)  # the newest nnU-Net export, and young

    call_command("prune_exports", "--older-than-days", "30", "--keep-latest", "1", "--dry-run")
    assert "Would delete the files of 2 exports" in capsys.readouterr().out
    assert Export.objects.filter(files_deleted_at__isnull=False).count() == 0

    call_command("prune_exports", "--older-than-days", "30", "--keep-latest", "1")
    deleted = set(Export.objects.filter(files_deleted_at__isnull=False).values_list("pk", flat=True))
    assert deleted == {old.pk, newer.pk}  # monai's only export and the young one stay
    assert default_storage.exists(Export.objects.get(pk=recent.pk).archive)
    assert default_storage.exists(Export.objects.get(pk=monai.pk).archive)
    events = AuditEvent.objects.filter(verb="export.delete_files")
    assert events.count() == 2 and all(e.actor is None for e in events)
