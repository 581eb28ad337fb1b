"""BIDS derivatives: ``sub-<label>/anat/sub-<label>_desc-<kind>_dseg.nii.gz`` with JSON sidecars.

BIDS labels are letters and digits only, so subjects are numbered ``sub-BSC0001`` (the same number
as the nnU-Net case ``BSC_0001`` of the same snapshot); ``participants.tsv`` maps each to the
platform's pseudonymised id and split. Label values are the schema's, described by the
``desc-<kind>_dseg.tsv`` lookup tables at the root, which apply to every subject by inheritance.
"""

from __future__ import annotations

from typing import Any

from annotations.exporters.base import MASK_KINDS, CasePlan, Content, CopyBlob, Exporter, SnapshotCase, json_file

BIDS_VERSION = "1.10.0"
DESCRIPTIONS = {
    "lesion": "Lesion labels: tumour sub-regions, infarct, white-matter hyperintensity.",
    "structure": "Anatomical structure labels.",
}


def subject_label(case: SnapshotCase) -> str:
    return f"BSC{case.number:04d}"


class BidsExporter(Exporter):
    format = "bids"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.participants: list[tuple[str, str, str]] = []
        self.kinds: set[str] = set()

    def select(self, cases: list[SnapshotCase]) -> list[SnapshotCase]:
        kept = []
        for case in cases:
            if case.masks:
                kept.append(case)
            else:
                self.skip(case, "no approved mask")
        return kept

    def plan_case(self, case: SnapshotCase, sentences: Any) -> CasePlan:
        sub = f"sub-{subject_label(case)}"
        files: list[CopyBlob | Content] = []
        for kind in MASK_KINDS:
            mask = case.masks.get(kind)
            if mask is None:
                continue
            self.kinds.add(kind)
            stem = f"{sub}/anat/{sub}_desc-{kind}_dseg"
            files.append(CopyBlob(f"{stem}.nii.gz", mask))
            files.append(
                json_file(
                    f"{stem}.json",
                    {
                        "Description": DESCRIPTIONS[kind],
                        # A model's mask a reviewer approved unchanged is automated, not manual.
                        "Manual": mask.source == "human",
                        "MaskSource": mask.source,
                        "Approved": case.approved,
                        "MaskVersion": mask.version,
                        "SpatialReference": f"the case's {case.reference_modality} volume (same grid)",
                    },
                )
            )
        self.participants.append((sub, case.external_id, case.split))
        record = {
            "export_id": sub,
            "external_id": case.external_id,
            "split": case.split,
            "masks": {k: m.version for k, m in sorted(case.masks.items())},
        }
        return CasePlan(case=case, files=list(files), record=record)

    def dataset_files(self, records: list[dict[str, Any]]) -> list[Content]:
        files = [
            json_file(
                "dataset_description.json",
                {
                    "Name": f"{self.project_name}: approved masks",
                    "BIDSVersion": BIDS_VERSION,
                    "DatasetType": "derivative",
                    "GeneratedBy": [
                        {
                            "Name": "Brainscribe",
                            "Description": "Clinician-approved masks from a frozen dataset snapshot",
                        }
                    ],
                },
            ),
            _tsv(
                "participants.tsv",
                ["participant_id", "source_id", "split"],
                [list(row) for row in self.participants],
            ),
            json_file(
                "participants.json",
                {
                    "source_id": {"Description": "Pseudonymised case id in the Brainscribe project"},
                    "split": {
                        "Description": "Case-level data split",
                        "Levels": {
                            "train": "training",
                            "val": "validation",
                            "test": "test",
                            "unassigned": "no split assigned",
                        },
                    },
                },
            ),
        ]
        for kind in sorted(self.kinds):
            rows = [[str(lab["index"]), lab["name"], lab["color"]] for lab in self.labels[kind]]
            files.append(_tsv(f"desc-{kind}_dseg.tsv", ["index", "name", "color"], rows))
        return files


def _tsv(path: str, header: list[str], rows: list[list[str]]) -> Content:
    def clean(value: str) -> str:
        return str(value).replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(header)] + ["\t".join(clean(v) for v in row) for row in rows]
    return Content(path, ("\n".join(lines) + "\n").encode())
