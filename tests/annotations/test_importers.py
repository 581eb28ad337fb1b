"""Importers read real folder layouts, skip a bad case with a reason, and create nothing on re-import."""

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations import nifti
from annotations.blobs import blob_read
from annotations.importers.run import import_path
from annotations.models import Case, MaskVersion, ReportVersion

SHAPE = (16, 18, 14)


def write(path: Path, data: np.ndarray, affine: np.ndarray | None = None, descrip: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, np.diag([-2.0, 2.0, 2.0, 1.0]) if affine is None else affine)
    img.header["descrip"] = descrip.encode()
    nib.save(img, path)


def phantom(value: int = 300) -> np.ndarray:
    data = np.full(SHAPE, 50, np.int16)
    data[4:12, 5:13, 3:10] = value
    return data


def seg(labels: dict[int, tuple[slice, slice, slice]]) -> np.ndarray:
    out = np.zeros(SHAPE, np.uint8)
    for value, where in labels.items():
        out[where] = value
    return out


def test_brats2021_layout_with_its_label_numbers(project, tmp_path):
    case = tmp_path / "BraTS2021_00012"
    for part in ("t1", "t1ce", "t2", "flair"):
        write(case / f"BraTS2021_00012_{part}.nii.gz", phantom())
    write(
        case / "BraTS2021_00012_seg.nii.gz",
        seg({1: np.s_[5:6, 6:7, 4:5], 2: np.s_[6:8, 6:8, 5:6], 4: np.s_[8:9, 8:9, 6:7]}),
    )
    summary = import_path(project=project, root=tmp_path, layout="brats2021")
    assert summary.created == ["BraTS2021_00012"] and not summary.failed
    imported = Case.objects.get(external_id="BraTS2021_00012")
    assert imported.modalities == ["T1", "T1CE", "T2", "FLAIR"] and imported.reference_modality == "T1"
    mask = MaskVersion.objects.get(case=imported, kind="lesion")
    # BraTS 2021's enhancing tumour is 4; ours is 3.
    assert mask.counts == {"1": 1, "2": 4, "3": 1}


def test_brats2023_layout(project, tmp_path):
    case = tmp_path / "BraTS-GLI-00005-000"
    for part in ("t1n", "t1c", "t2w", "t2f"):
        write(case / f"BraTS-GLI-00005-000-{part}.nii.gz", phantom())
    write(case / "BraTS-GLI-00005-000-seg.nii.gz", seg({3: np.s_[5:7, 5:7, 5:7]}))
    summary = import_path(project=project, root=tmp_path, layout="brats2023")
    assert summary.created == ["BraTS-GLI-00005-000"]
    assert MaskVersion.objects.get(case__external_id="BraTS-GLI-00005-000").counts == {"3": 8}


def test_isles2022_bids_layout_uses_the_dwi_grid(project, tmp_path):
    sub = tmp_path / "rawdata" / "sub-strokecase0001" / "ses-0001"
    write(sub / "dwi" / "sub-strokecase0001_ses-0001_dwi.nii.gz", phantom())
    write(sub / "dwi" / "sub-strokecase0001_ses-0001_adc.nii.gz", phantom(100))
    flair = np.full((20, 22, 18), 80, np.int16)
    write(sub / "anat" / "sub-strokecase0001_ses-0001_FLAIR.nii.gz", flair, np.diag([-1.5, 1.5, 1.5, 1.0]))
    derivatives = tmp_path / "derivatives" / "sub-strokecase0001" / "ses-0001"
    write(derivatives / "sub-strokecase0001_ses-0001_msk.nii.gz", seg({1: np.s_[6:9, 6:9, 5:6]}))
    summary = import_path(project=project, root=tmp_path, layout="isles2022")
    assert summary.created == ["sub-strokecase0001"], summary.failed
    case = Case.objects.get(external_id="sub-strokecase0001")
    assert case.reference_modality == "DWI" and case.shape == list(SHAPE)
    assert case.volumes.get(modality="FLAIR").shape == [20, 22, 18]
    assert MaskVersion.objects.get(case=case).counts == {"4": 9}  # infarct


