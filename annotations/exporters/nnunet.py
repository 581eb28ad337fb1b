"""nnU-Net v2 raw dataset: ``DatasetXXX_Name/`` with dataset.json, imagesTr, labelsTr, imagesTs.

nnU-Net needs every channel for every case and labels numbered 0..N without gaps. Channels follow
the fixed order T1, T1CE, T2, FLAIR, DWI, ADC restricted to the chosen modalities (see
``choose_channels``); labels are the schema's labels of the chosen mask kind, renumbered only when
the schema has gaps (then, and only then, label maps are rebuilt; otherwise stored bytes are copied).
Cases of the test split go to imagesTs (and labelsTs, which nnU-Net ignores but evaluation needs).
Our validation split is kept as ``splits_final.json``: copy it into nnUNet_preprocessed/DatasetXXX_Name/
to train on exactly our split instead of nnU-Net's own five folds.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from annotations.exporters.base import (
    CasePlan,
    Content,
    CopyBlob,
    Exporter,
    FileEntry,
    RemapLabels,
    SnapshotCase,
    choose_channels,
    json_file,
)

FILE_ENDING = ".nii.gz"


def case_identifier(case: SnapshotCase) -> str:
    return f"BSC_{case.number:04d}"


class NnUNetExporter(Exporter):
    format = "nnunet"
    param_defaults: ClassVar[dict[str, Any]] = {
        "mask": "lesion",
        "modalities": None,
        "dataset_id": 501,
        "dataset_name": None,
    }

    @classmethod
    def clean_params(cls, params: dict[str, Any], *, project_name: str) -> dict[str, Any]:
        cleaned = super().clean_params(params, project_name=project_name)
        if "dataset_name" not in cleaned:
            cleaned["dataset_name"] = re.sub(r"[^A-Za-z0-9]", "", project_name)[:50] or "Brainscribe"
        return cleaned

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask = self.params["mask"]
        self.root = f"Dataset{self.params['dataset_id']:03d}_{self.params['dataset_name']}"
        schema_labels = sorted(label["index"] for label in self.labels[self.mask])
        self.label_map = {old: new for new, old in enumerate(schema_labels, start=1)}
        self.renumbered = any(old != new for old, new in self.label_map.items())
        self.lut = tuple(self.label_map.get(v, 0) for v in range(max(schema_labels, default=0) + 1))
        self.channels: list[str] = []
        self.left_out: dict[str, int] = {}

    def select(self, cases: list[SnapshotCase]) -> list[SnapshotCase]:
        kept, self.channels, self.left_out = choose_channels(self, cases, self.mask, self.params.get("modalities"))
        return kept

    def plan_case(self, case: SnapshotCase, sentences: Any) -> CasePlan:
        identifier = case_identifier(case)
        test = case.split == "test"
        images = "imagesTs" if test else "imagesTr"
        files: list[FileEntry] = [
            CopyBlob(f"{self.root}/{images}/{identifier}_{i:04d}{FILE_ENDING}", case.volumes[m], check_header=True)
            for i, m in enumerate(self.channels)
        ]
        mask = case.masks.get(self.mask)
        if mask is not None:
            path = f"{self.root}/{'labelsTs' if test else 'labelsTr'}/{identifier}{FILE_ENDING}"
            files.append(RemapLabels(path, mask, self.lut) if self.renumbered else CopyBlob(path, mask))
        record = {
            "export_id": identifier,
            "external_id": case.external_id,
            "split": case.split,
            "masks": {self.mask: mask.version} if mask else {},
        }
        return CasePlan(case=case, files=files, record=record)

    def dataset_files(self, records: list[dict[str, Any]]) -> list[Content]:
        names: dict[str, int] = {"background": 0}
        by_index = {label["index"]: label["name"] for label in self.labels[self.mask]}
        for old, new in sorted(self.label_map.items(), key=lambda item: item[1]):
            name = by_index[old]
            names[name if name not in names else f"{name} ({old})"] = new
        training = [r for r in records if r["split"] != "test"]
        dataset = {
            "channel_names": {str(i): m for i, m in enumerate(self.channels)},
            "labels": names,
            "numTraining": len(training),
            "file_ending": FILE_ENDING,
            "name": self.params["dataset_name"],
            "description": (
                f"Clinician-approved {self.mask} masks exported by Brainscribe. Case identifiers map to the "
                "platform's pseudonymised ids in manifest.json. To keep the platform's validation split, copy "
                "splits_final.json into nnUNet_preprocessed/" + self.root + "/."
            ),
            "reference": "Brainscribe dataset snapshot (see manifest.json)",
            "tensorImageSize": "3D",
            "numTest": len(records) - len(training),
        }
        files = [json_file(f"{self.root}/dataset.json", dataset)]
        validation = sorted(r["export_id"] for r in training if r["split"] == "val")
        if validation:
            train = sorted(r["export_id"] for r in training if r["split"] != "val")
            files.append(json_file(f"{self.root}/splits_final.json", [{"train": train, "val": validation}]))
        return files

    def details(self) -> dict[str, Any]:
        return {
            "dataset_folder": self.root,
            "channels": self.channels,
            "modalities_left_out": self.left_out,
            "mask": self.mask,
            "label_map": {str(old): new for old, new in sorted(self.label_map.items())},
        }
