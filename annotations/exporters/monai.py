"""MONAI / Medical Segmentation Decathlon datalist: ``datalist.json`` with training, validation, test.

Each item's ``image`` is the list of a case's channel files in the fixed channel order, which
``LoadImaged`` stacks into one multi-channel image, and ``label`` is the chosen mask with the
schema's own label values (MONAI has no need for renumbering, and keeping the values means the
``labels`` table is the schema's). Paths are relative to the datalist, as ``load_decathlon_datalist``
expects.
"""

from __future__ import annotations

from typing import Any, ClassVar

from annotations.exporters.base import (
    CasePlan,
    Content,
    CopyBlob,
    Exporter,
    FileEntry,
    SnapshotCase,
    choose_channels,
    json_file,
)

SPLIT_KEYS = {"train": "training", "unassigned": "training", "val": "validation", "test": "test"}


class MonaiExporter(Exporter):
    format = "monai"
    param_defaults: ClassVar[dict[str, Any]] = {"mask": "lesion", "modalities": None}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask = self.params["mask"]
        self.channels: list[str] = []
        self.left_out: dict[str, int] = {}
        self.lists: dict[str, list[dict[str, Any]]] = {"training": [], "validation": [], "test": []}

    def select(self, cases: list[SnapshotCase]) -> list[SnapshotCase]:
        kept, self.channels, self.left_out = choose_channels(self, cases, self.mask, self.params.get("modalities"))
        return kept

    def plan_case(self, case: SnapshotCase, sentences: Any) -> CasePlan:
        name = case.external_id
        images = [f"images/{name}/{m}.nii.gz" for m in self.channels]
        files: list[FileEntry] = [
            CopyBlob(path, case.volumes[m], check_header=True) for path, m in zip(images, self.channels, strict=True)
        ]
        item: dict[str, Any] = {"image": images, "case": name}
        mask = case.masks.get(self.mask)
        if mask is not None:
            item["label"] = f"labels/{name}_{self.mask}.nii.gz"
            files.append(CopyBlob(item["label"], mask))
        record = {
            "export_id": name,
            "external_id": case.external_id,
            "split": case.split,
            "masks": {self.mask: mask.version} if mask else {},
        }
        self.lists[SPLIT_KEYS[case.split]].append(item)
        return CasePlan(case=case, files=files, record=record)

    def dataset_files(self, records: list[dict[str, Any]]) -> list[Content]:
        lists = self.lists
        labels = {"0": "background"} | {str(lab["index"]): lab["name"] for lab in self.labels[self.mask]}
        datalist = {
            "name": self.project_name,
            "description": f"Clinician-approved {self.mask} masks exported by Brainscribe (see manifest.json).",
            "reference": "Brainscribe dataset snapshot (see manifest.json)",
            "tensorImageSize": "4D" if len(self.channels) > 1 else "3D",
            "modality": {str(i): m for i, m in enumerate(self.channels)},
            "labels": labels,
            "numTraining": len(lists["training"]),
            "numValidation": len(lists["validation"]),
            "numTest": len(lists["test"]),
            **lists,
        }
        return [json_file("datalist.json", datalist)]

    def details(self) -> dict[str, Any]:
        return {
            "datalist": "datalist.json",
            "channels": self.channels,
            "modalities_left_out": self.left_out,
            "mask": self.mask,
        }
