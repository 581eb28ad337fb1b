"""nnU-Net v2 raw export: the layout nnU-Net reads, checked by nnU-Net's own dataset integrity check."""

import importlib.util
import json
import subprocess
import sys
import textwrap

import nibabel as nib
import numpy as np
import pytest

from annotations.blobs import blob_read
from annotations.models import LabelKind, LabelSchema, Volume
from annotations.services.snapshots import snapshot_freeze

from .conftest import export_folder, lesion_map, structure_map

HAS_NNUNET = importlib.util.find_spec("nnunetv2") is not None


def test_layout_channels_and_dataset_json(project, cohort, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    outcome = export_folder(snapshot, "nnunet", tmp_path)
    root = tmp_path / "Dataset501_Gliomas"
    dataset = json.loads((root / "dataset.json").read_text())
    # GLI-005 has no T1CE: by default only modalities every case has become channels.
    assert dataset["channel_names"] == {"0": "T1", "1": "T2", "2": "FLAIR"}
    assert dataset["labels"] == {"background": 0, "necrosis": 1, "edema": 2, "enhancing": 3, "infarct": 4, "wmh": 5}
    assert dataset["numTraining"] == 4 and dataset["file_ending"] == ".nii.gz"
    assert sorted(p.name for p in (root / "imagesTr").iterdir()) == [
        f"BSC_{n:04d}_{c:04d}.nii.gz" for n in (1, 2, 3, 5) for c in range(3)
    ]
    assert sorted(p.name for p in (root / "imagesTs").iterdir()) == [f"BSC_0004_{c:04d}.nii.gz" for c in range(3)]
    assert sorted(p.name for p in (root / "labelsTs").iterdir()) == ["BSC_0004.nii.gz"]
    # Our validation split travels as nnU-Net's splits_final.json.
    assert json.loads((root / "splits_final.json").read_text()) == [
        {"train": ["BSC_0001", "BSC_0002", "BSC_0005"], "val": ["BSC_0003"]}
    ]
    assert outcome.manifest["details"]["modalities_left_out"] == {"T1CE": 4}
    mapping = {c["export_id"]: c["external_id"] for c in outcome.manifest["cases"]}
    assert mapping["BSC_0002"] == "GLI-002"


def test_channels_are_the_stored_bytes_in_the_fixed_order(project, cohort, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, "nnunet", tmp_path, modalities=["FLAIR", "T1"])
    images = tmp_path / "Dataset501_Gliomas" / "imagesTr"
    case = cohort[1]
    for channel, modality in enumerate(["T1", "FLAIR"]):
        stored = blob_read(Volume.objects.get(case=case, modality=modality).file)
        assert (images / f"BSC_0002_{channel:04d}.nii.gz").read_bytes() == stored
    label = nib.load(tmp_path / "Dataset501_Gliomas" / "labelsTr" / "BSC_0002.nii.gz")
    assert np.array_equal(np.asarray(label.dataobj), lesion_map(2))
    assert np.allclose(label.affine, case.affine)


def test_naming_modalities_skips_the_cases_that_lack_one(project, cohort, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    outcome = export_folder(snapshot, "nnunet", tmp_path, modalities=["T1", "T1CE", "T2", "FLAIR"])
    assert outcome.skipped == {"GLI-005": "no T1CE volume"}
    assert json.loads((tmp_path / "Dataset501_Gliomas" / "dataset.json").read_text())["numTraining"] == 3


def test_channels_off_the_reference_grid_are_never_stacked(project, make_approved, tmp_path):
    make_approved("A-1", seed=1, modalities=("T1", "FLAIR"))
    make_approved("A-2", seed=2, modalities=("T1", "FLAIR"), off_grid=("FLAIR",))
    snapshot = snapshot_freeze(project=project, user=None)
    auto = export_folder(snapshot, "nnunet", tmp_path / "auto")
    assert auto.manifest["details"]["channels"] == ["T1"] and not auto.skipped
    named = export_folder(snapshot, "nnunet", tmp_path / "named", modalities=["T1", "FLAIR"])
    assert "not on the T1 reference grid" in named.skipped["A-2"]


def test_structure_labels_with_gaps_are_renumbered_contiguously(project, make_approved, tmp_path):
    schema = LabelSchema.objects.get(slug="demo-aal3")
    # Drop structures 3 and 4 from the schema: its labels are now 1, 2, 5, 6, …, 32, 30 among them.
    schema.labels.filter(kind=LabelKind.STRUCTURE, index__in=[3, 4]).delete()
    make_approved("A-1", seed=1)
    snapshot = snapshot_freeze(project=project, user=None)
    outcome = export_folder(snapshot, "nnunet", tmp_path, mask="structure", dataset_id=7, dataset_name="Atlas!")
    root = tmp_path / "Dataset007_Atlas"
    labels = json.loads((root / "dataset.json").read_text())["labels"]
    assert sorted(labels.values()) == list(range(31))
    assert labels["temporal lobe L"] == 3 and labels["brainstem"] == 28
    exported = np.asarray(nib.load(root / "labelsTr" / "BSC_0001.nii.gz").dataobj)
    expected = structure_map(1).copy()
    expected[expected == 5] = 3
    expected[expected == 30] = 28
    assert np.array_equal(exported, expected)
    assert outcome.manifest["details"]["label_map"]["5"] == 3


@pytest.mark.skipif(not HAS_NNUNET, reason="nnunetv2 is a dev dependency (bin/install installs it)")
def test_nnunet_verify_dataset_integrity_accepts_the_export(project, cohort, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, "nnunet", tmp_path / "raw")
    dataset = tmp_path / "raw" / "Dataset501_Gliomas"
    # nnU-Net's check uses a spawn pool: it runs in its own interpreter, under a __main__ guard.
    script = textwrap.dedent(
        f"""
        if __name__ == "__main__":
            from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity
            verify_dataset_integrity({str(dataset)!r}, num_processes=2)
        """
    )
    env = {
        "nnUNet_raw": str(tmp_path / "raw"),
        "nnUNet_preprocessed": str(tmp_path / "pre"),
        "nnUNet_results": str(tmp_path / "res"),
        "PATH": "/usr/bin:/bin",
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify_dataset_integrity Done" in result.stdout
    assert "Error" not in result.stdout and "Warning" not in result.stdout, result.stdout
