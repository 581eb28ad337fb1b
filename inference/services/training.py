"""Retraining from what clinicians approved, as a resumable, cancellable job.

- The data are a frozen snapshot (``snapshot_freeze(cases="all")``): approved cases are the
  labelled set, pinned to the versions their reviewer approved; cases with model output only are the
  unlabelled set, used through the model's own masks as pseudo-labels whose weight in the loss is
  the pseudo-label weight times the model's confidence in that case.
- Splits are per case and permanent: a case without one gets train or validation once, by a hash of
  its id, and never moves (``splits_assign``); validation cases are never trained on.
- By default the run starts from the champion's weights (fine-tuning), so each retrain builds on
  what the platform already knows instead of starting over.
- The trainer checkpoints every epoch into the job's work folder and copies that checkpoint to the
  file store, so a redelivered task (a worker killed mid-run, on this machine or another) resumes
  from its last epoch. The finished model is registered once: registering the same bytes again
  returns the same row.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from annotations.blobs import blob_open
from annotations.errors import InvalidInput
from annotations.models import Case, DatasetSnapshot, Project, Role, Split
from annotations.services.snapshots import snapshot_freeze
from inference.models import CaseScore, Job, ModelStage, ModelVersion
from inference.services.evaluation import model_evaluate, record_evaluation
from inference.services.jobs import JobCancelled, JobContext
from inference.services.models import comparable_scores, ml_schema, model_promote, model_register

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "weights" / "demo-config.json"
CONFIG_OVERRIDES = {
    "epochs",
    "learning_rate",
    "batch_size",
    "patch_size",
    "validate_every",
    "seed",
    "fine_tune_lr_scale",
    "fine_tune_warmup",
}
VAL_FRACTION = 0.2


def splits_assign(*, project: Project, val_fraction: float = VAL_FRACTION) -> int:
    """Give every case without a split its permanent one (train or validation). Returns how many."""
    changed = 0
    for case in Case.objects.filter(project=project, split=Split.UNASSIGNED, deleted_at__isnull=True):
        digest = hashlib.sha256(f"{project.pk}:{case.external_id}".encode()).digest()
        split = Split.VAL if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else Split.TRAIN
        changed += Case.objects.filter(pk=case.pk, split=Split.UNASSIGNED).update(split=split)
    return changed


def _job_key(job: Job) -> str:
    # The creation time makes the key unique even if a database is rebuilt and ids start over.
    return f"job-{job.pk}-{job.created_at:%Y%m%dT%H%M%S%f}"


def _work_dir(job: Job) -> Path:
    return Path(settings.BRAINSCRIBE_JOB_DIR) / _job_key(job)


def _materialise(entry: dict[str, Any], folder: Path, kinds: tuple[str, ...]) -> dict[str, Path]:
    """The snapshot's files for one case as a folder the trainer reads (copied once, kept on resume)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    items = [(m, v["file"]) for m, v in entry["volumes"].items() if v.get("on_reference_grid", True)]
    items += [(k, entry["masks"][k]["file"]) for k in kinds if k in entry["masks"]]
    for name, blob in items:
        target = folder / f"{name}.nii.gz"
        if not target.exists():
            tmp = target.with_suffix(".part")
            with blob_open(blob) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            tmp.replace(target)
        paths[name] = target
    return paths


def _confidence(case_id: int, champion: ModelVersion | None) -> float:
    """1 for a confident model proposal, down to 0 for the most uncertain case the model has scored."""
    if champion is None:
        return 1.0
    scores = CaseScore.objects.filter(model_version=champion, strategy="entropy")
    mine = scores.filter(case_id=case_id).values_list("score", flat=True).first()
    if mine is None:
        return 1.0
    top = max(scores.order_by("-score").values_list("score", flat=True).first() or 0.0, 1e-9)
    return max(0.0, 1.0 - float(mine) / top)


def training_sets(
    snapshot: DatasetSnapshot, *, pseudo_label_weight: float, champion: ModelVersion | None, work: Path
) -> tuple[list[Any], list[Any], dict[str, int]]:
    from inference.ml.datasets import TrainingCase

    train, val = [], []
    counts = {"labelled": 0, "pseudo_labelled": 0, "validation": 0}
    for entry in snapshot.manifest["cases"]:
        masks = entry["masks"]
        if not {"lesion", "structure"} <= set(masks):
            continue
        modalities = [m for m, v in entry["volumes"].items() if v.get("on_reference_grid", True)]
        if entry["approved"] and entry["split"] == Split.VAL:
            folder_kinds = ("lesion", "structure")
            target, weight, key = val, 1.0, "validation"
        elif entry["split"] == Split.TRAIN and entry["approved"]:
            folder_kinds, target, weight, key = ("lesion", "structure"), train, 1.0, "labelled"
        elif (
            entry["split"] == Split.TRAIN
            and pseudo_label_weight > 0
            and all(m["source"] == "model" for m in masks.values())
        ):
            folder_kinds, target, key = ("lesion", "structure"), train, "pseudo_labelled"
            weight = pseudo_label_weight * _confidence(entry["case"], champion)
            if weight <= 0:
                continue
        else:
            continue
        paths = _materialise(entry, work / "data" / entry["external_id"], folder_kinds)
        target.append(
            TrainingCase(
                case_id=entry["external_id"],
                volumes={m: paths[m] for m in modalities},
                structure=paths["structure"],
                lesion=paths["lesion"],
                weight=weight,
            )
        )
        counts[key] += 1
    return train, val, counts


