"""RadGenome-Brain: the four report JSON files plus ``cases/<id>/`` with volumes, masks and report.json.

The layout is the one ``annotations.importers`` reads (layout ``radgenome``), so an export imports
back into an identical project: same volume bytes, same mask voxels, same sentences. The free-text
files follow RadGenome-Brain: modal-wise findings are the sentences written about one sequence,
the global finding is the other findings in order, the impression is the impression sentences.
``cases/<id>/report.json`` keeps what free text loses: each sentence's region label ids, kind,
sequence and lesion component. Sentences a clinician rejected are not part of the approved report
and are not exported.
"""

from __future__ import annotations

from typing import Any

from annotations.exporters.base import (
    CHANNEL_ORDER,
    MASK_KINDS,
    CasePlan,
    Content,
    CopyBlob,
    Exporter,
    FileEntry,
    Sentence,
    SnapshotCase,
    json_file,
)

SPLIT_NAMES = {"train": "train", "val": "val", "test": "test"}


class RadGenomeExporter(Exporter):
    format = "radgenome"
    needs_reports = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.modal: dict[str, dict[str, str]] = {}
        self.global_: dict[str, str] = {}
        self.impression: dict[str, str] = {}
        self.splits: dict[str, list[str]] = {name: [] for name in SPLIT_NAMES.values()}

    def plan_case(self, case: SnapshotCase, sentences: list[Sentence] | None) -> CasePlan:
        name = case.external_id
        folder = f"cases/{name}"
        files: list[FileEntry] = [
            CopyBlob(f"{folder}/{m}.nii.gz", case.volumes[m], check_header=True)
            for m in CHANNEL_ORDER
            if m in case.volumes
        ]
        files += [CopyBlob(f"{folder}/{k}.nii.gz", case.masks[k]) for k in MASK_KINDS if k in case.masks]
        if sentences is not None:
            files.append(json_file(f"{folder}/report.json", [_grounded(s) for s in sentences]))
            self._texts(name, sentences)
        if case.split in SPLIT_NAMES:
            self.splits[SPLIT_NAMES[case.split]].append(name)
        record = {
            "export_id": name,
            "external_id": name,
            "split": case.split,
            "masks": {k: m.version for k, m in sorted(case.masks.items())},
            "report_version": case.report_version,
        }
        return CasePlan(case=case, files=files, record=record)

    def _texts(self, name: str, sentences: list[Sentence]) -> None:
        modal: dict[str, list[str]] = {}
        findings: list[str] = []
        impression: list[str] = []
        for s in sentences:
            if s.kind == "impression":
                impression.append(s.text)
            elif s.modality:
                modal.setdefault(s.modality, []).append(s.text)
            else:
                findings.append(s.text)
        if modal:
            self.modal[name] = {m: " ".join(texts) for m, texts in modal.items()}
        if findings:
            self.global_[name] = " ".join(findings)
        if impression:
            self.impression[name] = " ".join(impression)

    def dataset_files(self, records: list[dict[str, Any]]) -> list[Content]:
        return [
            json_file("modal_wise_finding.json", self.modal),
            json_file("global_finding.json", self.global_),
            json_file("impression.json", self.impression),
            json_file("train_val_test_split.json", {k: sorted(v) for k, v in self.splits.items()}),
        ]


def _grounded(s: Sentence) -> dict[str, Any]:
    return {
        "text": s.text,
        "kind": s.kind,
        "modality": s.modality or None,
        "region_label_ids": s.region_label_ids,
        "lesion_component": s.lesion_component,
        "features": s.features,
    }
