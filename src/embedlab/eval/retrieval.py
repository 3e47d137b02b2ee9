"""Retrieval: queries against a corpus with known relevant documents (nDCG@10, MRR@10, recall@k).

The standard set is built from STS Benchmark (test split): each first sentence of a pair scored
4 or more is a query, its second sentence the relevant document, and every second sentence of
the split is the corpus. A user file gives (query, relevant document) rows instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from embedlab.apps.search import top_k
from embedlab.embedders.base import Embedder
from embedlab.errors import InputError
from embedlab.eval.base import Task, embed_for_task
from embedlab.eval.datasets import sts_benchmark
from embedlab.text.readers import read_columns

RELEVANT_SCORE = 4.0


class Retrieval(Task):
    name: ClassVar[str] = "retrieval"
    main_score: ClassVar[str] = "ndcg@10"

    def load(self) -> tuple[list[str], list[str], list[set[int]]]:
        """Queries, corpus, and for each query the set of relevant corpus indices."""
        if self.data is not None:
            if not self.text_field or not self.label_field:
                raise InputError(
                    "retrieval data needs a query column and a relevant-document column",
                    "pass --text QUERY_COLUMN --label DOCUMENT_COLUMN",
                )
            cols = read_columns(self.data, [self.text_field, self.label_field])
            pairs: list[tuple[Any, Any]] = list(
                zip(cols[self.text_field], cols[self.label_field], strict=True)
            )
        else:
            split = sts_benchmark("test")
            pairs = [(a, b) for a, b, score in split if score >= RELEVANT_SCORE]
            corpus_extra = [b for _, b, _ in split]
            return _build(pairs[: self.limit] if self.limit else pairs, corpus_extra)
        return _build(pairs[: self.limit] if self.limit else pairs, [])

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        queries, corpus, relevant = self.load()
        if model.trainable and not model.is_fitted:
            model.fit(corpus + queries)
        doc_vectors = embed_for_task(model, corpus)
        query_vectors = model.embed_queries(queries)
        return (
            retrieval_scores(query_vectors, doc_vectors, relevant),
            len(queries),
            {"corpus": len(corpus)},
        )


def _build(
    pairs: list[tuple[str, str]], extra_docs: list[str]
) -> tuple[list[str], list[str], list[set[int]]]:
    corpus: list[str] = []
    index: dict[str, int] = {}
    for doc in [b for _, b in pairs] + extra_docs:
        if doc not in index:
            index[doc] = len(corpus)
            corpus.append(doc)
    grouped: dict[str, set[int]] = {}
    for query, doc in pairs:
        grouped.setdefault(query, set()).add(index[doc])
    return list(grouped), corpus, list(grouped.values())


def retrieval_scores(
    queries: np.ndarray,
    documents: np.ndarray,
    relevant: list[set[int]],
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict[str, float]:
    """Binary-relevance nDCG@10, MRR@10 and recall@k from cosine rankings."""

    depth = max(*ks, 10)
    ranked, _ = top_k(queries, documents, depth)
    ndcg, mrr = [], []
    recall: dict[int, list[float]] = {k: [] for k in ks}
    for row, wanted in zip(ranked, relevant, strict=True):
        hits = [int(doc) in wanted for doc in row]
        dcg = sum(1 / np.log2(rank + 2) for rank, hit in enumerate(hits[:10]) if hit)
        ideal = sum(1 / np.log2(rank + 2) for rank in range(min(len(wanted), 10)))
        ndcg.append(dcg / ideal)
        first = next((rank for rank, hit in enumerate(hits[:10]) if hit), None)
        mrr.append(0.0 if first is None else 1 / (first + 1))
        for k in ks:
            recall[k].append(sum(hits[:k]) / len(wanted))
    scores = {"ndcg@10": float(np.mean(ndcg)), "mrr@10": float(np.mean(mrr))}
    scores.update({f"recall@{k}": float(np.mean(v)) for k, v in recall.items()})
    return scores
