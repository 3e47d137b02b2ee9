"""Pair classification (paraphrase / duplicate detection): best-threshold accuracy and AP.

Standard pairs come from STS Benchmark (test): scores of 4 or more are paraphrases, scores of
1.5 or less are not; the middle is left out as ambiguous. A user file gives two text columns
(``--text a,b``) and a 0/1 label column.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.errors import DataFormatError, InputError
from embedlab.eval.base import Task, embed_for_task
from embedlab.eval.datasets import sts_benchmark
from embedlab.text.readers import read_columns

POSITIVE_MIN, NEGATIVE_MAX = 4.0, 1.5
TRUE_LABELS = {"1", "true", "yes", "duplicate", "paraphrase", "1.0"}


class PairClassification(Task):
    name: ClassVar[str] = "pairs"
    main_score: ClassVar[str] = "average_precision"

    def load(self) -> tuple[list[str], list[str], list[int]]:
        if self.data is not None:
            fields = (self.text_field or "").split(",")
            if len(fields) != 2 or not self.label_field:
                raise InputError(
                    "pair data needs two text columns and a label column",
                    "pass --text FIRST,SECOND --label LABEL (label 1/true = same meaning)",
                )
            cols = read_columns(self.data, [*fields, self.label_field])
            labels = [int(str(v).strip().lower() in TRUE_LABELS) for v in cols[self.label_field]]
            if len(set(labels)) < 2:
                raise DataFormatError(
                    f"{self.data} needs both positive and negative pairs", "check --label"
                )
            a, b = [str(t) for t in cols[fields[0]]], [str(t) for t in cols[fields[1]]]
        else:
            kept = [
                (x, y, int(s >= POSITIVE_MIN))
                for x, y, s in sts_benchmark("test")
                if s >= POSITIVE_MIN or s <= NEGATIVE_MAX
            ]
            a, b, labels = (list(col) for col in zip(*kept, strict=True))
        n = self.limit or len(labels)
        return a[:n], b[:n], labels[:n]

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        a, b, labels = self.load()
        vectors = l2_normalize(embed_for_task(model, a + b))
        cosines = np.sum(vectors[: len(a)] * vectors[len(a) :], axis=1)
        scores, threshold = pair_scores(cosines, np.asarray(labels))
        return scores, len(labels), {"threshold": threshold, "positives": int(sum(labels))}


def pair_scores(similarities: np.ndarray, labels: np.ndarray) -> tuple[dict[str, float], float]:
    """Average precision, and accuracy at the threshold that maximises it (returned too)."""
    from sklearn.metrics import average_precision_score

    order = np.argsort(-similarities, kind="stable")
    sorted_labels = labels[order]
    # Predict positive for the top i pairs: correct = positives above + negatives below the cut.
    positives_above = np.concatenate([[0], np.cumsum(sorted_labels)])
    negatives_below = (len(labels) - labels.sum()) - np.concatenate(
        [[0], np.cumsum(1 - sorted_labels)]
    )
    correct = positives_above + negatives_below
    best = int(np.argmax(correct))
    sims = similarities[order]
    threshold = float(sims[best - 1] if best > 0 else sims[0] + 1e-6)
    return {
        "average_precision": float(average_precision_score(labels, similarities)),
        "accuracy": float(correct[best] / len(labels)),
    }, threshold
