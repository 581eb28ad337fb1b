"""Scoring a model on a snapshot's validation cases, the way promotion compares models.

Truth is what reviewers approved: the pinned masks, and the report sentences they kept (rejected
ones excluded). A candidate and the champion are scored on the same cases, so the comparison that
decides promotion is like for like.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import nibabel as nib
import numpy as np

from annotations.blobs import blob_read
from annotations.models import DatasetSnapshot, ReportVersion, SentenceStatus, Split
from inference.models import ModelVersion
from inference.services.models import ml_schema, model_cache, report_writer_for, written_sentences


def _image(name: str) -> nib.Nifti1Image:
    raw = blob_read(name)
    return nib.Nifti1Image.from_bytes(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def validation_entries(snapshot: DatasetSnapshot) -> list[dict[str, Any]]:
    return [
        e
        for e in snapshot.manifest["cases"]
        if e["approved"] and e["split"] == Split.VAL and {"lesion", "structure"} <= set(e["masks"])
    ]


def reference_report(entry: dict[str, Any]) -> str:
    if not entry.get("report_version"):
        return ""
    report = ReportVersion.objects.filter(case_id=entry["case"], version=entry["report_version"]).first()
    if report is None:
        return ""
    return " ".join(s.text for s in report.sentences.exclude(status=SentenceStatus.REJECTED).order_by("order"))


def model_evaluate(
    *,
    model_version: ModelVersion,
    snapshot: DatasetSnapshot,
    with_embedding: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, Any]:
    from inference.ml.metrics import lesion_scores, mean_over_cases, per_label_scores, report_metrics
    from inference.ml.predict import predict_case
    from inference.ml.report import generate_report

    entries = validation_entries(snapshot)
    if not entries:
        return {"validation": {"snapshot": snapshot.pk, "cases": 0}}
    model = model_cache.get(model_version)
    schema = ml_schema(model_version.label_schema)
    lesion_rows, structure_rows, lesion_label_rows = [], [], []
    generated, generated_default, references = [], [], []
    writer = report_writer_for(model_version)
    learnt = writer.name != "templates"
    for n, entry in enumerate(entries, start=1):
        volumes = {m: _image(v["file"]) for m, v in entry["volumes"].items() if v.get("on_reference_grid", True)}
        prediction = predict_case(model, volumes, reference=entry["reference_modality"])
        truth_lesion = np.asarray(_image(entry["masks"]["lesion"]["file"]).dataobj)
        truth_structure = np.asarray(_image(entry["masks"]["structure"]["file"]).dataobj)
        pred_lesion = np.asarray(prediction.lesion.dataobj)
        pred_structure = np.asarray(prediction.structure.dataobj)
        lesion_rows.append(lesion_scores(pred_lesion, truth_lesion))
        lesion_label_rows.append(per_label_scores(pred_lesion, truth_lesion))
        structure_rows.append(
            per_label_scores(pred_structure, truth_structure, labels=[label.index for label in schema.labels])
        )
        reference = reference_report(entry)
        if reference:
            report = generate_report(prediction.structure, prediction.lesion, schema, volumes, writer=writer)
            generated.append(" ".join(s["text"] for s in written_sentences(report)))
            references.append(reference)
            if learnt:  # the same masks in default words: what the learnt phrasing adds on its own
                default = generate_report(prediction.structure, prediction.lesion, schema, volumes)
                generated_default.append(" ".join(s["text"] for s in written_sentences(default)))
        if progress:
            progress(n / len(entries), f"evaluated {entry['external_id']}")

    def table(rows: list[dict[int, Any]]) -> dict[str, dict[str, float | None]]:
        labels = sorted({label for row in rows for label in row})
        out = {}
        for label in labels:
            scored = [row[label] for row in rows if label in row and row[label].true_voxels > 0]
            out[str(label)] = {
                "dice": mean_over_cases(s.dice or 0.0 for s in scored),
                "precision": mean_over_cases(s.precision for s in scored),
                "sensitivity": mean_over_cases(s.sensitivity for s in scored),
                "cases": len(scored),
            }
        return out

    structure_table = table(structure_rows)
    lesion_dice = mean_over_cases(s.dice or 0.0 for s in lesion_rows if s.true_voxels > 0)
    structure_dice = mean_over_cases(r["dice"] for r in structure_table.values() if r["dice"] is not None)
    metrics: dict[str, Any] = {
        "val_lesion_dice": lesion_dice,
        "val_lesion_precision": mean_over_cases(s.precision for s in lesion_rows),
        "val_lesion_sensitivity": mean_over_cases(s.sensitivity for s in lesion_rows if s.true_voxels > 0),
        "val_structure_dice": structure_dice,
        "per_label": {"lesion": table(lesion_label_rows), "structure": structure_table},
        "validation": {"snapshot": snapshot.pk, "cases": len(entries)},
    }
    parts = [v for v in (lesion_dice, structure_dice) if v is not None]
    metrics["val_score"] = sum(parts) / len(parts) if parts else None
    if references:
        metrics["report"] = report_metrics(generated, references, with_embedding=with_embedding)
        if learnt:
            metrics["report_default_phrasing"] = report_metrics(
                generated_default, references, with_embedding=with_embedding
            )
    return metrics


def record_evaluation(model_version: ModelVersion, metrics: dict[str, Any]) -> None:
    """Keep each evaluation under its snapshot; a fresh model's own evaluation also becomes its headline."""
    snapshot = str(metrics.get("validation", {}).get("snapshot"))
    current = dict(model_version.metrics or {})
    evaluations = dict(current.get("evaluations", {}))
    evaluations[snapshot] = metrics
    current["evaluations"] = evaluations
    ModelVersion.objects.filter(pk=model_version.pk).update(metrics=current)
    model_version.metrics = current
