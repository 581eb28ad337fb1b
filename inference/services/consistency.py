"""The report editor's warnings: each saved sentence checked against the case's current masks.

Registered with the case store at start-up (``InferenceConfig.ready``), so every report save, by a
clinician or the model, records what contradicts the masks next to the sentence that says it.
Measurements are cached by the masks' checksums: masks never change under a checksum.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from annotations.models import Case
from annotations.services.masks import mask_labels, mask_latest
from inference.services.models import ml_schema

_features: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()


def _case_features(case: Case, schema: Any) -> Any | None:
    structure, lesion = mask_latest(case, "structure"), mask_latest(case, "lesion")
    if structure is None or lesion is None:
        return None
    key = (structure.sha256, lesion.sha256)
    with _lock:
        if key in _features:
            _features.move_to_end(key)
            return _features[key]
    from inference.ml.report import extract_features

    features = extract_features(mask_labels(structure), mask_labels(lesion), np.asarray(case.affine), schema)
    with _lock:
        _features[key] = features
        while len(_features) > 16:
            _features.popitem(last=False)
    return features


def check_case_sentences(case: Case, sentences: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    schema = ml_schema(case.project.label_schema)
    features = _case_features(case, schema)
    if features is None:
        return [[] for _ in sentences]
    from inference.ml.report import check_report

    return [[w.to_dict() for w in warnings] for warnings in check_report(sentences, features, schema)]
