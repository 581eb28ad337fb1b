"""Segmentation metrics as AutoRG-Brain reports them.

AutoRG-Brain (``test_seg.py`` / ``inference/predict.py`` of its repository) scores each case
separately and then averages over cases:

- lesion ("abnormal"): the masks are binarised (any lesion label is lesion) and Dice, precision and
  sensitivity are computed voxel-wise; undefined values (a case where a denominator is zero)
  count as 0 there. We return ``None`` for them instead and leave the choice to the aggregation:
  ``mean_over_cases`` skips them, which is what a benchmark of lesion cases needs (a healthy case
  has no lesion Dice), and a caller can count them as 0 to reproduce AutoRG exactly;
- structures ("anatomy"): for every label present in the ground truth, Dice/precision/sensitivity
  of that label; the case's score is the mean over those labels.

HD95 uses MONAI's implementation with the voxel spacing, in millimetres.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OverlapScores:
    dice: float | None
    precision: float | None
    sensitivity: float | None
    true_voxels: int
    predicted_voxels: int


def overlap_scores(prediction: np.ndarray, truth: np.ndarray) -> OverlapScores:
    """Dice = 2TP/(2TP+FP+FN), precision = TP/(TP+FP), sensitivity = TP/(TP+FN); None when 0/0."""
    pred = np.asarray(prediction, dtype=bool)
    true = np.asarray(truth, dtype=bool)
    if pred.shape != true.shape:
        raise ValueError(f"prediction {pred.shape} and truth {true.shape} differ in shape")
    tp = int(np.count_nonzero(pred & true))
    n_pred = int(np.count_nonzero(pred))
    n_true = int(np.count_nonzero(true))
    dice = 2.0 * tp / (n_pred + n_true) if n_pred + n_true else None
    precision = tp / n_pred if n_pred else None
    sensitivity = tp / n_true if n_true else None
    return OverlapScores(dice, precision, sensitivity, n_true, n_pred)


def lesion_scores(prediction: np.ndarray, truth: np.ndarray) -> OverlapScores:
    """Whole-lesion scores: every non-zero lesion label counts as lesion."""
    return overlap_scores(np.asarray(prediction) > 0, np.asarray(truth) > 0)


def per_label_scores(
    prediction: np.ndarray, truth: np.ndarray, labels: Iterable[int] | None = None
) -> dict[int, OverlapScores]:
    """Scores for each label (default: every non-zero label in either mask)."""
    prediction = np.asarray(prediction)
    truth = np.asarray(truth)
    if labels is None:
        labels = sorted((set(np.unique(prediction).tolist()) | set(np.unique(truth).tolist())) - {0})
    return {int(label): overlap_scores(prediction == label, truth == label) for label in labels}


@dataclass(frozen=True)
class StructureCaseScores:
    dice: float
    precision: float
    sensitivity: float
    per_label: dict[int, OverlapScores]


def structure_scores(prediction: np.ndarray, truth: np.ndarray) -> StructureCaseScores:
    """AutoRG-Brain's anatomy score for one case: mean over the labels present in the truth.

    A label present in the truth but never predicted scores Dice 0, sensitivity 0; its undefined
    precision counts as 0 (as AutoRG's ``nan → 0``).
    """
    truth = np.asarray(truth)
    labels = [int(v) for v in np.unique(truth) if v != 0]
    per_label = per_label_scores(prediction, truth, labels)
    if not labels:
        return StructureCaseScores(float("nan"), float("nan"), float("nan"), per_label)

    def mean(attr: str) -> float:
        return float(np.mean([getattr(s, attr) or 0.0 for s in per_label.values()]))

    return StructureCaseScores(mean("dice"), mean("precision"), mean("sensitivity"), per_label)


def hd95(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float] | None = None) -> float | None:
    """95th-percentile symmetric Hausdorff distance in mm (MONAI); None when either mask is empty."""
    pred = np.asarray(prediction, dtype=bool)
    true = np.asarray(truth, dtype=bool)
    if not pred.any() or not true.any():
        return None
    import torch
    from monai.metrics import compute_hausdorff_distance

    # Crop to the joint bounding box: the distance transform cost scales with the volume.
    idx = np.argwhere(pred | true)
    lo = np.maximum(idx.min(axis=0) - 2, 0)
    hi = idx.max(axis=0) + 3
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    p = torch.from_numpy(pred[box][None, None].astype(np.uint8))
    t = torch.from_numpy(true[box][None, None].astype(np.uint8))
    mm = [float(v) for v in spacing] if spacing is not None else None  # MONAI refuses numpy scalars
    value = compute_hausdorff_distance(p, t, include_background=True, percentile=95, spacing=mm)
    return float(value.item())


def mean_over_cases(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values (None and NaN skipped); None when nothing is defined."""
    kept = [float(v) for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(kept)) if kept else None


def summarise_labels(
    cases: Sequence[Mapping[int, OverlapScores]], names: Mapping[int, str] | None = None
) -> list[dict[str, object]]:
    """Per-label rows (mean over the cases where the label is in the truth) for a results table."""
    labels = sorted({label for case in cases for label in case})
    rows = []
    for label in labels:
        scores = [case[label] for case in cases if label in case and case[label].true_voxels > 0]
        rows.append(
            {
                "label": label,
                "name": (names or {}).get(label, str(label)),
                "cases": len(scores),
                "dice": mean_over_cases(s.dice or 0.0 for s in scores),
                "precision": mean_over_cases(s.precision for s in scores),
                "sensitivity": mean_over_cases(s.sensitivity for s in scores),
            }
        )
    return rows
