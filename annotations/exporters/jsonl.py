"""Grounded JSONL for vision-language training: one line per sentence, with the files it is grounded in.

Each line carries the sentence's text, the structure label ids (and names) it is about, its lesion
component, and the paths of the case's images and masks, relative to the export root, so a data
loader needs nothing but this file. Sentences a clinician rejected are left out; each line says
whether the sentence was accepted as proposed, edited or added, so training can weight them.
"""

from __future__ import annotations

import json
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

SENTENCES = "sentences.jsonl"


class JsonlExporter(Exporter):
    format = "jsonl"
    needs_reports = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.region_names = {lab["index"]: lab["name"] for lab in self.labels["structure"]}
        self.lines: list[bytes] = []

    def select(self, cases: list[SnapshotCase]) -> list[SnapshotCase]:
        kept = []
        for case in cases:
            if case.report_version is None:
                self.skip(case, "no approved report")
            else:
                kept.append(case)
        return kept

    def plan_case(self, case: SnapshotCase, sentences: list[Sentence] | None) -> CasePlan | None:
        if not sentences:
            self.skip(case, "the approved report has no sentences")
            return None
        name = case.external_id
        images = {m: f"images/{name}/{m}.nii.gz" for m in CHANNEL_ORDER if m in case.volumes}
        masks = {k: f"masks/{name}/{k}.nii.gz" for k in MASK_KINDS if k in case.masks}
        files: list[FileEntry] = [CopyBlob(p, case.volumes[m], check_header=True) for m, p in images.items()]
        files += [CopyBlob(p, case.masks[k]) for k, p in masks.items()]
        for n, s in enumerate(sentences):
            line = {
                "case": name,
                "split": case.split,
                "sentence_index": n,
                "text": s.text,
                "kind": s.kind,
                "modality": s.modality or None,
                "region_label_ids": s.region_label_ids,
                "region_names": [self.region_names.get(i, str(i)) for i in s.region_label_ids],
                "lesion_component": s.lesion_component,
                "status": s.status,
                "reference_modality": case.reference_modality,
                "images": images,
                "masks": masks,
            }
            self.lines.append(json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
        record = {
            "export_id": name,
            "external_id": name,
            "split": case.split,
            "masks": {k: m.version for k, m in sorted(case.masks.items())},
            "report_version": case.report_version,
            "sentences": len(sentences),
        }
        return CasePlan(case=case, files=files, record=record)

    def dataset_files(self, records: list[dict[str, Any]]) -> list[Content]:
        return [
            Content(SENTENCES, b"\n".join(self.lines) + b"\n"),
            json_file("labels.json", self.labels),
        ]

    def details(self) -> dict[str, Any]:
        return {"sentences_file": SENTENCES, "n_sentences": len(self.lines)}
