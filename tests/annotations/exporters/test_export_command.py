"""``manage.py export`` writes the same export as the job, to a folder."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import DatasetSnapshot


def test_command_writes_a_folder_with_a_manifest(project, cohort, tmp_path, capsys):
    out = tmp_path / "nnunet"
    call_command(
        "export",
        str(project.pk),
        "--format",
        "nnunet",
        "--out",
        str(out),
        "--modalities",
        "T1,T1CE,T2,FLAIR",
        "--dataset-id",
        "42",
        verbosity=0,
    )
    captured = capsys.readouterr()
    assert "4 cases exported as nnunet" in captured.out and "1 skipped" in captured.out
    assert "skipped GLI-005: no T1CE volume" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["snapshot"]["checksum"] == DatasetSnapshot.objects.get().checksum
    assert (out / "Dataset042_Gliomas" / "dataset.json").exists()


def test_command_reuses_a_snapshot_by_id_and_matches_the_default(project, cohort, tmp_path):
    call_command("export", "Gliomas", "--format", "jsonl", "--out", str(tmp_path / "a"), verbosity=0)
    snapshot = DatasetSnapshot.objects.get()
    call_command(
        "export",
        "Gliomas",
        "--format",
        "jsonl",
        "--out",
        str(tmp_path / "b"),
        "--snapshot",
        str(snapshot.pk),
        verbosity=0,
    )
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_command_refuses_a_folder_that_is_not_empty_and_bad_options(project, cohort, tmp_path):
    (tmp_path / "old.txt").write_text("left over")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("export", str(project.pk), "--format", "bids", "--out", str(tmp_path), verbosity=0)
    with pytest.raises(CommandError, match="Unknown parameter 'mask' for the bids format"):
        call_command(
            "export",
            str(project.pk),
            "--format",
            "bids",
            "--out",
            str(tmp_path / "new"),
            "--mask",
            "lesion",
            verbosity=0,
        )
    with pytest.raises(CommandError, match="There is no project"):
        call_command("export", "Nope", "--format", "bids", "--out", str(tmp_path / "x"), verbosity=0)
