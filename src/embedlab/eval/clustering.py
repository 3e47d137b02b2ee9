"""Clustering: k-means on embeddings against known categories (V-measure, adjusted Rand)."""

from __future__ import annotations

from typing import Any, ClassVar

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.eval.base import Task, embed_for_task
from embedlab.eval.datasets import domains
from embedlab.eval.labelled import stratified_sample, user_labelled


class Clustering(Task):
    """Do texts of one category land in one cluster? Standard: snippets from 4 domains (VADER)."""

    name: ClassVar[str] = "clustering"
    main_score: ClassVar[str] = "v_measure"

    def load(self) -> tuple[list[str], list[str]]:
        if self.data is not None:
            texts, labels = user_labelled(self.data, self.text_field, self.label_field)
            return stratified_sample(texts, labels, self.limit)

        texts, labels = domains(per_domain=500)
        return stratified_sample(texts, labels, self.limit)

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        texts, labels = self.load()
        vectors = l2_normalize(embed_for_task(model, texts))
        return cluster_scores(vectors, labels), len(texts), {"clusters": len(set(labels))}


def cluster_scores(vectors: Any, labels: list[str], seed: int = 0) -> dict[str, float]:
    """k-means with k = the number of categories; cosine geometry via L2-normalised input."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    k = len(set(labels))
    predicted = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
    return {
        "v_measure": v_measure_score(labels, predicted),
        "adjusted_rand": adjusted_rand_score(labels, predicted),
    }
