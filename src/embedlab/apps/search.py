"""Exact nearest-neighbour search over a matrix of vectors: the core of semantic search."""

from __future__ import annotations

import numpy as np

from embedlab.embedders.base import l2_normalize


def top_k(queries: np.ndarray, documents: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the ``k`` closest documents to each query, best first.

    Uses ``argpartition`` so cost stays linear in the number of documents.
    """
    queries = l2_normalize(np.atleast_2d(queries))
    documents = l2_normalize(np.atleast_2d(documents))
    scores = queries @ documents.T
    k = min(k, documents.shape[0])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)
