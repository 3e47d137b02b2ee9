"""Classification: a logistic-regression probe on frozen embeddings, k-fold cross-validated.

The probe is deliberately simple so the score measures the embedding, not the classifier.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from embedlab.embedders.base import Embedder
from embedlab.eval.base import Task, embed_for_task
from embedlab.eval.datasets import sentiment
from embedlab.eval.labelled import stratified_sample, user_labelled

STANDARD_SIZE = 2000  # movie-review sentences sampled from the 10,568 with a non-zero valence


class Classification(Task):
    """Accuracy and macro-F1 of a cross-validated logistic regression (standard: movie sentiment)."""

    name: ClassVar[str] = "classification"
    main_score: ClassVar[str] = "accuracy"

    def __init__(self, *args: Any, folds: int = 5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.folds = folds

    def load(self) -> tuple[list[str], list[str]]:
        if self.data is not None:
            texts, labels = user_labelled(self.data, self.text_field, self.label_field)
            return stratified_sample(texts, labels, self.limit)

        texts, labels = sentiment("movies")
        return stratified_sample(texts, labels, self.limit or STANDARD_SIZE)

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        texts, labels = self.load()
        vectors = embed_for_task(model, texts)
        return (
            probe_scores(vectors, labels, self.folds),
            len(texts),
            {
                "majority_baseline": max(Counter(labels).values()) / len(labels),
                "labels": sorted(set(labels)),
                "folds": self.folds,
            },
        )


def probe_scores(
    vectors: Any, labels: list[str], folds: int = 5, seed: int = 0
) -> dict[str, float]:
    """Mean accuracy and macro-F1 over stratified folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate

    smallest = min(Counter(labels).values())
    folds = max(2, min(folds, smallest))
    result = cross_validate(
        LogisticRegression(max_iter=2000),
        vectors,
        labels,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        scoring=("accuracy", "f1_macro"),
    )
    return {"accuracy": result["test_accuracy"].mean(), "f1_macro": result["test_f1_macro"].mean()}