def test_generic_layout_plus_radgenome_reports_and_splits(project, tmp_path):
    write(tmp_path / "cases" / "A1" / "T1.nii.gz", phantom())
    write(tmp_path / "cases" / "A1" / "flair.nii.gz", phantom())
    write(tmp_path / "cases" / "A2" / "T2.nii.gz", phantom())
    (tmp_path / "global_finding.json").write_text(
        json.dumps(
            {
                "A1": "There is a mass in the left frontal lobe. The ventricles are normal.",
                "A2": "No abnormality.",
            }
        )
    )
    (tmp_path / "modal_wise_finding.json").write_text(json.dumps({"A1": {"FLAIR": "Hyperintense left frontal lobe."}}))
    (tmp_path / "impression.json").write_text(json.dumps({"A1": "Left frontal mass."}))
    (tmp_path / "train_val_test_split.json").write_text(json.dumps({"train": ["A1"], "test": ["A2"]}))
    summary = import_path(project=project, root=tmp_path, layout="radgenome")
    assert sorted(summary.created) == ["A1", "A2"] and sorted(summary.reports) == ["A1", "A2"]
    a1 = Case.objects.get(external_id="A1")
    assert a1.split == "train" and Case.objects.get(external_id="A2").split == "test"
    sentences = list(ReportVersion.objects.get(case=a1).sentences.order_by("order"))
    texts = [s.text for s in sentences]
    assert "There is a mass in the left frontal lobe." in texts
    frontal = next(s for s in sentences if s.text == "There is a mass in the left frontal lobe.")
    left_frontal = set(
        project.label_schema.labels.filter(kind="structure", coarse_region="frontal lobe", side="left").values_list(
            "index", flat=True
        )
    )
    assert set(frontal.region_label_ids) == left_frontal
    assert {s.kind for s in sentences} == {"lesion", "global", "impression"}


def test_reimport_creates_nothing_new(project, tmp_path):
    write(tmp_path / "B1" / "T1.nii.gz", phantom())
    write(tmp_path / "B1" / "lesion.nii.gz", seg({2: np.s_[5:7, 5:7, 5:7]}))
    (tmp_path / "global_finding.json").write_text(json.dumps({"B1": "Oedema in the right temporal lobe."}))
    first = import_path(project=project, root=tmp_path, layout="generic")
    second = import_path(project=project, root=tmp_path, layout="generic")
    assert (first.created, second.created, second.existing) == (["B1"], [], ["B1"])
    assert (first.reports, second.reports) == (["B1"], [])
    assert MaskVersion.objects.count() == 1 and ReportVersion.objects.count() == 1


def test_one_bad_case_is_reported_and_the_rest_import(project, tmp_path):
    write(tmp_path / "good" / "T1.nii.gz", phantom())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "T1.nii.gz").write_bytes(b"this is not an image")
    write(tmp_path / "offgrid" / "T1.nii.gz", phantom())
    write(tmp_path / "offgrid" / "lesion.nii.gz", np.zeros((4, 4, 4), np.uint8))
    summary = import_path(project=project, root=tmp_path, layout="generic")
    assert summary.created == ["good"]
    assert "NIfTI" in summary.failed["bad"] and summary.failed["bad"].startswith("The T1 file")
    assert "does not fit" in summary.failed["offgrid"]


def test_symlink_pointing_outside_the_import_folder_is_refused(project, tmp_path):
    outside = tmp_path / "secret"
    write(outside / "T1.nii.gz", phantom())
    root = tmp_path / "import"
    (root / "C1").mkdir(parents=True)
    (root / "C1" / "T1.nii.gz").symlink_to(outside / "T1.nii.gz")
    with pytest.raises(Exception, match="outside the import folder"):
        import_path(project=project, root=root, layout="generic")
    assert not Case.objects.exists()


