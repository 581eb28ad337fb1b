"""BIDS derivatives: dseg files with sidecars, lookup tables and a dataset description."""

import json
import re

import nibabel as nib
import numpy as np

from annotations.services.snapshots import snapshot_freeze

from .conftest import export_folder, lesion_map, structure_map

BIDS_NAME = re.compile(r"^sub-[A-Za-z0-9]+/anat/sub-[A-Za-z0-9]+_desc-(lesion|structure)_dseg\.(nii\.gz|json)$")


def test_bids_derivative_layout(project, cohort, make_approved, tmp_path):
    make_approved("NOMASK-1", seed=8, masks=())
    snapshot = snapshot_freeze(project=project, user=None)
    outcome = export_folder(snapshot, "bids", tmp_path)
    assert outcome.skipped == {"NOMASK-1": "no approved mask"}
    subject_files = [p for p in outcome.manifest["files"] if p.startswith("sub-")]
    assert subject_files and all(BIDS_NAME.match(p) for p in subject_files)

    description = json.loads((tmp_path / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["BIDSVersion"]
    sidecar = json.loads((tmp_path / "sub-BSC0002/anat/sub-BSC0002_desc-lesion_dseg.json").read_text())
    assert sidecar["Manual"] is True and sidecar["MaskVersion"] == 1
    lesion = nib.load(tmp_path / "sub-BSC0002/anat/sub-BSC0002_desc-lesion_dseg.nii.gz")
    assert np.array_equal(np.asarray(lesion.dataobj), lesion_map(2))
    structure = nib.load(tmp_path / "sub-BSC0002/anat/sub-BSC0002_desc-structure_dseg.nii.gz")
    assert np.array_equal(np.asarray(structure.dataobj), structure_map(2))

    participants = (tmp_path / "participants.tsv").read_text().splitlines()
    assert participants[0] == "participant_id\tsource_id\tsplit"
    assert "sub-BSC0004\tGLI-004\ttest" in participants
    table = (tmp_path / "desc-lesion_dseg.tsv").read_text().splitlines()
    assert table[0] == "index\tname\tcolor" and table[3].startswith("3\tenhancing\t")
    assert (tmp_path / "desc-structure_dseg.tsv").exists()
