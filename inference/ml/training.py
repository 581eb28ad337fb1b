"""The training loop: resumable, deterministic per epoch, reporting progress through a callback.

``train`` writes ``last.pt`` (weights, optimizer and history) atomically after every epoch and
``best.pt`` whenever validation improves. Called again with ``resume=True`` on the same output
folder, it continues after the last finished epoch, so a worker killed mid-run loses at most one
epoch. The random stream of epoch ``e`` is seeded from ``(config.seed, e)``: a resumed run draws the
same crops and augmentations as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from inference.ml.checkpoints import (
    CheckpointError,
    CheckpointMetadata,
    now_iso,
    read_checkpoint,
    save_checkpoint,
    software_versions,
)
from inference.ml.config import SegmentationConfig
from inference.ml.datasets import (
    CachedCase,
    TrainingCase,
    case_fingerprint,
    prepare_training_case,
    training_data_hash,
)
from inference.ml.losses import DiceCELoss
from inference.ml.networks import autocast, build_network, default_device
from inference.ml.preprocess import Grid, coordinate_channels
from inference.ml.schema import DEFAULT_LESION_LABELS, LabelSchema, LesionLabel


class TrainingStateMismatch(CheckpointError):
    """``resume`` found a run made with another config or other data."""


@dataclass(frozen=True)
class TrainingProgress:
    phase: str  # "prepare" | "train" | "validate" | "done"
    epoch: int  # 1-based; 0 while preparing
    epochs: int
    step: int  # within the phase
    steps: int
    loss: float | None = None

    @property
    def fraction(self) -> float:
        """Overall progress 0–1 (preparation counts as the first 5 %)."""
        if self.phase == "prepare":
            return 0.05 * self.step / max(1, self.steps)
        if self.phase == "done":
            return 1.0
        within = self.step / max(1, self.steps) if self.phase == "train" else 1.0
        return 0.05 + 0.95 * ((self.epoch - 1) + within) / max(1, self.epochs)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    structure_loss: float
    lesion_loss: float
    val_structure_dice: float | None
    val_lesion_dice: float | None
    learning_rate: float
    seconds: float


@dataclass
class TrainResult:
    last_checkpoint: Path
    best_checkpoint: Path
    metadata: CheckpointMetadata  # of the best checkpoint
    history: list[EpochRecord] = field(default_factory=list)
    resumed_from_epoch: int | None = None
    seconds: float = 0.0
    stopped_early: bool = False

    @property
    def losses(self) -> list[float]:
        return [record.train_loss for record in self.history]


ProgressCallback = Callable[[TrainingProgress], None]


def _crop_bounds(
    shape: Sequence[int], patch: Sequence[int], rng: np.random.Generator, centre: Sequence[int] | None = None
) -> list[tuple[int, int]]:
    bounds = []
    for axis, (size, want) in enumerate(zip(shape, patch, strict=True)):
        if size <= want:
            start = 0
        elif centre is not None:
            start = int(np.clip(centre[axis] - want // 2 + rng.integers(-want // 4, want // 4 + 1), 0, size - want))
        else:
            start = int(rng.integers(0, size - want + 1))
        bounds.append((start, min(size, start + want)))
    return bounds


def _pad_to(array: np.ndarray, patch: Sequence[int]) -> np.ndarray:
    spatial = array.shape[-3:]
    if tuple(spatial) == tuple(patch):
        return array
    pad = [(0, 0)] * (array.ndim - 3) + [(0, max(0, p - s)) for s, p in zip(spatial, patch, strict=True)]
    return np.pad(array, pad)


def sample_patch(
    case: CachedCase,
    config: SegmentationConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One augmented training patch: network input, structure and lesion channel labels.

    Augmentation parameters are drawn first, then applied deterministically (TorchIO-style), and
    every draw comes from ``rng`` so an epoch can be replayed.
    """
    centre = None
    if rng.random() < config.lesion_oversample and case.lesion_voxels is not None and len(case.lesion_voxels):
        centre = case.lesion_voxels[int(rng.integers(len(case.lesion_voxels)))]
    bounds = _crop_bounds(case.grid.shape, config.patch_size, rng, centre)
    sl = tuple(slice(a, b) for a, b in bounds)
    intensities = case.intensities[(slice(None), *sl)].astype(np.float32)
    brain = case.brain_mask[sl]
    available = list(case.available)

    # Modality dropout: hide each available modality with probability p, keeping at least one.
    present = [i for i, ok in enumerate(available) if ok]
    drop = [i for i in present if rng.random() < config.modality_dropout]
    if len(drop) == len(present):
        drop = drop[:-1]
    for i in drop:
        intensities[i] = 0.0
        available[i] = False

    jitter = config.intensity_jitter
    scales = 1.0 + rng.uniform(-jitter, jitter, size=len(available))
    shifts = rng.uniform(-jitter, jitter, size=len(available))
    for i, ok in enumerate(available):
        if ok:
            intensities[i] = np.where(brain, intensities[i] * scales[i] + shifts[i], 0.0)

    origin_vox = np.array([a for a, _ in bounds], dtype=np.float64)
    crop_affine = case.grid.affine.copy()
    crop_affine[:3, 3] = (case.grid.affine @ np.append(origin_vox, 1.0))[:3]
    crop_grid = Grid(tuple(b - a for a, b in bounds), crop_affine)  # type: ignore[arg-type]
    flags = np.zeros((len(available), *crop_grid.shape), dtype=np.float32)
    for i, ok in enumerate(available):
        flags[i] = 1.0 if ok else 0.0
    image = _pad_to(np.concatenate([intensities, flags], axis=0), config.patch_size)
    if config.coordinate_channels:
        # Coordinates run on into any padding (a grid smaller than the patch): zeros there would
        # claim "brain centre" for voxels that are background.
        patch_grid = Grid(tuple(config.patch_size), crop_affine)  # type: ignore[arg-type]
        image = np.concatenate([image, coordinate_channels(patch_grid, case.center_mm)], axis=0)
    return (
        image,
        _pad_to(case.structure[sl], config.patch_size),
        _pad_to(case.lesion[sl], config.patch_size),
    )


