"""Segmentation and report metrics (``segmentation``, ``text``, ``entities``).

Importing this package is cheap: torch/MONAI (HD95) and sentence-transformers (embedding
similarity) are imported inside the functions that need them.
"""

from inference.ml.metrics.entities import entity_f1, report_entities
from inference.ml.metrics.segmentation import (
    OverlapScores,
    hd95,
    lesion_scores,
    mean_over_cases,
    overlap_scores,
    per_label_scores,
    structure_scores,
)
from inference.ml.metrics.text import (
    OptionalMetric,
    bleu_scores,
    embedding_similarity,
    ratescore,
    report_metrics,
    rouge_scores,
)

__all__ = [
    "OptionalMetric",
    "OverlapScores",
    "bleu_scores",
    "embedding_similarity",
    "entity_f1",
    "hd95",
    "lesion_scores",
    "mean_over_cases",
    "overlap_scores",
    "per_label_scores",
    "ratescore",
    "report_entities",
    "report_metrics",
    "rouge_scores",
    "structure_scores",
]
