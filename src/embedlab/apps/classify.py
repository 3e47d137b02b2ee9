"""Text classification on embeddings: logistic regression by default, saved without pickle.

The classifier's weights are plain arrays (coef, intercept, classes), so a saved classifier is a
folder of JSON and ``.npy`` that anyone can inspect and that loading can never execute.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import atomic_folder
from embedlab.catalogue import find
from embedlab.embedders.base import Embedder
from embedlab.embedders.saving import load_array, save_array
from embedlab.errors import InputError, ModelFormatError, NotFittedError
from embedlab.eval.classification import probe_scores
from embedlab.loading import load

CLASSIFIER_FILE = "classifier.json"


class TextClassifier:
    """Embed with any Embedder, classify with logistic regression; ``fit`` / ``predict_proba``."""

    def __init__(
        self, model: str | Embedder = "minilm", *, c: float = 1.0, max_iter: int = 2000
    ) -> None:

        self.embedder = load(model) if not isinstance(model, Embedder) else model

        # A catalogue model is recorded by name; anything else is saved with the classifier.
        name = model if isinstance(model, str) else self.embedder.name
        self.model_spec = name if find(name) is not None else None
        self.c = c
        self.max_iter = max_iter
        self.classes_: np.ndarray | None = None
        self._clf: Any = None

    def _new_estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.c, max_iter=self.max_iter)

    def fit(self, texts: list[str], labels: list[str], *, folds: int = 5) -> dict[str, float]:
        """Fit on all data; returns cross-validated accuracy and macro-F1 and the majority baseline."""

        labels = [str(label) for label in labels]
        if len(texts) != len(labels):
            raise InputError(
                f"{len(texts)} texts but {len(labels)} labels", "give one label per text"
            )
        counts = Counter(labels)
        if len(counts) < 2:
            raise InputError(
                "training needs at least two different labels", "check the label column"
            )
        if self.embedder.trainable and not self.embedder.is_fitted:
            self.embedder.fit(texts)
        vectors = self.embedder.embed(texts)
        report = probe_scores(vectors, labels, folds) if min(counts.values()) >= 2 else {}
        self._clf = self._new_estimator().fit(vectors, labels)
        self.classes_ = self._clf.classes_
        report["majority_baseline"] = max(counts.values()) / len(labels)
        report["n"] = len(labels)
        return report

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if self._clf is None:
            raise NotFittedError(
                "the classifier has not been trained", "call fit(texts, labels) or load a saved one"
            )
        return self._clf.predict_proba(self.embedder.embed(texts))

    def predict(self, texts: list[str]) -> list[str]:
        probabilities = self.predict_proba(texts)
        return [str(self.classes_[i]) for i in probabilities.argmax(axis=1)]  # type: ignore[index]

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """A folder: classifier.json, weights as .npy, and the embedder (saved, or its name).

        Replaces an earlier embedlab output at ``path``; anything else only with ``force``.
        """
        if self._clf is None:
            raise InputError("nothing to save: the classifier is not trained", "call fit first")
        with atomic_folder(path, force=force) as tmp:
            meta: dict[str, Any] = {
                "format": "embedlab-classifier",
                "classes": [str(c) for c in self.classes_],  # type: ignore[union-attr]
                "coef": save_array(tmp, "coef", self._clf.coef_),
                "intercept": save_array(tmp, "intercept", self._clf.intercept_),
                "c": self.c,
            }
            if self.model_spec is not None and not self.embedder.trainable:
                meta["embedder"] = self.model_spec
            else:
                self.embedder.save(tmp / "embedder")
                meta["embedder_folder"] = "embedder"
            (tmp / CLASSIFIER_FILE).write_text(json.dumps(meta, indent=2))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TextClassifier:
        folder = Path(path)
        meta_path = folder / CLASSIFIER_FILE
        if not meta_path.is_file():
            raise ModelFormatError(
                f"{folder} has no {CLASSIFIER_FILE}", "pass a folder written by `classify train`"
            )
        try:
            meta = json.loads(meta_path.read_text())
            model = meta["embedder"] if "embedder" in meta else folder / meta["embedder_folder"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise ModelFormatError(
                f"{meta_path} is corrupt ({exc})", "train the classifier again"
            ) from None

        classifier = cls(load(model), c=meta.get("c", 1.0))
        clf = classifier._new_estimator()
        clf.classes_ = np.array(meta["classes"])
        clf.coef_ = load_array(folder, meta["coef"])
        clf.intercept_ = load_array(folder, meta["intercept"])
        if clf.coef_.shape[1] != classifier.embedder.dim:
            raise ModelFormatError(
                f"the saved weights expect {clf.coef_.shape[1]} dims, the embedder gives {classifier.embedder.dim}",
                "train the classifier again",
            )
        classifier._clf, classifier.classes_ = clf, clf.classes_
        return classifier
