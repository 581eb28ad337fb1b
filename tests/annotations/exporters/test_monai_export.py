"""MONAI datalist export, read by MONAI itself: load_decathlon_datalist, then LoadImaged."""

import json

import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged

from annotations.services.snapshots import snapshot_freeze

from .conftest import export_folder, lesion_map, structure_map, volume_data

# MONAI's optional GPU DICOM decoder announces its absence on import; nothing here reads DICOM.
pytestmark = pytest.mark.filterwarnings("ignore:NvImgCodecPydicomReader")


def test_monai_reads_every_split_of_the_datalist(project, cohort, tmp_path):
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, "monai", tmp_path)
    datalist = tmp_path / "datalist.json"
    training = load_decathlon_datalist(datalist, data_list_key="training")
    validation = load_decathlon_datalist(datalist, data_list_key="validation")
    test = load_decathlon_datalist(datalist, data_list_key="test")
    assert [item["case"] for item in training] == ["GLI-001", "GLI-002", "GLI-005"]
    assert [item["case"] for item in validation] == ["GLI-003"]
    assert [item["case"] for item in test] == ["GLI-004"]

    loader = LoadImaged(keys=["image", "label"], image_only=True)
    sample = loader(training[1])  # GLI-002, stored LAS
    image, label = sample["image"], sample["label"]
    assert tuple(image.shape) == (3, 24, 28, 20)  # T1, T2, FLAIR stacked as channels
    for channel, modality in enumerate(["T1", "T2", "FLAIR"]):
        assert np.array_equal(np.asarray(image[channel]), volume_data(2, modality))
    assert np.array_equal(np.asarray(label), lesion_map(2))

    meta = json.loads(datalist.read_text())
    assert meta["modality"] == {"0": "T1", "1": "T2", "2": "FLAIR"}
    assert meta["labels"]["3"] == "enhancing"
    assert (meta["numTraining"], meta["numValidation"], meta["numTest"]) == (3, 1, 1)


def test_structure_labels_keep_the_schema_values(project, make_approved, tmp_path):
    make_approved("A-1", seed=1)
    snapshot = snapshot_freeze(project=project, user=None)
    export_folder(snapshot, "monai", tmp_path, mask="structure", modalities="T1,FLAIR")
    item = load_decathlon_datalist(tmp_path / "datalist.json", data_list_key="training")[0]
    sample = LoadImaged(keys=["image", "label"], image_only=True)(item)
    assert tuple(sample["image"].shape) == (2, 24, 28, 20)
    assert np.array_equal(np.asarray(sample["label"]), structure_map(1))
