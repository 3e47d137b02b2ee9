"""Fusing a dense ranking with a keyword ranking, for hybrid search.

Reciprocal rank fusion (Cormack et al., 2009) uses ranks only, so it needs no calibration between
cosine similarities and BM25 (or ts_rank) scores: each list adds ``1 / (k + rank)``. The weighted
option min-max scales each list's scores to [0, 1] over its own candidates and mixes them,
``weight`` on the dense side; it lets strong score gaps count, at the price of depending on the
score distributions.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60
FUSIONS = ("rrf", "weighted")


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion of several best-first id lists."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def _minmax(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {item: 1.0 for item in scores}
    return {item: (s - lo) / (hi - lo) for item, s in scores.items()}


def weighted(
    dense: dict[str, float], keyword: dict[str, float], weight: float = 0.5
) -> dict[str, float]:
    """``weight * dense + (1 - weight) * keyword`` on min-max scaled scores (missing = 0).

    ``dense`` must be higher-is-better (negate L2 distances first).
    """
    d, w = _minmax(dense), _minmax(keyword)
    return {
        item: weight * d.get(item, 0.0) + (1 - weight) * w.get(item, 0.0)
        for item in d.keys() | w.keys()
    }


def top(fused: dict[str, float], k: int) -> list[tuple[str, float]]:
    """The ``k`` best items, ties broken by id so results are stable."""
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