def _epoch_order(cases: Sequence[CachedCase], rng: np.random.Generator) -> np.ndarray:
    """Which case each slot of the epoch draws from.

    With equal weights, every case once in a random order. Pseudo-labelled cases carry a weight
    below 1 (the model's confidence times the pseudo-label weight): cases are then drawn in
    proportion to their weights, so an uncertain pseudo-label shapes the model less than a
    clinician's approved mask.
    """
    weights = np.array([max(float(c.weight), 0.0) for c in cases])
    if np.allclose(weights, weights[0]) or weights.sum() <= 0:
        return rng.permutation(len(cases))
    return rng.choice(len(cases), size=len(cases), replace=True, p=weights / weights.sum())


def _prepare_one(job: tuple) -> CachedCase:
    case, config, schema, lesion_ids, cache, fingerprint = job
    return prepare_training_case(case, config, schema, lesion_ids, cache_dir=cache, fingerprint=fingerprint)


def _prepare_all(jobs: Sequence[tuple], workers: int) -> Iterator[CachedCase]:
    """Prepared cases in job order; in ``workers`` processes when that is allowed here."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(workers, len(jobs)))
    if workers > 1 and mp.current_process().daemon:
        workers = 1  # a Celery prefork child is daemonic and may not start processes
    if workers == 1:
        yield from map(_prepare_one, jobs)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method)) as pool:
        yield from pool.map(_prepare_one, jobs, chunksize=1)


# How the platform fine-tunes a champion on new corrections (the retraining job and the
# active-learning benchmark): a tenth of the champion's rate after a warm-up over a tenth of the
# steps. ``_learning_rate`` says why; ``bench/bench_active_learning.py`` measured it.
FINE_TUNE_SCHEDULE: dict[str, float] = {"fine_tune_lr_scale": 0.1, "fine_tune_warmup": 0.1}


def _learning_rate(config: SegmentationConfig, step: int, total: int, *, fine_tune: bool = False) -> float:
    """Polynomial decay (nnU-Net's schedule), a pure function of the global step so resume is exact.

    Fine-tuning starts from weights that already fit, with a fresh AdamW: its first updates have
    full size whatever the gradient, and at the rate that trained the parent from scratch a few
    of them undo what the parent learnt (fine-tuning a 0.87 champion on two corrections at 3e-3
    lowered its held-out lesion Dice to 0.81). So a fine-tuning run peaks at
    ``fine_tune_lr_scale`` of the rate and ramps up to it linearly over the first
    ``fine_tune_warmup`` share of its steps.
    """
    rate = config.learning_rate * (1.0 - min(step, total - 1) / total) ** 0.9
    if not fine_tune:
        return rate
    warmup = config.fine_tune_warmup * total
    ramp = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return rate * config.fine_tune_lr_scale * ramp


def _dice(pred: np.ndarray, truth: np.ndarray) -> float | None:
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return None
    return 2.0 * int((pred & truth).sum()) / total


def validate(
    network: torch.nn.Module,
    cases: Sequence[CachedCase],
    config: SegmentationConfig,
    device: torch.device,
) -> tuple[float | None, float | None]:
    """Mean structure Dice (labels present in the truth) and whole-lesion Dice on the model grid."""
    from inference.ml.predict import sliding_window_logits
    from inference.ml.preprocess import network_input

    structure_scores: list[float] = []
    lesion_scores: list[float] = []
    network.eval()
    with torch.inference_mode():
        for case in cases:
            array = network_input(
                case.intensities.astype(np.float32), case.available, case.grid, case.center_mm, config
            )
            s_logits, l_logits = sliding_window_logits(network, torch.from_numpy(array)[None].to(device), config)
            s_pred = s_logits[0].argmax(0).cpu().numpy()
            l_pred = l_logits[0].argmax(0).cpu().numpy() > 0
            if case.has_structure:
                per_label = [_dice(s_pred == c, case.structure == c) for c in np.unique(case.structure) if c != 0]
                scores = [s for s in per_label if s is not None]
                if scores:
                    structure_scores.append(float(np.mean(scores)))
            if case.has_lesion and case.lesion.any():
                score = _dice(l_pred, case.lesion > 0)
                lesion_scores.append(float(score or 0.0))
    structure_dice = float(np.mean(structure_scores)) if structure_scores else None
    lesion_dice = float(np.mean(lesion_scores)) if lesion_scores else None
    return structure_dice, lesion_dice


def _score(structure: float | None, lesion: float | None) -> float:
    values = [v for v in (structure, lesion) if v is not None]
    return float(np.mean(values)) if values else -math.inf


def train(
    config: SegmentationConfig,
    train_cases: Sequence[TrainingCase],
    out_dir: str | Path,
    *,
    schema: LabelSchema,
    val_cases: Sequence[TrainingCase] = (),
    lesion_labels: Sequence[LesionLabel] = DEFAULT_LESION_LABELS,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    max_steps_per_epoch: int | None = None,
    init_from: str | Path | None = None,
    prepare_workers: int = 1,
) -> TrainResult:
    """Train the two-head network; return where the checkpoints are and the learning curve.

    ``resume=True`` continues from ``out_dir/last.pt`` when it exists (and refuses one made with a
    different config or data); ``resume=False`` starts over. ``should_stop`` is polled after each
    step so a cancelled job ends at the next epoch boundary with its last checkpoint intact.
    ``init_from`` starts from another checkpoint's weights (fine-tuning a champion on new data);
    its model id is recorded as the parent. ``prepare_workers`` > 1 prepares the cases (or reads them from the cache) in
    that many processes (resampling is single-threaded NumPy/SciPy; a cold cache of a hundred cases
    is minutes of a training budget).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    notify = progress or (lambda _p: None)
    if not train_cases:
        raise ValueError("no training cases")
    lesion_ids = [label.index for label in lesion_labels]
    target = torch.device(device) if device is not None else default_device()

    all_cases = [*train_cases, *val_cases]
    fingerprints = {case.case_id: case_fingerprint(case) for case in all_cases}
    prepared: dict[str, CachedCase] = {}
    jobs = [(case, config, schema, lesion_ids, cache, fingerprints[case.case_id]) for case in all_cases]
    notify(TrainingProgress("prepare", 0, config.epochs, 0, len(all_cases)))
    for i, cached in enumerate(_prepare_all(jobs, prepare_workers), start=1):
        prepared[cached.case_id] = cached
        notify(TrainingProgress("prepare", 0, config.epochs, i, len(all_cases)))
    data_hash = training_data_hash(fingerprints[c.case_id] for c in train_cases)
    train_data = [prepared[c.case_id] for c in train_cases]
    val_data = [prepared[c.case_id] for c in val_cases]

    torch.manual_seed(config.seed)
    network = build_network(config, len(schema.indices) + 1, len(lesion_ids) + 1).to(target)
    parent_model_id = None
    parent_postprocess: dict[str, float] = {}
    if init_from is not None:
        parent = read_checkpoint(init_from, expected_schema=schema)
        if not parent.metadata.config.same_architecture(config):
            raise TrainingStateMismatch(
                f"{Path(init_from).name} has another architecture, input modalities or intensity normalisation; "
                "it cannot start this run"
            )
        network.load_state_dict(parent.model_state)
        parent_model_id = parent.metadata.model_id
        # The parent's calibrated lesion cut-off and smallest kept component suit a model a few
        # hundred steps away from it far better than the uncalibrated defaults; without them a
        # fine-tuned candidate keeps specks its parent learnt to drop and loses Dice for it.
        parent_postprocess = {k: v for k, v in parent.metadata.postprocess.items() if not k.startswith("calibration_")}
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    history: list[EpochRecord] = []
    start_epoch = 1
    best_score = -math.inf
    resumed_from = None
    last_path, best_path = out / "last.pt", out / "best.pt"

    def metadata_for(epoch: int, metrics: dict[str, float]) -> CheckpointMetadata:
        return CheckpointMetadata(
            config=config,
            schema_slug=schema.slug,
            schema_digest=schema.digest,
            structure_label_ids=schema.indices,
            lesion_label_ids=tuple(lesion_ids),
            training_data_hash=data_hash,
            training_cases=len(train_cases),
            epoch=epoch,
            metrics=metrics,
            created_at=now_iso(),
            software=software_versions(),
            parent_model_id=parent_model_id,
            postprocess=dict(parent_postprocess),
        )

    if resume and last_path.is_file():
        loaded = read_checkpoint(last_path, expected_schema=schema)
        meta = loaded.metadata
        if meta.config.digest != config.digest:
            raise TrainingStateMismatch(
                f"{last_path} was made with another config ({meta.config.digest[:12]} vs {config.digest[:12]}); "
                "start over with resume=False or use another output folder"
            )
        if meta.training_data_hash != data_hash:
            raise TrainingStateMismatch(
                f"{last_path} was trained on other data ({meta.training_data_hash[:12]} vs {data_hash[:12]}); "
                "start over with resume=False or use another output folder"
            )
        network.load_state_dict(loaded.model_state)
        state = loaded.training_state or {}
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        history = [EpochRecord(**record) for record in state.get("history", [])]
        best_score = float(state.get("best_score", -math.inf))
        start_epoch = meta.epoch + 1
        resumed_from = meta.epoch

    steps_per_epoch = max(1, math.ceil(len(train_data) / config.batch_size))
    if max_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, max_steps_per_epoch)
    total_steps = steps_per_epoch * config.epochs
    # Batch Dice + cross-entropy for both heads, as MONAI's DiceCELoss(to_onehot_y, softmax,
    # batch=True) without its one-hot target (inference/ml/losses.py): a class absent from one
    # patch does not make that patch's Dice degenerate. It holds no state, so one serves both heads.
    loss_fn = DiceCELoss()
    stopped = False

    for epoch in range(start_epoch, config.epochs + 1):
        epoch_start = time.perf_counter()
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 100_003 + epoch)
        order = _epoch_order(train_data, rng)
        network.train()
        sums = np.zeros(3)
        lr = config.learning_rate
        for step in range(steps_per_epoch):
            picks = [order[(step * config.batch_size + k) % len(order)] for k in range(config.batch_size)]
            batch = [sample_patch(train_data[i], config, rng) for i in picks]
            image = torch.from_numpy(np.stack([b[0] for b in batch])).to(target)
            structure = torch.from_numpy(np.stack([b[1] for b in batch]).astype(np.int64))[:, None].to(target)
            lesion = torch.from_numpy(np.stack([b[2] for b in batch]).astype(np.int64))[:, None].to(target)
            lr = _learning_rate(
                config, (epoch - 1) * steps_per_epoch + step, total_steps, fine_tune=parent_model_id is not None
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            with autocast(config, target):
                s_logits, l_logits = network(image)
            s_loss = loss_fn(s_logits.float(), structure)
            l_loss = loss_fn(l_logits.float(), lesion)
            loss = s_loss + config.lesion_loss_weight * l_loss
            loss.backward()
            optimizer.step()
            sums += (loss.item(), s_loss.item(), l_loss.item())
            notify(TrainingProgress("train", epoch, config.epochs, step + 1, steps_per_epoch, loss.item()))
            if should_stop is not None and should_stop():
                stopped = True
                break
        if stopped:
            break
        means = sums / steps_per_epoch
        notify(TrainingProgress("validate", epoch, config.epochs, 0, 1, float(means[0])))
        due = epoch % config.validate_every == 0 or epoch == config.epochs
        val_structure, val_lesion = validate(network, val_data, config, target) if val_data and due else (None, None)
        record = EpochRecord(
            epoch=epoch,
            train_loss=float(means[0]),
            structure_loss=float(means[1]),
            lesion_loss=float(means[2]),
            val_structure_dice=val_structure,
            val_lesion_dice=val_lesion,
            learning_rate=lr,
            seconds=time.perf_counter() - epoch_start,
        )
        history.append(record)
        metrics = {"train_loss": record.train_loss}
        if val_structure is not None:
            metrics["val_structure_dice"] = val_structure
        if val_lesion is not None:
            metrics["val_lesion_dice"] = val_lesion
        score = _score(val_structure, val_lesion) if val_data else -record.train_loss
        state_dict = network.state_dict()
        if (score >= best_score and (due or not val_data)) or not best_path.is_file():
            best_score = max(score, best_score)
            save_checkpoint(best_path, metadata=metadata_for(epoch, metrics), model_state=state_dict)
        save_checkpoint(
            last_path,
            metadata=metadata_for(epoch, metrics),
            model_state=state_dict,
            training_state={
                "optimizer": optimizer.state_dict(),
                "history": [asdict(r) for r in history],
                "best_score": best_score,
            },
        )
        (out / "history.json").write_text(json.dumps([asdict(r) for r in history], indent=1))
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=1))

    notify(TrainingProgress("done", config.epochs, config.epochs, 1, 1))
    if not best_path.is_file():
        raise RuntimeError("training stopped before the first epoch finished; no checkpoint was written")
    best = read_checkpoint(best_path).metadata
    return TrainResult(
        last_checkpoint=last_path,
        best_checkpoint=best_path,
        metadata=best,
        history=history,
        resumed_from_epoch=resumed_from,
        seconds=time.perf_counter() - started,
        stopped_early=stopped,
    )
