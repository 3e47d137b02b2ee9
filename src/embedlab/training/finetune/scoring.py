"""The held-out score that fits the data: retrieval nDCG@10 for pairs, Spearman for scored pairs,
accuracy of a logistic head for labelled texts; at each Matryoshka dimension too.

One function scores the base model (before), every evaluation during training (early stopping)
and the result (after), so the three numbers are comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from embedlab.eval.retrieval import retrieval_scores
from embedlab.training.finetune.data import TrainingData

Encode = Callable[[list[str]], np.ndarray]
MAIN_METRIC = {
    "pairs": "ndcg@10",
    "triplets": "ndcg@10",
    "scored": "spearman",
    "labelled": "accuracy",
}


def main_metric(kind: str) -> str | None:
    return MAIN_METRIC.get(kind)


def score(
    encode: Encode,
    held_out: TrainingData,
    *,
    train: TrainingData | None = None,
    dims: Sequence[int] | None = None,
) -> dict[str, float]:
    """Scores of the held-out data; ``metric@dim`` keys for each smaller Matryoshka size."""
    texts = _texts(held_out, train)
    vectors = dict(zip(texts, encode(texts), strict=True))
    out: dict[str, float] = {}
    sizes = [None, *(dims or [])[1:]]  # the first Matryoshka size is the full model
    for dim in sizes:
        cut = {t: _truncate(v, dim) for t, v in vectors.items()}
        scores = _scores(held_out, train, cut)
        suffix = "" if dim is None else f"@{dim}"
        out.update({f"{k}{suffix}": v for k, v in scores.items()})
    return out


def _texts(held_out: TrainingData, train: TrainingData | None) -> list[str]:
    c = held_out.columns
    if held_out.kind in ("pairs", "triplets"):
        found = c["anchor"] + c["positive"] + c.get("negative", [])
    elif held_out.kind == "scored":
        found = c["sentence1"] + c["sentence2"]
    elif held_out.kind == "labelled":
        found = c["text"] + (train.columns["text"] if train is not None else [])
    else:
        found = []
    return list(dict.fromkeys(found))


def _truncate(vector: np.ndarray, dim: int | None) -> np.ndarray:
    v = vector if dim is None else vector[:dim]
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _scores(
    held_out: TrainingData, train: TrainingData | None, vectors: dict[str, np.ndarray]
) -> dict[str, float]:
    c = held_out.columns
    if held_out.kind in ("pairs", "triplets"):
        corpus = list(dict.fromkeys(c["positive"] + c.get("negative", [])))
        index = {doc: i for i, doc in enumerate(corpus)}
        relevant: dict[str, set[int]] = {}
        for a, p in zip(c["anchor"], c["positive"], strict=True):
            relevant.setdefault(a, set()).add(index[p])
        queries = np.stack([vectors[q] for q in relevant])
        docs = np.stack([vectors[d] for d in corpus])
        return retrieval_scores(queries, docs, list(relevant.values()))
    if held_out.kind == "scored":
        from scipy import stats

        first = np.stack([vectors[t] for t in c["sentence1"]])
        second = np.stack([vectors[t] for t in c["sentence2"]])
        cosine = np.einsum("ij,ij->i", first, second)
        rho = stats.spearmanr(cosine, np.asarray(c["score"], dtype=float)).statistic
        return {"spearman": float(rho) if np.isfinite(rho) else 0.0}
    if held_out.kind == "labelled":
        if train is None:
            return {}
        head = fit_head(
            np.stack([vectors[t] for t in train.columns["text"]]), train.columns["label"]
        )
        predicted = head.predict(np.stack([vectors[t] for t in c["text"]]))
        return {"accuracy": float(np.mean(predicted == np.asarray(c["label"])))}
    return {}


def fit_head(vectors: np.ndarray, labels: list[str], c: float = 1.0) -> Any:
    """The logistic-regression head SetFit puts on the tuned encoder (and the probe baseline)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000).fit(vectors, np.asarray(labels))
