"""Backup, then restore into an empty instance: every version is found, every file checks out."""

import gzip
import json
import os
from datetime import timedelta

import nibabel as nib
import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.blobs import blob_put, blob_read
from annotations.models import AuditEvent, Case, MaskVersion, ReportVersion, Sentence
from annotations.services.blob_cleanup import blobs_cleanup
from annotations.services.masks import mask_save
from annotations.services.reports import report_save

# Real transactions: the dump runs in its own REPEATABLE READ transaction and restore flushes tables.
pytestmark = pytest.mark.django_db(transaction=True)


def _populate(make_case, members):
    case = make_case()
    labels = np.zeros(tuple(case.shape), np.uint8)
    for version in range(3):
        labels[version, 1, 1] = 2
        body = gzip.compress(nib.Nifti1Image(labels, np.asarray(case.affine)).to_bytes())
        mask_save(case=case, kind="lesion", data=body, expected_version=version, user=members["annotator"])
    report_save(
        case=case,
        expected_version=0,
        user=members["annotator"],
        sentences=[{"text": "Oedema in the left frontal lobe.", "region_label_ids": [1]}],
    )
    return case


def _wipe_instance(settings, tmp_path):
    """Empty database rows and a fresh file store: what a new server looks like after migrate."""
    call_command("flush", interactive=False, verbosity=0)  # what remains of a database after migrate
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "brainscribe.storage.AtomicFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "new")},
        },
    }


def test_restore_into_an_empty_instance_finds_every_version(members, make_case, tmp_path, settings):
    case = _populate(make_case, members)
    before = {
        "masks": sorted(MaskVersion.objects.values_list("case__external_id", "kind", "version", "sha256")),
        "reports": sorted(ReportVersion.objects.values_list("case__external_id", "version")),
        "sentences": sorted(Sentence.objects.values_list("text", flat=True)),
        "audit": AuditEvent.objects.count(),
    }
    call_command("backup", str(tmp_path / "bk"), verbosity=0)
    _wipe_instance(settings, tmp_path)
    assert not Case.objects.exists()

    call_command("restore", str(tmp_path / "bk"), verbosity=0)
    after = {
        "masks": sorted(MaskVersion.objects.values_list("case__external_id", "kind", "version", "sha256")),
        "reports": sorted(ReportVersion.objects.values_list("case__external_id", "version")),
        "sentences": sorted(Sentence.objects.values_list("text", flat=True)),
        "audit": AuditEvent.objects.count(),
    }
    assert after == before
    restored = Case.objects.get(external_id=case.external_id)
    for mask in MaskVersion.objects.filter(case=restored):
        assert blob_read(mask.file)  # present in the new file store


def test_restore_refuses_a_damaged_backup_before_writing_anything(members, make_case, tmp_path, settings):
    _populate(make_case, members)
    call_command("backup", str(tmp_path / "bk"), verbosity=0)
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    victim = tmp_path / "bk" / sorted(manifest["files"])[0]
    victim.write_bytes(victim.read_bytes()[:-10])
    _wipe_instance(settings, tmp_path)
    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore", str(tmp_path / "bk"), verbosity=0)
    assert not Case.objects.exists()


def test_restore_refuses_an_instance_that_has_data(members, make_case, tmp_path):
    _populate(make_case, members)
    call_command("backup", str(tmp_path / "bk"), verbosity=0)
    with pytest.raises(CommandError, match="empty instance"):
        call_command("restore", str(tmp_path / "bk"), verbosity=0)


def test_backup_refuses_a_folder_that_is_not_empty(db, tmp_path):
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "x").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "bk"), verbosity=0)


def test_cleanup_removes_old_orphans_and_keeps_referenced_and_recent_files(members, make_case, settings):
    case = _populate(make_case, members)
    orphan, _, _ = blob_put(b"left behind by a crash between file and row")
    young, _, _ = blob_put(b"a save still in flight")
    old = (timezone_now() - timedelta(hours=3)).timestamp()
    os.utime(os.path.join(settings.MEDIA_ROOT, orphan), (old, old))
    summary = blobs_cleanup(grace=timedelta(hours=1))
    assert summary.removed == [orphan]
    assert summary.kept_young == 1
    for mask in MaskVersion.objects.filter(case=case):
        assert blob_read(mask.file)
    assert blob_read(young)


def timezone_now():
    from django.utils import timezone

    return timezone.now()
