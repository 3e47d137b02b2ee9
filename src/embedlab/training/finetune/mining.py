"""Hard negatives mined with the base model, through embedlab's own collections.

The positives go into a collection; each anchor's nearest positives that are not its own are
its hard negatives, except those scoring within ``margin`` of the true positive (likely
unlabelled positives: false negatives would teach the model the wrong thing).
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from embedlab.embedders.base import Embedder
from embedlab.errors import InputError
from embedlab.store import create_collection
from embedlab.training.finetune.data import TrainingData


@dataclass(frozen=True)
class MiningReport:
    anchors: int
    kept: int
    negatives: int
    margin: float
    seconds: float


def mine_hard_negatives(
    data: TrainingData,
    model: Embedder,
    *,
    k: int,
    margin: float = 0.05,
    batch_size: int = 32,
    progress: bool = False,
) -> tuple[TrainingData, MiningReport]:
    """Rows ``anchor, positive, negative_1..negative_k``; anchors with fewer than ``k`` usable
    negatives are dropped (reported), since the loss needs the same number in every row."""
    if data.kind not in ("pairs", "triplets"):
        raise InputError(
            f"hard negatives are mined for pairs, not for {data.description}",
            "drop --hard-negatives, or train on (anchor, positive) pairs",
        )
    if k < 1:
        raise InputError(f"--hard-negatives must be at least 1, got {k}", "pass e.g. 3")
    started = time.perf_counter()
    anchors, positives = data.columns["anchor"], data.columns["positive"]
    docs = sorted(set(positives))
    index = {doc: i for i, doc in enumerate(docs)}
    own: dict[str, set[int]] = defaultdict(set)  # every positive of an anchor is no negative
    for a, p in zip(anchors, positives, strict=True):
        own[a].add(index[p])
    if len(docs) <= k:
        raise InputError(
            f"only {len(docs)} distinct positives, too few to mine {k} negatives from",
            "lower --hard-negatives or give more pairs",
        )
    doc_vectors = model.embed(docs, batch_size=batch_size, normalize=True, progress=progress)
    query_vectors = model.embed_queries(list(anchors), batch_size=batch_size, normalize=True)
    positive_scores = np.einsum(
        "ij,ij->i", query_vectors, doc_vectors[[index[p] for p in positives]]
    )
    # deep: where the base model ranks the positive low, the margin excludes all above it
    depth = min(len(docs), max(200, 20 * k))
    with tempfile.TemporaryDirectory(prefix="embedlab-mining-") as folder:
        collection = create_collection(folder, model=model.name, dim=model.dim, index="flat")
        try:
            collection.add(ids=[str(i) for i in range(len(docs))], vectors=doc_vectors)
            ids, scores = collection.search_ids(query_vectors, k=depth, exact=True)
        finally:
            collection.close()
    out: dict[str, list[str]] = {"anchor": [], "positive": []}
    for name in range(k):
        out[f"negative_{name + 1}"] = []
    for row, (anchor, positive) in enumerate(zip(anchors, positives, strict=True)):
        ceiling = positive_scores[row] - margin
        found = [
            docs[int(i)]
            for i, score in zip(ids[row], scores[row], strict=True)
            if int(i) not in own[anchor] and np.isfinite(score) and score < ceiling
        ][:k]
        if len(found) < k:
            continue
        out["anchor"].append(anchor)
        out["positive"].append(positive)
        for n, negative in enumerate(found):
            out[f"negative_{n + 1}"].append(negative)
    kept = len(out["anchor"])
    report = MiningReport(len(anchors), kept, kept * k, margin, time.perf_counter() - started)
    return TrainingData(data.kind, out, data.source), report
