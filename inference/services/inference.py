"""Model proposals for cases: segment, write the grounded report, store both as new versions.

Idempotent per (case, model version): a case that already holds this model's masks and report is
skipped, so a redelivered task or a second job creates nothing new. Cases that clinicians have
started on (in progress, submitted, approved) keep their work unless the job is told to propose
on top of it anyway; even then the proposal is a new version and the clinicians' version stays.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

import nibabel as nib
import numpy as np

from annotations import nifti
from annotations.blobs import blob_read
from annotations.errors import InvalidInput, StaleVersion
from annotations.models import Case, CaseStatus, MaskVersion, Project, ReportVersion, Role, VersionSource
from annotations.services.masks import mask_latest, mask_save
from annotations.services.reports import report_latest, report_save
from inference.models import ModelStage, ModelVersion
from inference.services.models import ml_schema, model_cache, report_writer_for, written_sentences

PROPOSABLE = (CaseStatus.NEW, CaseStatus.PREDICTED)


@dataclass(frozen=True)
class InferenceOutcome:
    case_id: int
    action: str  # "proposed" | "skipped"
    reason: str = ""
    seconds: float = 0.0


def load_volumes(case: Case) -> dict[str, nib.Nifti1Image]:
    volumes = {}
    for volume in case.volumes.all():
        raw = blob_read(volume.file)
        volumes[volume.modality] = nib.Nifti1Image.from_bytes(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return volumes


def _label_bytes(image: nib.Nifti1Image, case: Case) -> bytes:
    labels = nifti.label_values(np.asarray(image.dataobj))
    return nifti.encode_labels(labels, np.asarray(case.affine, dtype=float))


def infer_case(*, case: Case, model_version: ModelVersion, force: bool = False) -> InferenceOutcome:
    """Propose masks and a report for one case with one model version."""
    has_masks = MaskVersion.objects.filter(case=case, model_version=model_version).count() >= 2
    has_report = ReportVersion.objects.filter(case=case, model_version=model_version).exists()
    if has_masks and has_report:
        return InferenceOutcome(case.pk, "skipped", "already proposed by this model version")
    if case.status not in PROPOSABLE and not force:
        return InferenceOutcome(case.pk, "skipped", f"clinicians are working on it ({case.status})")

    from inference.ml.predict import predict_case
    from inference.ml.report import generate_report

    model = model_cache.get(model_version)
    volumes = load_volumes(case)
    prediction = predict_case(model, volumes, reference=case.reference_modality)
    for kind, image in (("structure", prediction.structure), ("lesion", prediction.lesion)):
        if MaskVersion.objects.filter(case=case, kind=kind, model_version=model_version).exists():
            continue
        _save_on_top(
            lambda v, k=kind, i=image: mask_save(
                case=case,
                kind=k,
                data=_label_bytes(i, case),
                expected_version=v,
                user=None,
                source=VersionSource.MODEL,
                model_version=model_version,
                comment=f"proposed by {model_version.name}",
            ),
            lambda k=kind: mask_latest(case, k).version if mask_latest(case, k) else 0,
        )
    if not has_report:
        report = generate_report(
            prediction.structure,
            prediction.lesion,
            ml_schema(case.project.label_schema),
            volumes,
            writer=report_writer_for(model_version),
        )
        sentences = written_sentences(report)
        _save_on_top(
            lambda v: report_save(
                case=case,
                sentences=sentences,
                expected_version=v,
                user=None,
                source=VersionSource.MODEL,
                model_version=model_version,
                comment=f"drafted by {model_version.name} ({report.writer})",
            ),
            lambda: report_latest(case).version if report_latest(case) else 0,
        )
    return InferenceOutcome(case.pk, "proposed", seconds=sum(prediction.seconds.values()))


def _save_on_top(save: Any, current: Any, attempts: int = 3) -> Any:
    """A proposal goes on top of whatever is latest; if someone saves meanwhile, go on top of that."""
    for _ in range(attempts):
        try:
            return save(current())
        except StaleVersion:
            continue
    return save(current())


def inference_targets(project: Project, case_ids: list[int] | None) -> list[Case]:
    qs = Case.objects.filter(project=project, deleted_at__isnull=True).prefetch_related("volumes")
    if case_ids is not None:
        qs = qs.filter(pk__in=case_ids)
    return list(qs.order_by("pk"))


def resolve_model(project: Project, model_id: int | None) -> ModelVersion:
    if model_id is not None:
        model = ModelVersion.objects.filter(project=project, pk=model_id).first()
        if model is None:
            raise InvalidInput(f"There is no model {model_id} in this project.")
        return model
    model = ModelVersion.objects.filter(project=project, stage=ModelStage.CHAMPION).first()
    if model is None:
        raise InvalidInput("This project has no champion model yet; register one and promote it, or name a model.")
    return model


# --- the inference job ---------------------------------------------------------------------------------


def clean_inference_params(project: Project | None, params: dict[str, Any]) -> dict[str, Any]:
    assert project is not None
    cases = params.get("cases", "unreviewed")
    if cases not in ("unreviewed", "all") and not (
        isinstance(cases, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in cases)
    ):
        raise InvalidInput('params.cases must be a list of case ids, "unreviewed" or "all".')
    if isinstance(cases, list):
        known = set(
            Case.objects.filter(project=project, pk__in=cases, deleted_at__isnull=True).values_list("pk", flat=True)
        )
        missing = sorted(set(cases) - known)
        if missing:
            raise InvalidInput(f"Cases {missing} are not in this project.")
    model = resolve_model(project, params.get("model"))
    return {"cases": cases, "model": model.pk, "force": bool(params.get("force", False))}


def inference_dedupe_key(project: Project | None, params: dict[str, Any]) -> str:
    cases = params["cases"] if isinstance(params["cases"], str) else ",".join(map(str, sorted(params["cases"])))
    return f"inference:{project.pk if project else '-'}:{params['model']}:{cases}"[:200]


def run_inference_job(job: Any, ctx: Any) -> dict[str, Any]:
    project = job.project
    model = ModelVersion.objects.get(pk=job.params["model"])
    selection = job.params["cases"]
    cases = inference_targets(project, selection if isinstance(selection, list) else None)
    if selection == "unreviewed":
        cases = [c for c in cases if c.status in PROPOSABLE]
    counts = {"proposed": 0, "skipped": 0}
    for n, case in enumerate(cases, start=1):
        outcome = infer_case(case=case, model_version=model, force=job.params.get("force", False))
        counts[outcome.action] += 1
        ctx.progress(n / max(len(cases), 1), f"{n}/{len(cases)} {case.external_id}: {outcome.action}")
        if outcome.reason:
            ctx.log(f"{case.external_id}: {outcome.action} ({outcome.reason})")
    return {"model": model.pk, "cases": len(cases), **counts}


INFERENCE_ROLE = Role.REVIEWER
