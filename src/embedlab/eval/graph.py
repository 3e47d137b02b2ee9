"""Graph embeddings, scored the two standard ways: node classification and link prediction.

- node classification: a logistic-regression probe on the node vectors, cross-validated
  (the same probe as text classification), e.g. the karate club's ``club`` split;
- link prediction: hold out a share of the edges, train on the rest, and score held-out edges
  against as many random non-edges by the cosine of their nodes' vectors (ROC AUC: 0.5 is
  chance, 1.0 ranks every real edge above every non-edge).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from embedlab.errors import InputError
from embedlab.eval.classification import probe_scores


def node_classification(
    model: Any, labels: Mapping[Any, Any], folds: int = 5, seed: int = 0
) -> dict[str, float]:
    """Accuracy and macro-F1 of a cross-validated probe predicting ``labels[node]`` from the
    node vectors of a fitted graph ``model``; ``majority`` is the baseline to beat."""

    nodes = [str(node) for node in labels]
    names = [str(label) for label in labels.values()]
    scores = probe_scores(model.embed(nodes), names, folds=folds, seed=seed)
    return {**scores, "majority": max(Counter(names).values()) / len(names)}


def split_edges(graph: Any, holdout: float = 0.1, seed: int = 0) -> tuple[Any, list, list]:
    """``(training graph, held-out edges, non-edges)`` from a networkx graph.

    Held-out edges are drawn at random among those whose removal leaves both ends with an edge
    (so every node still gets walked); the non-edges are as many random pairs of distinct nodes
    that are not linked in the full graph.
    """
    if not 0 < holdout < 1:
        raise InputError(f"holdout must be between 0 and 1, got {holdout}", "use e.g. 0.1")
    rng = np.random.default_rng(seed)
    train = graph.copy()
    edges = list(graph.edges())
    wanted = max(1, round(holdout * len(edges)))
    held: list[tuple[Any, Any]] = []
    for i in rng.permutation(len(edges)):
        u, v = edges[i]
        if u != v and train.degree(u) > 1 and train.degree(v) > 1:
            train.remove_edge(u, v)
            held.append((u, v))
            if len(held) == wanted:
                break
    nodes = list(graph.nodes)
    negatives: set[tuple[Any, Any]] = set()
    while len(negatives) < len(held):
        a, b = rng.choice(len(nodes), size=2, replace=False)
        u, v = nodes[a], nodes[b]
        if not graph.has_edge(u, v) and (v, u) not in negatives:
            negatives.add((u, v))
    return train, held, sorted(negatives, key=str)


def link_prediction(model: Any, graph: Any, holdout: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Fit the (unfitted) graph ``model`` on ``graph`` less ``holdout`` of its edges, and return
    the ROC AUC of cosine scores of the held-out edges against random non-edges."""
    from sklearn.metrics import roc_auc_score

    train, held, negatives = split_edges(graph, holdout, seed)
    model.fit(train)
    pairs = held + negatives
    left = model.embed([str(u) for u, _ in pairs], normalize=True)
    right = model.embed([str(v) for _, v in pairs], normalize=True)
    scores = (left * right).sum(axis=1)
    truth = [1] * len(held) + [0] * len(negatives)
    return {"auc": float(roc_auc_score(truth, scores)), "held_out": len(held)}
