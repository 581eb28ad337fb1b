"""Active learning: which unreviewed case would teach the model most if a clinician corrected it next.

Strategies are scorers in an explicit registry. A scoring job runs one for a project and stores a
``CaseScore`` per case and model version; ``next-case?strategy=…`` then orders candidates by the
stored score, and the worklist's priority column shows the strategy last chosen for the project.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery

from annotations.errors import InvalidInput
from annotations.models import Case, CaseStatus, MaskVersion, Project, ReportVersion, Role, VersionSource
from annotations.services.masks import mask_labels
from annotations.services.worklist import OPEN_STATUSES, register_ordering
from inference.models import CaseScore, ModelStage, ModelVersion

Progress = Callable[[float, str], None]


@dataclass
class ScoringContext:
    project: Project
    model_version: ModelVersion | None
    cases: list[Case]  # the cases still to score


# A scorer yields (case pk, score, details) one case at a time, so that each score is stored as soon
# as it exists and a scoring job sent again after its worker died resumes after the last stored case.
ScoreResult = Iterator[tuple[int, float, dict[str, Any]]]
Scorer = Callable[[ScoringContext], ScoreResult]


def score_random(ctx: ScoringContext) -> ScoreResult:
    """The control arm: a uniform score that is the same every time for a case and model version."""
    salt = f"{ctx.project.pk}:{ctx.model_version.pk if ctx.model_version else 0}"
    for case in ctx.cases:
        digest = hashlib.sha256(f"{salt}:{case.pk}".encode()).digest()
        yield case.pk, int.from_bytes(digest[:8], "big") / 2**64, {}


def score_inconsistency(ctx: ScoringContext) -> ScoreResult:
    """Cases whose model report contradicts its own masks: warnings per sentence of the latest model draft."""
    for case in ctx.cases:
        report = ReportVersion.objects.filter(case=case, source=VersionSource.MODEL).order_by("-version").first()
        if report is None:
            yield case.pk, 0.0, {"reason": "no model report"}
            continue
        sentences = list(report.sentences.values_list("warnings", flat=True))
        warnings = sum(len(w or []) for w in sentences)
        yield case.pk, warnings / max(len(sentences), 1), {"warnings": warnings, "sentences": len(sentences)}


def _model_and_final(case: Case, kind: str) -> tuple[MaskVersion | None, MaskVersion | None]:
    versions = MaskVersion.objects.filter(case=case, kind=kind).order_by("version")
    model = versions.filter(source=VersionSource.MODEL).last()
    final = versions.last()
    return model, final


def correction_weights(project: Project, limit: int = 200) -> dict[int, float]:
    """Per structure label: the share of all voxels clinicians changed in model lesion masks that lie there."""
    changed_by_region: dict[int, int] = {}
    approved = Case.objects.filter(project=project, status=CaseStatus.APPROVED, deleted_at__isnull=True)
    for case in approved.order_by("-updated_at")[:limit]:
        model, final = _model_and_final(case, "lesion")
        structure = MaskVersion.objects.filter(case=case, kind="structure").order_by("-version").first()
        if model is None or final is None or structure is None or model.pk == final.pk:
            continue
        changed = mask_labels(model) != mask_labels(final)
        regions = mask_labels(structure)[changed]
        for label, count in zip(*np.unique(regions[regions > 0], return_counts=True), strict=True):
            changed_by_region[int(label)] = changed_by_region.get(int(label), 0) + int(count)
    total = sum(changed_by_region.values())
    return {label: count / total for label, count in changed_by_region.items()} if total else {}


def score_corrected_regions(ctx: ScoringContext) -> ScoreResult:
    """Cases whose proposed lesions lie in the regions clinicians have had to correct most."""
    weights = correction_weights(ctx.project)
    for case in ctx.cases:
        lesion = MaskVersion.objects.filter(case=case, kind="lesion").order_by("-version").first()
        structure = MaskVersion.objects.filter(case=case, kind="structure").order_by("-version").first()
        if not weights or lesion is None or structure is None:
            yield case.pk, 0.0, {"reason": "no corrections to learn from yet" if not weights else "no masks"}
            continue
        regions = mask_labels(structure)[mask_labels(lesion) > 0]
        labels, counts = np.unique(regions[regions > 0], return_counts=True)
        per_region = {int(lab): float(weights.get(int(lab), 0.0)) for lab in labels}
        total = counts.sum()
        score = (
            float(sum(per_region[int(lab)] * c for lab, c in zip(labels, counts, strict=True)) / total)
            if total
            else 0.0
        )
        yield case.pk, score, {"regions": per_region}


MC_SAMPLES = 6


def score_entropy(ctx: ScoringContext) -> ScoreResult:
    """MC-dropout uncertainty of the champion's lesion proposal, per case and per structure region.

    The case score is the mutual information between the prediction and the dropout masks (the
    part of the uncertainty more labels would remove), averaged over brain voxels; per region, the
    mean predictive entropy over that region's voxels says where the model hesitates.
    """
    if ctx.model_version is None:
        raise InvalidInput("The entropy strategy needs a champion model; promote one first.")
    from inference.ml.preprocess import labels_on_model_grid
    from inference.services.inference import load_volumes
    from inference.services.models import model_cache

    model = model_cache.get(ctx.model_version)
    from inference.ml.predict import predict_case

    for case in ctx.cases:
        # No mirrored pass: the dropout samples already average several views of the lesion head,
        # and the mirror would double the cost of every one of them.
        prediction = predict_case(
            model,
            load_volumes(case),
            reference=case.reference_modality,
            mc_samples=MC_SAMPLES,
            keep_probability=True,
            mirror_lesion=False,
        )
        u = prediction.uncertainty
        score = u.mutual_information if u.mutual_information is not None else u.mean_entropy_brain
        regions: dict[str, float] = {}
        if prediction.lesion_probability is not None and prediction.model_grid is not None:
            p = np.clip(prediction.lesion_probability, 1e-6, 1 - 1e-6)
            entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
            labels = labels_on_model_grid(prediction.structure, prediction.model_grid)
            for label in np.unique(labels[labels > 0]):
                regions[str(int(label))] = round(float(entropy[labels == label].mean()), 5)
        yield (
            case.pk,
            float(score),
            {
                "mutual_information": u.mutual_information,
                "mean_entropy": u.mean_entropy_brain,
                "uncertain_volume_ml": u.uncertain_volume_ml,
                "regions": regions,
                "samples": u.samples,
            },
        )


STRATEGIES: dict[str, Scorer] = {
    "random": score_random,
    "inconsistency": score_inconsistency,
    "corrected_regions": score_corrected_regions,
    "entropy": score_entropy,
}


def register_strategy(name: str, scorer: Scorer) -> None:
    """Model-based strategies (MC-dropout entropy) register here when the model code is importable."""
    STRATEGIES[name] = scorer
    register_ordering(name, _ordering_for(name))


def champion(project: Project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, stage=ModelStage.CHAMPION).first()


def scoring_candidates(project: Project) -> QuerySet[Case]:
    return Case.objects.filter(project=project, deleted_at__isnull=True, status__in=OPEN_STATUSES)


# Scores are written in batches at least this often: one transaction per cheap score would dominate
# a random or inconsistency run, and an MC-dropout score (half a minute) is stored on its own anyway.
STORE_EVERY_SECONDS = 5.0


def scores_compute(
    *,
    project: Project,
    strategy: str,
    model_version: ModelVersion | None = None,
    set_priority: bool = True,
    progress: Progress | None = None,
    job: Any = None,
) -> int:
    """Score every open case; store one CaseScore per case, and (optionally) show it as the priority.

    Scores are stored as they come (a case's new score replaces its old one for the same strategy
    and model), at least every few seconds. Run again for the same ``job`` (a worker died and the
    job was sent again), the cases that job already scored are not scored twice: MC-dropout
    scoring costs half a minute a case on a CPU.
    """
    if strategy not in STRATEGIES:
        raise InvalidInput(f"Unknown strategy {strategy!r}; use one of {', '.join(sorted(STRATEGIES))}.")
    model_version = model_version or champion(project)
    report = progress or (lambda fraction, message: None)
    cases = list(scoring_candidates(project).order_by("pk"))
    by_pk = {case.pk: case for case in cases}
    scores: dict[int, float] = {}
    if job is not None:
        scores = dict(
            CaseScore.objects.filter(
                job=job, strategy=strategy, model_version=model_version, case__in=list(by_pk)
            ).values_list("case_id", "score")
        )
    ctx = ScoringContext(project=project, model_version=model_version, cases=[c for c in cases if c.pk not in scores])
    pending: list[CaseScore] = []
    flushed_at = time.monotonic()

    def flush() -> None:
        with transaction.atomic():
            CaseScore.objects.filter(
                case__in=[row.case_id for row in pending], strategy=strategy, model_version=model_version
            ).delete()
            CaseScore.objects.bulk_create(pending)
        pending.clear()

    for case_id, score, details in STRATEGIES[strategy](ctx):
        pending.append(
            CaseScore(
                case_id=case_id, model_version=model_version, strategy=strategy, score=score, details=details, job=job
            )
        )
        scores[case_id] = score
        if len(pending) >= 200 or time.monotonic() - flushed_at >= STORE_EVERY_SECONDS:
            flush()
            flushed_at = time.monotonic()
        report(len(scores) / len(cases), f"scored {by_pk[case_id].external_id}")
    if pending:
        flush()
    if set_priority:
        with transaction.atomic():
            for case_id, score in scores.items():
                Case.objects.filter(pk=case_id).update(priority=score, priority_strategy=strategy)
    return len(scores)


def _ordering_for(strategy: str) -> Callable[[QuerySet[Case]], QuerySet[Case]]:
    def order(qs: QuerySet[Case]) -> QuerySet[Case]:
        latest = CaseScore.objects.filter(case=OuterRef("pk"), strategy=strategy).order_by("-created_at", "-pk")
        return qs.annotate(al_score=Subquery(latest.values("score")[:1])).order_by(
            F("al_score").desc(nulls_last=True), "created_at", "id"
        )

    return order


def register_builtin_orderings() -> None:
    for name in STRATEGIES:
        register_ordering(name, _ordering_for(name))


# --- the scoring job -----------------------------------------------------------------------------------


def clean_scoring_params(project: Project | None, params: dict[str, Any]) -> dict[str, Any]:
    strategy = params.get("strategy", "random")
    if strategy not in STRATEGIES:
        raise InvalidInput(f"Unknown strategy {strategy!r}; use one of {', '.join(sorted(STRATEGIES))}.")
    return {"strategy": strategy, "set_priority": bool(params.get("set_priority", True))}


def scoring_dedupe_key(project: Project | None, params: dict[str, Any]) -> str:
    return f"scoring:{project.pk if project else '-'}:{params['strategy']}"


def run_scoring_job(job: Any, ctx: Any) -> dict[str, Any]:
    n = scores_compute(
        project=job.project,
        strategy=job.params["strategy"],
        set_priority=job.params["set_priority"],
        progress=ctx.progress,
        job=job,
    )
    return {"scored": n, "strategy": job.params["strategy"]}


SCORING_ROLE = Role.ADMIN
