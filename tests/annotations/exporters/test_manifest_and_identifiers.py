"""Every export carries a checksummed manifest, is reproducible, and lets no identifier out."""

import gzip
import hashlib
import io
import json
import zipfile

import nibabel as nib
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.blobs import blob_put
from annotations.exporters.jobs import export_archive
from annotations.exporters.registry import EXPORTERS
from annotations.models import Case, Export, Volume
from annotations.services.reviews import case_review
from annotations.services.snapshots import snapshot_freeze

from .conftest import AFFINES, export_folder, nii, read_tree, volume_data

SECRET = "DOEJANEMRN4242XYZ"


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_manifest_lists_every_file_with_its_sha256(project, cohort, tmp_path, fmt):
    snapshot = snapshot_freeze(project=project, user=None)
    outcome = export_folder(snapshot, fmt, tmp_path)
    tree = read_tree(tmp_path)
    manifest = json.loads(tree.pop("manifest.json"))
    assert manifest["files"] == {
        path: {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)} for path, data in tree.items()
    }
    assert manifest["snapshot"] == {
        "id": snapshot.pk,
        "checksum": snapshot.checksum,
        "selection": "approved",
        "n_cases": 5,
    }
    assert manifest["format"] == fmt and manifest == outcome.manifest


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_exporting_the_same_snapshot_twice_gives_identical_bytes(project, cohort, tmp_path, fmt):
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, fmt, tmp_path / "a")
    export_folder(snapshot, fmt, tmp_path / "b")
    assert read_tree(tmp_path / "a") == read_tree(tmp_path / "b")


def test_two_archives_of_one_snapshot_are_byte_identical(project, cohort, tmp_path):
    from django.core.files.storage import default_storage

    snapshot = snapshot_freeze(project=project, user=None)
    archives = []
    for _ in range(2):
        export = Export.objects.create(project=project, snapshot=snapshot, format="nnunet")
        outcome = export_archive(export=export, options=EXPORTERS["nnunet"].clean_params({}, project_name="Gliomas"))
        with default_storage.open(export.archive) as fh:
            archives.append(fh.read())
        assert export.manifest_sha256 == outcome.manifest_sha256
    assert archives[0] == archives[1]
    with zipfile.ZipFile(io.BytesIO(archives[0])) as zf:
        names = zf.namelist()
        assert names[-1] == "manifest.json" and "Dataset501_Gliomas/dataset.json" in names
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        manifest = json.loads(zf.read("manifest.json"))
        for name in names[:-1]:
            assert hashlib.sha256(zf.read(name)).hexdigest() == manifest["files"][name]["sha256"]


def _all_text(tree: dict[str, bytes]) -> bytes:
    parts = []
    for path, data in tree.items():
        parts.append(path.encode())
        parts.append(gzip.decompress(data) if path.endswith(".gz") else data)
    return b"\n".join(parts)


def test_no_original_filename_or_header_text_leaves(project, members, client_for, tmp_path):
    admin = client_for(members["admin"])
    upload = {
        "external_id": "PSEUDO-0001",
        "split": "train",
        "T1": SimpleUploadedFile(f"{SECRET}_t1.nii.gz", nii(volume_data(1, "T1"), AFFINES["RAS"], SECRET)),
        "FLAIR": SimpleUploadedFile(f"{SECRET}_flair.nii.gz", nii(volume_data(1, "FLAIR"), AFFINES["RAS"], SECRET)),
        "lesion": SimpleUploadedFile(f"{SECRET}_seg.nii.gz", nii(np.ones((24, 28, 20), np.uint8), AFFINES["RAS"])),
    }
    response = admin.post(f"/api/projects/{project.pk}/cases/", upload, format="multipart")
    assert response.status_code == 201, response.json()
    case = Case.objects.get(external_id="PSEUDO-0001")
    # A volume stored before header scrubbing existed: the export must scrub it on the way out.
    legacy = nib.Nifti1Image(volume_data(1, "T2"), AFFINES["RAS"])
    legacy.header["descrip"] = SECRET.encode()
    legacy.header["db_name"] = b"HOSPITAL"
    name, sha, size = blob_put(gzip.compress(legacy.to_bytes(), mtime=0))
    Volume.objects.create(
        case=case,
        modality="T2",
        file=name,
        sha256=sha,
        size_bytes=size,
        shape=[24, 28, 20],
        affine=case.affine,
        spacing=[2.0, 2.0, 2.0],
        dtype="int16",
        orientation="RAS",
    )
    case_review(case=case, action="submit", user=members["annotator"])
    case_review(case=case, action="approve", user=members["reviewer"])
    snapshot = snapshot_freeze(project=project, user=None)
    for fmt in sorted(EXPORTERS):
        if fmt == "jsonl":
            continue  # no report in this case: nothing to write
        out = tmp_path / fmt
        export_folder(snapshot, fmt, out)
        tree = read_tree(out)
        assert SECRET.encode() not in _all_text(tree), fmt
        assert b"HOSPITAL" not in _all_text(tree), fmt
    t2 = nib.load(tmp_path / "radgenome" / "cases" / "PSEUDO-0001" / "T2.nii.gz")
    assert np.array_equal(np.asarray(t2.dataobj), volume_data(1, "T2"))


def test_an_object_store_without_local_paths_gets_the_same_archive(project, cohort, monkeypatch):
    from django.core.files.storage import default_storage

    snapshot = snapshot_freeze(project=project, user=None)
    options = EXPORTERS["bids"].clean_params({}, project_name="Gliomas")
    local = Export.objects.create(project=project, snapshot=snapshot, format="bids")
    export_archive(export=local, options=options)

    monkeypatch.setattr("annotations.exporters.jobs.local_path", lambda name: None)  # as on S3
    remote = Export.objects.create(project=project, snapshot=snapshot, format="bids")
    export_archive(export=remote, options=options)
    with default_storage.open(local.archive) as a, default_storage.open(remote.archive) as b:
        assert a.read() == b.read()
    assert remote.archive.startswith(f"exports/{remote.pk}/") and remote.archive != local.archive


def test_every_export_format_of_the_model_has_an_exporter():
    from annotations.models import ExportFormat

    assert sorted(EXPORTERS) == sorted(ExportFormat.values)


def test_a_damaged_stored_file_stops_the_export(project, cohort, tmp_path):
    from django.core.files.storage import default_storage

    from annotations.exporters.base import ExportError

    snapshot = snapshot_freeze(project=project, user=None)
    volume = Volume.objects.filter(case=cohort[0], modality="T1").get()
    path = default_storage.path(volume.file)
    with open(path, "r+b") as fh:  # one flipped byte on disk
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ExportError, match="damaged"):
        export_folder(snapshot, "radgenome", tmp_path)
    assert not (tmp_path / "manifest.json").exists()