def test_identifiers_in_headers_never_reach_storage(project, tmp_path):
    write(tmp_path / "C7" / "T1.nii.gz", phantom(), descrip="DOE^JOHN MRN 123456")
    import_path(project=project, root=tmp_path, layout="generic")
    stored = blob_read(Case.objects.get(external_id="C7").volumes.get().file)
    assert b"DOE" not in gzip.decompress(stored) and b"123456" not in gzip.decompress(stored)


def test_import_cases_command_prints_a_summary_and_fails_clearly(project, tmp_path, capsys):
    write(tmp_path / "D1" / "T1.nii.gz", phantom())
    call_command("import_cases", str(project.pk), str(tmp_path), "--layout", "generic", verbosity=0)
    assert "1 new cases" in capsys.readouterr().out
    with pytest.raises(CommandError, match="There is no project"):
        call_command("import_cases", "no-such-project", str(tmp_path))
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_cases", str(project.pk), str(tmp_path / "missing"))


def test_import_job_refuses_paths_outside_the_import_roots(members, client_for, project, tmp_path, settings):
    settings.BRAINSCRIBE_IMPORT_ROOTS = [str(tmp_path / "allowed")]
    (tmp_path / "allowed").mkdir()
    client = client_for(members["admin"])
    for path in ("/etc", str(tmp_path / "allowed" / ".." / "elsewhere"), "../../etc"):
        response = client.post(
            f"/api/projects/{project.pk}/jobs/", {"type": "import", "params": {"path": path}}, format="json"
        )
        assert response.status_code == 400, path
        assert "outside the import roots" in response.json()["detail"]


def test_import_job_runs_the_same_importer(members, client_for, project, tmp_path, settings):
    from inference.models import Job
    from inference.services.jobs import job_execute

    settings.BRAINSCRIBE_IMPORT_ROOTS = [str(tmp_path)]
    write(tmp_path / "batch" / "E1" / "T1.nii.gz", phantom())
    response = client_for(members["admin"]).post(
        f"/api/projects/{project.pk}/jobs/", {"type": "import", "params": {"path": "batch"}}, format="json"
    )
    assert response.status_code == 202, response.json()
    job_execute(job_id=response.json()["id"])
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded" and job.result["created"] == 1


# --- DICOM --------------------------------------------------------------------------------------------


def _write_dicom_series(folder: Path, description: str, volume: np.ndarray, series_number: int) -> None:
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    for k in range(volume.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality, ds.SeriesDescription, ds.ProtocolName = "MR", description, description
        ds.SeriesNumber, ds.InstanceNumber = series_number, k + 1
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = "DOE^JOHN", "MRN777", "19700101"
        ds.InstitutionName, ds.AccessionNumber = "General Hospital", "ACC42"
        ds.StudyDate, ds.SeriesDate, ds.AcquisitionTime = "20240102", "20240102", "101010"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-20.0, -22.0, -14.0 + 2.0 * k]
        ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 2.0
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.ascontiguousarray(volume[:, :, k].T.astype(np.int16)).tobytes()
        ds.save_as(folder / f"IM{series_number:02d}{k:04d}.dcm", enforce_file_format=True)


@pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix (Debian package) is not installed")
def test_dicom_series_are_converted_without_identifiers(project, tmp_path):
    volume = phantom()
    _write_dicom_series(tmp_path / "STUDY1" / "s1", "T1 MPRAGE", volume, 1)
    _write_dicom_series(tmp_path / "STUDY1" / "s2", "AX FLAIR", volume // 2, 2)
    summary = import_path(project=project, root=tmp_path, layout="dicom")
    assert summary.created == ["STUDY1"], summary.failed
    case = Case.objects.get(external_id="STUDY1")
    assert case.modalities == ["T1", "FLAIR"]
    stored = gzip.decompress(blob_read(case.volumes.get(modality="T1").file))
    for identifier in (b"DOE", b"MRN777", b"General Hospital", b"ACC42", b"20240102", b"101010"):
        assert identifier not in stored
    vol = nifti.decode_stored(blob_read(case.volumes.get(modality="T1").file))
    assert sorted(vol.shape) == sorted(SHAPE)
    assert int(vol.data.max()) == 300 and int(vol.data.min()) == 50
