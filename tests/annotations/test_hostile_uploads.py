"""A corpus of malformed NIfTI files and hostile archives, sent the ways users send files.

Each malformed file must get a 400 naming its problem, quickly and without inflating memory.
"""

import functools
import gzip
import io
import struct
import tarfile
import time
import tracemalloc
import zipfile

import nibabel as nib
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.importers.run import import_path
from annotations.models import Case, MaskVersion


def _header(dims, datatype=2, bitpix=8, vox_offset=352.0, affine=None) -> bytearray:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2, 2, 2))
    hdr.set_sform(np.diag([-2.0, 2.0, 2.0, 1.0]) if affine is None else affine, code=1)
    hdr["vox_offset"] = 352
    block = bytearray(hdr.binaryblock)
    struct.pack_into("<8h", block, 40, len(dims), *dims, *([1] * (7 - len(dims))))
    struct.pack_into("<hh", block, 70, datatype, bitpix)
    struct.pack_into("<f", block, 108, vox_offset)
    return block


@functools.cache
def corpus(shape) -> dict[str, tuple[bytes, str]]:
    affine = np.diag([-2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -np.diag(affine)[:3] * (np.array(shape) - 1) / 2
    good = nib.Nifti1Image(np.zeros(shape, np.uint8), affine).to_bytes()
    nan_affine = affine.copy()
    nan_affine[1, 3] = np.nan
    bomb_header = _header((2048, 2048, 512))
    return {
        "truncated": (gzip.compress(good[: len(good) // 2]), "truncated"),
        "wrong vox_offset": (bytes(_header(shape, vox_offset=12.0)) + b"\0" * 64, "vox_offset"),
        "huge dims in the header": (bytes(_header((30000, 30000, 30000))) + b"\0" * 4, "more than the limit"),
        "gzip bomb": (gzip.compress(bytes(bomb_header) + b"\0" * (48 * 1024 * 1024), 9), "more than the limit"),
        "NaN affine": (bytes(_header(shape, affine=nan_affine)) + b"\0" * (4 + int(np.prod(shape))), "NaN"),
        "5-D data": (nib.Nifti1Image(np.zeros((*shape, 2, 2), np.uint8), affine).to_bytes(), "3-D"),
        "wrong datatype": (bytes(_header(shape, datatype=4, bitpix=8)) + b"\0" * 8000, "bits per voxel"),
        "unknown datatype": (bytes(_header(shape, datatype=1234, bitpix=8)) + b"\0" * 8000, "datatype"),
        "not nifti at all": (b"%PDF-1.7 " + b"x" * 1000, "not a NIfTI file"),
        "header/image pair": (bytes(_header(shape)).replace(b"n+1\0", b"ni1\0") + b"\0" * 8000, ".hdr/.img"),
    }


CORPUS_NAMES = [
    "truncated",
    "wrong vox_offset",
    "huge dims in the header",
    "gzip bomb",
    "NaN affine",
    "5-D data",
    "wrong datatype",
    "unknown datatype",
    "not nifti at all",
    "header/image pair",
]


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_malformed_mask_uploads_get_a_400_naming_the_problem(name, members, client_for, make_case, fault_record):
    case = make_case()
    body, message = corpus(tuple(case.shape))[name]
    client = client_for(members["annotator"])
    tracemalloc.start()
    started = time.perf_counter()
    response = client.put(
        f"/api/cases/{case.pk}/masks/lesion", data=body, content_type="application/gzip", HTTP_IF_MATCH='"0"'
    )
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 400, response.content[:300]
    assert message in response.json()["detail"], response.json()["detail"]
    assert elapsed < 2.0
    assert peak < 64 * 1024 * 1024 + 2 * len(body)
    assert not MaskVersion.objects.filter(case=case).exists()
    fault_record(
        fault=f"mask upload: {name} ({len(body):,} bytes sent)",
        client_saw=f"400: {response.json()['detail']}",
        recovery=f"answered in {elapsed * 1000:.0f} ms, {peak / 2**20:.1f} MiB peak allocation",
        data="no version stored",
    )


@pytest.mark.parametrize("name", ["truncated", "huge dims in the header", "gzip bomb", "NaN affine", "5-D data"])
def test_malformed_volume_uploads_get_a_400_and_create_no_case(name, members, client_for, project):
    body, message = corpus((24, 28, 20))[name]
    response = client_for(members["admin"]).post(
        f"/api/projects/{project.pk}/cases/",
        {"external_id": "hostile", "T1": SimpleUploadedFile("t1.nii.gz", body)},
        format="multipart",
    )
    assert response.status_code == 400
    assert message in response.json()["detail"] and "The T1 file" in response.json()["detail"]
    assert not Case.objects.exists()


def _good_case_files(nifti_bytes) -> dict[str, bytes]:
    return {"C1/T1.nii.gz": nifti_bytes()}


@pytest.mark.parametrize(
    ("member", "message"),
    [("../escape/T1.nii.gz", "climbs out"), ("/etc/evil/T1.nii.gz", "absolute path")],
)
@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archive_members_that_escape_are_refused(project, tmp_path, nifti_bytes, member, message, kind, fault_record):
    archive = tmp_path / f"upload.{kind}"
    data = nifti_bytes()
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("C1/T1.nii.gz", data)
            zf.writestr(member, data)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for name in ("C1/T1.nii.gz", member):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    with pytest.raises(Exception, match=message) as refused:
        import_path(project=project, root=archive, layout="generic")
    assert not Case.objects.exists()
    assert not (tmp_path / "escape").exists()
    fault_record(
        fault=f"{kind} import with a member named {member}",
        client_saw=f"import refused: {refused.value}",
        recovery="nothing extracted outside the work folder",
        data="no case created",
    )


def test_symlinks_inside_a_tar_are_refused(project, tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("C1/T1.nii.gz")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(Exception, match="is a link"):
        import_path(project=project, root=archive, layout="generic")


def test_a_zip_bomb_is_stopped_at_the_size_limit(project, tmp_path, settings, fault_record):
    settings.BRAINSCRIBE_MAX_IMPORT_BYTES = 10 * 1024 * 1024
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("C1/T1.nii.gz", b"\0" * (64 * 1024 * 1024))
    with pytest.raises(Exception, match="limit") as refused:
        import_path(project=project, root=archive, layout="generic")
    fault_record(
        fault=f"zip bomb import ({archive.stat().st_size // 1024} KiB unpacking to 64 MiB, limit 10 MiB)",
        client_saw=f"import refused: {refused.value}",
        recovery="refused from the declared sizes, before a byte was unpacked",
        data="no case created" if not Case.objects.exists() else "A CASE WAS CREATED",
    )
    assert not Case.objects.exists()


def test_a_well_formed_archive_imports(project, tmp_path, nifti_bytes):
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("C1/T1.nii.gz", nifti_bytes())
        zf.writestr("C2/FLAIR.nii.gz", nifti_bytes(orientation="LAS"))
    summary = import_path(project=project, root=archive, layout="generic")
    assert sorted(summary.created) == ["C1", "C2"]
