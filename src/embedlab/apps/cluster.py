"""Clustering and topics: k-means (k by silhouette) or HDBSCAN, each cluster labelled by c-TF-IDF.

c-TF-IDF (as in BERTopic) treats each cluster as one document: a term is distinctive for a
cluster when it is frequent there and rare across clusters. The most central examples are the
texts closest to the cluster's mean direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.errors import InputError

NOISE = -1


@dataclass
class Cluster:
    id: int
    size: int
    terms: list[str]
    examples: list[str]
    example_ids: list[int] = field(default_factory=list)


@dataclass
class ClusterResult:
    labels: np.ndarray
    method: str
    k: int
    silhouette: float | None
    clusters: list[Cluster]
    tried: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "k": self.k,
            "silhouette": self.silhouette,
            "silhouette_by_k": self.tried,
            "clusters": [c.__dict__ for c in self.clusters],
        }


def choose_k(vectors: np.ndarray, k_range: range, seed: int = 0) -> tuple[int, dict[int, float]]:
    """The k with the best cosine silhouette among ``k_range`` (k-means on unit vectors)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    tried = {}
    for k in k_range:
        if k >= len(vectors):
            break
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
        tried[k] = float(silhouette_score(vectors, labels, metric="cosine"))
    if not tried:
        raise InputError(f"too few texts ({len(vectors)}) to cluster", "pass at least 3 texts")
    return max(tried, key=tried.__getitem__), tried


def class_tfidf_terms(texts: list[str], labels: np.ndarray, top: int = 6) -> dict[int, list[str]]:
    """The most distinctive terms of each cluster by c-TF-IDF."""
    from sklearn.feature_extraction.text import CountVectorizer

    ids = sorted(set(labels.tolist()) - {NOISE})
    joined = [
        " ".join(t for t, label in zip(texts, labels, strict=True) if label == c) for c in ids
    ]
    try:
        vectorizer = CountVectorizer(
            stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
        )
        counts = vectorizer.fit_transform(joined).toarray().astype(float)
    except ValueError:  # only stop words
        return {c: [] for c in ids}
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average_words = counts.sum() / len(ids)
    idf = np.log(1 + average_words / np.maximum(counts.sum(axis=0), 1))
    scores = tf * idf
    terms = vectorizer.get_feature_names_out()
    return {
        c: [terms[j] for j in np.argsort(-scores[row])[:top] if scores[row, j] > 0]
        for row, c in enumerate(ids)
    }


def cluster_texts(
    texts: list[str],
    model: Embedder,
    *,
    k: int | None = None,
    method: str = "kmeans",
    k_range: range | None = None,
    min_cluster_size: int = 5,
    examples: int = 3,
    seed: int = 0,
) -> ClusterResult:
    """Embed, cluster and describe ``texts``; k is chosen by silhouette when not given.

    The default k range is 2 .. sqrt(n)+1 (at most 20).
    """
    if method not in ("kmeans", "hdbscan"):
        raise InputError(f"unknown clustering method {method!r}", "use 'kmeans' or 'hdbscan'")
    if model.trainable and not model.is_fitted:
        model.fit(texts)
    vectors = l2_normalize(model.embed(texts))
    tried: dict[int, float] = {}
    if method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(
            min_cluster_size=min_cluster_size, metric="euclidean", copy=True
        ).fit_predict(vectors)
    else:
        from sklearn.cluster import KMeans

        if k is None:
            # Silhouette keeps rising with k on small sets; cap k near sqrt(n), a common rule.
            k, tried = choose_k(
                vectors, k_range or range(2, min(20, int(len(texts) ** 0.5) + 1) + 1), seed
            )
        if not 1 <= k <= len(texts):
            raise InputError(
                f"k={k} does not fit {len(texts)} texts",
                "choose k between 1 and the number of texts",
            )
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
    found = sorted(set(labels.tolist()) - {NOISE})
    silhouette = None
    if 2 <= len(found) < len(texts):
        from sklearn.metrics import silhouette_score

        mask = labels != NOISE
        silhouette = float(silhouette_score(vectors[mask], labels[mask], metric="cosine"))
    terms = class_tfidf_terms(texts, labels)
    clusters = []
    for c in found:
        members = np.flatnonzero(labels == c)
        centre = l2_normalize(vectors[members].mean(axis=0, keepdims=True))[0]
        central = members[np.argsort(-(vectors[members] @ centre))[:examples]]
        clusters.append(
            Cluster(
                c,
                len(members),
                terms.get(c, []),
                [texts[i] for i in central],
                [int(i) for i in central],
            )
        )
    clusters.sort(key=lambda cl: -cl.size)
    return ClusterResult(labels, method, len(found), silhouette, clusters, tried)