def _config(champion: ModelVersion | None, overrides: dict[str, Any], *, fine_tune: bool = False) -> Any:
    from inference.ml.config import SegmentationConfig
    from inference.ml.training import FINE_TUNE_SCHEDULE

    if champion is not None and champion.config.get("config"):
        base = SegmentationConfig.from_stored(champion.config["config"])
    else:
        base = SegmentationConfig.from_dict(json.loads(DEFAULT_CONFIG.read_text()))
    fixed = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()}
    if fine_tune:  # gently, unless the job's params say otherwise
        fixed = {**FINE_TUNE_SCHEDULE, **fixed}
    try:
        return base.replace(**fixed) if fixed else base
    except ValueError as error:  # a setting out of range, in the job's own words
        raise InvalidInput(f"config: {error}") from error


def learn_report_phrasing(snapshot: DatasetSnapshot) -> Any:
    """The phrasing clinicians approved on the snapshot's training cases, as a learnt phrasebook."""
    from annotations.models import ReportVersion, VersionSource
    from inference.ml.report.learning import SentenceOutcome, learn_phrasebook

    outcomes = []
    for entry in snapshot.manifest["cases"]:
        if not (entry["approved"] and entry["split"] == Split.TRAIN and entry.get("report_version")):
            continue
        report = ReportVersion.objects.filter(case_id=entry["case"], version=entry["report_version"]).first()
        if report is None:
            continue
        for sentence in report.sentences.filter(source=VersionSource.MODEL):
            outcomes.append(SentenceOutcome(sentence.original_text, sentence.text, sentence.status))
    return learn_phrasebook(outcomes)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def clean_training_params(project: Project | None, params: dict[str, Any]) -> dict[str, Any]:
    weight = params.get("pseudo_label_weight", 0.3)
    if not _is_number(weight) or not 0 <= weight <= 1:
        raise InvalidInput("pseudo_label_weight must be a number from 0 to 1.")
    overrides = params.get("config", {})
    if not isinstance(overrides, dict) or set(overrides) - CONFIG_OVERRIDES:
        raise InvalidInput(f"config may override only {', '.join(sorted(CONFIG_OVERRIDES))}.")
    epochs = overrides.get("epochs")
    if epochs is not None and not (isinstance(epochs, int) and 1 <= epochs <= 1000):
        raise InvalidInput("config.epochs must be a whole number from 1 to 1000.")
    scale = overrides.get("fine_tune_lr_scale")
    if scale is not None and not (_is_number(scale) and 0 < scale <= 1):
        raise InvalidInput("config.fine_tune_lr_scale must be a number above 0 and at most 1.")
    warmup = overrides.get("fine_tune_warmup")
    if warmup is not None and not (_is_number(warmup) and 0 <= warmup <= 1):
        raise InvalidInput("config.fine_tune_warmup must be a number from 0 to 1.")
    for flag in ("auto_promote", "evaluate_embedding", "fine_tune"):
        if flag in params and not isinstance(params[flag], bool):
            raise InvalidInput(f"{flag} must be true or false.")
    steps = params.get("max_steps_per_epoch")
    if steps is not None and not (isinstance(steps, int) and steps >= 1):
        raise InvalidInput("max_steps_per_epoch must be a positive whole number.")
    return {
        "pseudo_label_weight": float(weight),
        "config": overrides,
        "max_steps_per_epoch": steps,
        "auto_promote": params.get("auto_promote", False),
        "evaluate_embedding": params.get("evaluate_embedding", True),
        "fine_tune": params.get("fine_tune", True),
    }


def training_dedupe_key(project: Project | None, params: dict[str, Any]) -> str:
    return f"training:{project.pk if project else '-'}"  # one training run per project at a time


