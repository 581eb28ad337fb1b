"""The model registry: checkpoints stored content-addressed, checked on the way in, one champion per project.

A checkpoint is read with ``torch.load(weights_only=True)`` before it is accepted, so an uploaded
file carrying a pickle payload is refused, and one trained for another label schema is refused with
a sentence naming both schemas.
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.blobs import blob_open, blob_put
from annotations.errors import InvalidInput, NotAllowed, StateConflict
from annotations.models import LabelKind, LabelSchema, Project, Role
from annotations.selectors import has_role, role_in_project
from annotations.services.access import require_role
from annotations.services.audit import audit_record
from inference.models import ModelStage, ModelVersion

# The number a candidate must beat the champion on (validation split); higher is better.
SELECTION_METRIC = "val_score"


def ml_schema(schema: LabelSchema) -> Any:
    """The ML core's view of a project's label schema (same rows, so the same digest)."""
    from inference.ml.schema import schema_from_rows

    rows = (
        schema.labels.filter(kind=LabelKind.STRUCTURE)
        .order_by("index")
        .values_list("index", "name", "side", "coarse_region")
    )
    return schema_from_rows(schema.slug, rows)


def selection_score(metrics: dict[str, float]) -> float | None:
    """Mean of validation lesion and structure Dice: what promotion compares."""
    if metrics.get(SELECTION_METRIC) is not None:
        return float(metrics[SELECTION_METRIC])
    parts = [metrics.get(k) for k in ("val_lesion_dice", "val_structure_dice")]
    parts = [float(p) for p in parts if p is not None]
    return sum(parts) / len(parts) if parts else None


def comparable_scores(candidate: ModelVersion, champion: ModelVersion | None) -> tuple[float | None, float | None]:
    """Validation scores of both models on the same cases where possible (the candidate's snapshot)."""
    new = selection_score(candidate.metrics)
    if champion is None:
        return new, None
    snapshot = str((candidate.metrics or {}).get("validation", {}).get("snapshot", ""))
    evaluation = (champion.metrics or {}).get("evaluations", {}).get(snapshot)
    if evaluation is not None:
        return new, selection_score(evaluation)
    return new, selection_score(champion.metrics)


def model_register(
    *,
    project: Project,
    data: bytes,
    name: str = "",
    user: Any = None,
    training_job: Any = None,
    snapshot: Any = None,
    parent: ModelVersion | None = None,
    metrics: dict[str, float] | None = None,
) -> ModelVersion:
    """Store and record a checkpoint as a candidate. Registering the same bytes again returns the same row."""
    require_role(user, project, Role.ADMIN, "register models")
    from inference.ml.checkpoints import CheckpointError, read_checkpoint

    with tempfile.NamedTemporaryFile(suffix=".pt") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            loaded = read_checkpoint(tmp.name, expected_schema=ml_schema(project.label_schema))
        except CheckpointError as exc:
            # The temporary file's name means nothing to the person who uploaded it.
            reason = str(exc).replace(Path(tmp.name).name, "the file")
            raise InvalidInput(f"The checkpoint was refused: {reason}.") from None
    meta = loaded.metadata
    blob, sha, _ = blob_put(data, suffix=".pt")
    existing = ModelVersion.objects.filter(project=project, sha256=sha).first()
    if existing is not None:
        return existing
    all_metrics = {**meta.metrics, **(metrics or {})}
    try:
        with transaction.atomic():
            model = ModelVersion.objects.create(
                project=project,
                name=name or meta.model_id,
                label_schema=project.label_schema,
                stage=ModelStage.CANDIDATE,
                checkpoint=blob,
                sha256=sha,
                config=meta.to_dict(),
                metrics=all_metrics,
                training_job=training_job,
                snapshot=snapshot,
                parent=parent,
            )
            audit_record(
                verb="model.register",
                actor=user,
                project=project,
                obj=model,
                data={"model_id": meta.model_id, "metrics": all_metrics},
            )
    except IntegrityError:
        return ModelVersion.objects.get(project=project, sha256=sha)
    return model


def model_promote(*, model: ModelVersion, user: Any, reason: str = "") -> ModelVersion:
    """Make a candidate the champion if it beats the current one on validation, or if an admin says so.

    An override needs a reason, which is recorded; the audit trail shows both numbers either way.
    """
    project = model.project
    require_role(user, project, Role.REVIEWER, "promote models")
    if model.stage == ModelStage.CHAMPION:
        raise StateConflict("This model is already the champion.")
    current = ModelVersion.objects.filter(project=project, stage=ModelStage.CHAMPION).first()
    new_score, old_score = comparable_scores(model, current)
    beats = current is None or (new_score is not None and (old_score is None or new_score > old_score))
    reason = (reason or "").strip()
    if not beats:
        if user is not None and not has_role(role_in_project(user, project), Role.ADMIN):
            raise NotAllowed("Only an admin can promote a model that does not beat the champion on validation.")
        if not reason:
            raise StateConflict(
                f"This candidate scores {_fmt(new_score)} on validation, the champion {_fmt(old_score)}; "
                "it does not beat the champion. An admin may still promote it with a reason."
            )
    with transaction.atomic():
        if current is not None:
            ModelVersion.objects.filter(pk=current.pk).update(stage=ModelStage.RETIRED)
        ModelVersion.objects.filter(pk=model.pk).update(
            stage=ModelStage.CHAMPION,
            promoted_at=timezone.now(),
            promoted_by=user if getattr(user, "is_authenticated", False) else None,
            promotion_reason=reason or f"beats the champion on validation ({_fmt(new_score)} > {_fmt(old_score)})",
        )
        audit_record(
            verb="model.promote",
            actor=user,
            project=project,
            obj=model,
            data={"score": new_score, "champion_score": old_score, "override": not beats, "reason": reason},
        )
        transaction.on_commit(lambda: _after_promotion(model))
    model.refresh_from_db()
    return model


def _after_promotion(model: ModelVersion) -> None:
    """The new champion re-proposes every case nobody has started on, then the worklist is re-ranked."""
    from inference.services.jobs import job_create

    for job_type, params in (
        ("inference", {"cases": "unreviewed", "model": model.pk}),
        ("scoring", {"strategy": "entropy" if "entropy" in _strategies() else "random"}),
    ):
        try:
            job_create(project=model.project, type=job_type, params=params, user=None)
        except (StateConflict, InvalidInput):
            pass  # the same job is already queued, or there is nothing to do


def _strategies() -> set[str]:
    from inference.services.active_learning import STRATEGIES

    return set(STRATEGIES)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class _ModelCache:
    """Loaded networks by checkpoint sha256 (immutable), so a worker loads each model once."""

    def __init__(self, capacity: int = 2) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: ModelVersion) -> Any:
        with self._lock:
            if model.sha256 in self._items:
                self._items.move_to_end(model.sha256)
                return self._items[model.sha256]
        from django.conf import settings

        from inference.ml.predict import load_model

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            with blob_open(model.checkpoint) as src:
                path.write_bytes(src.read())
            device = None if settings.BRAINSCRIBE_DEVICE == "auto" else settings.BRAINSCRIBE_DEVICE
            loaded = load_model(path, expected_schema=ml_schema(model.label_schema), device=device)
        with self._lock:
            self._items[model.sha256] = loaded
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return loaded


model_cache = _ModelCache()


def report_writer_for(model: ModelVersion) -> Any:
    """The model's report writer: the phrasebook it learnt from clinicians, or the default templates."""
    from inference.ml.report import TemplateWriter
    from inference.ml.report.learning import LearntPhrasebook

    learnt = (model.config or {}).get("phrasebook")
    if not learnt:
        return TemplateWriter()
    return TemplateWriter(phrasebook=LearntPhrasebook.from_dict(learnt).phrasebook, name="learnt phrasebook")


def written_sentences(report: Any) -> list[dict[str, Any]]:
    """Sentence dicts for storage; a role the clinicians always rejected writes nothing and is dropped."""
    return [s.to_dict() for s in report.sentences if s.text.strip()]
