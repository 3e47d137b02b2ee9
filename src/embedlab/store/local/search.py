"""Vector search over a local collection: exact scans, the approximate index, result objects.

Small collections, ``index="flat"`` float32 and selective filters scan the memory-mapped vectors
exactly; otherwise the faiss index (graph or quantized codes) finds candidates, quantized ones
are rescored against the full-precision vectors, and a walk that came back short under a
selective filter falls back to an exact scan, so a filter never silently loses results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.store.ann import exact_search, rescore
from embedlab.store.backend import Hit, SearchOptions

if TYPE_CHECKING:
    from embedlab.store.local.backend import LocalBackend


def search_slots(
    backend: LocalBackend, queries: np.ndarray, options: SearchOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Best slots (``-1`` padded) and higher-is-better keys for each query."""
    backend._sync()
    k, metric = options.k, backend.config.metric
    if options.where is None:
        allowed, n_allowed = None, backend._n_live  # every live row
    else:
        allowed = backend._filter_mask(options.where)
        n_allowed = int(allowed.sum())
    if n_allowed == 0:
        empty = np.full((len(queries), k), -1, dtype=np.int64)
        return empty, np.full((len(queries), k), -np.inf, dtype=np.float32)
    selective = allowed is not None and (
        n_allowed <= backend.config.exact_threshold or n_allowed < 0.02 * backend._n_live
    )
    if not backend._uses_ann(options) or selective:
        rows = np.flatnonzero(allowed) if allowed is not None else None
        return exact_search(queries, backend._vectors, k, metric, allowed=backend._live, rows=rows)
    return _ann_search(backend, queries, options, allowed, n_allowed)


def _ann_search(
    backend: LocalBackend,
    queries: np.ndarray,
    options: SearchOptions,
    allowed: np.ndarray | None,
    n_allowed: int,
) -> tuple[np.ndarray, np.ndarray]:
    backend._sync_index()
    ann = backend._ann
    assert ann is not None
    k, c = options.k, backend.config
    factor = 1 if c.storage == "float32" else (options.rescore or c.rescore_factor)
    n = min(k * factor, backend._next_slot)
    ef = options.ef or c.ef_search
    if n_allowed < backend._n_live:  # a filter: widen the walk as it gets more selective
        ef = min(int(ef * backend._n_live / n_allowed), 4 * ef + 1024)
    mask = allowed if allowed is not None else backend._live
    need_mask = n_allowed < ann.ntotal  # deleted rows (tombstones) or a filter
    labels, keys = ann.search(queries, n, ef=ef, allowed=mask if need_mask else None)
    if c.storage != "float32":
        slots, keys = rescore(queries, backend._vectors, labels, k, c.metric)
    else:
        slots, keys = labels[:, :k], keys[:, :k]
    wanted = min(k, n_allowed, slots.shape[1])
    short = np.flatnonzero(slots[:, wanted - 1] < 0)  # results are sorted, -1 last
    if len(short):  # the graph walk came back short (a very selective filter): be exact
        rows = np.flatnonzero(mask)
        s2, k2 = exact_search(queries[short], backend._vectors, k, c.metric, rows=rows)
        slots, keys = slots.copy(), keys.copy()
        slots[short], keys[short] = s2, k2
    return slots, keys


def to_hits(
    backend: LocalBackend, slots: np.ndarray, keys: np.ndarray, include: Sequence[str]
) -> list[list[Hit]]:
    l2 = backend.config.metric == "l2"
    details: dict[int, tuple[Any, str]] = {}
    if "text" in include or "metadata" in include:
        details = backend._rows.details(np.unique(slots[slots >= 0]).tolist())
    scores = np.sqrt(np.maximum(-keys, 0)) if l2 else keys
    ids, vectors = backend._ids, backend._vectors
    if not include:  # ids and scores only: the fast path for search-heavy callers
        return [
            [Hit(ids[s], c) for s, c in zip(rs, rc, strict=True) if s >= 0]
            for rs, rc in zip(slots.tolist(), scores.tolist(), strict=True)
        ]
    want_vector = "vector" in include
    out: list[list[Hit]] = []
    for row_slots, row_scores in zip(slots.tolist(), scores.tolist(), strict=True):
        hits = []
        for slot, score in zip(row_slots, row_scores, strict=True):
            if slot < 0 or ids[slot] is None:
                continue
            hit = Hit(ids[slot], score)
            if slot in details:
                text, meta = details[slot]
                hit.text = text if "text" in include else None
                hit.metadata = json.loads(meta) if "metadata" in include else {}
            if want_vector:
                hit.vector = np.array(vectors[slot])
            hits.append(hit)
        out.append(hits)
    return out