def run_training_job(job: Job, ctx: JobContext) -> dict[str, Any]:
    from inference.ml.checkpoints import export_for_inference
    from inference.ml.training import train

    project = job.project
    work = _work_dir(job)
    out = work / "train"
    out.mkdir(parents=True, exist_ok=True)
    remote_last = f"jobs/{_job_key(job)}/last.pt"
    if not (out / "last.pt").exists() and default_storage.exists(remote_last):
        with default_storage.open(remote_last, "rb") as src, (out / "last.pt").open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)  # resume on another machine

    champion = ModelVersion.objects.filter(project=project, stage=ModelStage.CHAMPION).first()
    snapshot_id = (job.result or {}).get("snapshot")
    if snapshot_id:
        snapshot = DatasetSnapshot.objects.get(pk=snapshot_id)
    else:
        splits_assign(project=project)
        snapshot = snapshot_freeze(project=project, user=None, cases="all")
        ctx.report({"snapshot": snapshot.pk, "snapshot_checksum": snapshot.checksum})
    train_cases, val_cases, counts = training_sets(
        snapshot, pseudo_label_weight=job.params["pseudo_label_weight"], champion=champion, work=work
    )
    if not any(c.weight == 1.0 for c in train_cases):
        raise InvalidInput("No approved case in the training split yet; approve some cases, then retrain.")
    ctx.report({"cases": counts})
    ctx.log(f"snapshot {snapshot.checksum[:12]}: {counts}")
    fine_tune = champion is not None and job.params.get("fine_tune", True)
    config = _config(champion, job.params["config"], fine_tune=fine_tune)
    seen_epochs = {"n": 0}

    def on_progress(p: Any) -> None:
        ctx.progress(
            min(p.fraction, 0.97),
            f"{p.phase} epoch {p.epoch}/{p.epochs}" + (f" loss {p.loss:.4f}" if p.loss is not None else ""),
        )
        history_file = out / "history.json"
        if history_file.exists():
            history = json.loads(history_file.read_text())
            if len(history) > seen_epochs["n"]:
                seen_epochs["n"] = len(history)
                ctx.report({"history": history})
                if (out / "last.pt").exists():
                    with (out / "last.pt").open("rb") as fh:
                        if default_storage.exists(remote_last):
                            default_storage.delete(remote_last)
                        default_storage.save(remote_last, File(fh))

    def stop_requested() -> bool:
        return Job.objects.filter(pk=job.pk, cancel_requested=True).exists()

    init_from = None
    if fine_tune:
        init_from = work / "champion.pt"
        if not init_from.exists():
            with blob_open(champion.checkpoint) as src, init_from.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    result = train(
        config,
        train_cases,
        out,
        schema=ml_schema(project.label_schema),
        val_cases=val_cases,
        resume=True,
        progress=on_progress,
        should_stop=stop_requested,
        cache_dir=work / "cache",
        max_steps_per_epoch=job.params.get("max_steps_per_epoch"),
        init_from=init_from,
    )
    if stop_requested():
        raise JobCancelled()
    history = [asdict(r) for r in result.history]
    ctx.report({"history": history, "resumed_from_epoch": result.resumed_from_epoch})
    ctx.progress(0.98, "registering the model")
    final = export_for_inference(result.best_checkpoint, out / "model.pt")
    model = model_register(
        project=project,
        data=final.read_bytes(),
        name=f"retrained {snapshot.checksum[:8]} (job {job.pk})",
        user=None,
        training_job=job,
        snapshot=snapshot,
        parent=champion,
    )
    learnt = learn_report_phrasing(snapshot)
    ModelVersion.objects.filter(pk=model.pk).update(config={**model.config, "phrasebook": learnt.to_dict()})
    model.config = {**model.config, "phrasebook": learnt.to_dict()}
    ctx.report({"learnt_report_roles": learnt.changed_roles})
    scores = _evaluate_against_champion(job, ctx, model, champion, snapshot)
    shutil.rmtree(work / "data", ignore_errors=True)  # copies of stored files; the snapshot keeps the truth
    shutil.rmtree(work / "cache", ignore_errors=True)
    if job.params.get("auto_promote") and scores["beats_champion"]:
        model_promote(model=model, user=None)
        scores["promoted"] = True
    return {
        "model": model.pk,
        "snapshot": snapshot.pk,
        "history": history,
        "cases": counts,
        "resumed_from_epoch": result.resumed_from_epoch,
        **scores,
    }


def _evaluate_against_champion(
    job: Job, ctx: JobContext, model: ModelVersion, champion: ModelVersion | None, snapshot: DatasetSnapshot
) -> dict[str, Any]:
    """Score the candidate and the champion on this snapshot's validation cases (like for like)."""
    with_embedding = bool(job.params.get("evaluate_embedding", True))
    metrics = model_evaluate(
        model_version=model,
        snapshot=snapshot,
        with_embedding=with_embedding,
        progress=lambda fraction, message: ctx.progress(0.98, f"validation: {message}"),
    )
    merged = {**(model.metrics or {}), **metrics}
    ModelVersion.objects.filter(pk=model.pk).update(metrics=merged)
    model.metrics = merged
    champion_score = None
    if champion is not None and metrics.get("validation", {}).get("cases"):
        champion_metrics = model_evaluate(model_version=champion, snapshot=snapshot, with_embedding=with_embedding)
        record_evaluation(champion, champion_metrics)
        champion_score = champion_metrics.get("val_score")
    new_score, old_score = comparable_scores(model, champion)
    beats = new_score is not None and (old_score is None or new_score > old_score)
    return {"val_score": new_score, "champion_val_score": champion_score, "beats_champion": beats}


TRAINING_ROLE = Role.ADMIN
