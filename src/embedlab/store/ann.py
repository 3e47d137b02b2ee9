"""The search index of the local backend: faiss, in four storage types, plus exact search.

Why faiss: on the same 384-d clustered vectors (M=16, ef_construction=128, one thread) faiss HNSW
answered 2-3x more queries per second than usearch at equal recall (bench/search.py), and it is
the only one of the three whose HNSW search takes an id filter *inside* the graph walk
(``IDSelectorBitmap``), which gives both tombstones for deleted rows and metadata filters
without losing results to post-filtering. Labels are the collection's row slots, so nothing maps
between faiss and storage.

Storage types keep the vectors in memory as float32 (IndexHNSWFlat), float16 and int8 (scalar
quantizers, IndexHNSWSQ) or one bit a dimension (IndexBinaryHNSW on the signs). Quantized indexes
return ``rescore`` times more candidates, which the caller rescores exactly against the
full-precision vectors kept on disk.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.store.config import CollectionConfig, bytes_per_vector

TRAIN_SAMPLE = 65_536  # rows used to fit the int8 quantizer's per-dimension ranges
CHUNK_ROWS = 32_768  # rows per step of exact search and of index building
# queries per step of exact search: the keys of 256 queries x 32,768 rows and their partition
# take about 100 MB (45,000 queries at once took 22 GB, and the OOM killer, when fine-tuning
# mined hard negatives)
QUERY_BLOCK = 256


def _faiss() -> Any:
    import faiss

    return faiss


@contextlib.contextmanager
def _one_thread(enabled: bool) -> Iterator[None]:
    """Run faiss on one OpenMP thread for a few queries: its binary HNSW spends ~20 ms starting
    a thread team per call (measured: 0.2 ms a query on one thread, 19 ms on two)."""
    if not enabled:
        yield
        return
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def binarize(vectors: np.ndarray) -> np.ndarray:
    """One bit a dimension (1 where positive), packed into bytes, as faiss binary indexes want."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


def selector_bitmap(allowed: np.ndarray) -> np.ndarray:
    """faiss ``IDSelectorBitmap`` layout: bit ``i & 7`` of byte ``i >> 3``."""
    return np.packbits(allowed.astype(bool), bitorder="little")


class AnnIndex:
    """A faiss index whose labels are row slots ``0..ntotal-1``, in one storage type.

    ``kind`` is ``"hnsw"`` (graph) or ``"flat"`` (a scan over quantized codes, no graph memory).
    """

    def __init__(self, config: CollectionConfig, kind: str = "hnsw", index: Any = None) -> None:
        self.config = config
        self.kind = kind
        self.storage = config.storage
        self.dim = config.dim
        self.index = index if index is not None else self._new()
        self._params: dict[int, Any] = {}

    # -- construction --------------------------------------------------------------------------
    def _new(self) -> Any:
        faiss = _faiss()
        c = self.config
        metric = faiss.METRIC_L2 if c.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if self.storage == "binary":
            bits = 8 * ((self.dim + 7) // 8)
            if self.kind == "flat":
                return faiss.IndexBinaryFlat(bits)
            index = faiss.IndexBinaryHNSW(bits, c.m)
        elif self.storage == "float32":
            index = (
                faiss.IndexFlat(self.dim, metric)
                if self.kind == "flat"
                else faiss.IndexHNSWFlat(self.dim, c.m, metric)
            )
        else:
            qtype = {
                "float16": faiss.ScalarQuantizer.QT_fp16,
                "int8": faiss.ScalarQuantizer.QT_8bit,
            }[self.storage]
            index = (
                faiss.IndexScalarQuantizer(self.dim, qtype, metric)
                if self.kind == "flat"
                else faiss.IndexHNSWSQ(self.dim, qtype, c.m, metric)
            )
        if self.kind == "hnsw":
            index.hnsw.efConstruction = c.ef_construction
            index.hnsw.efSearch = c.ef_search
        return index

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_trained(self) -> bool:
        return bool(self.index.is_trained)

    def train(self, sample: np.ndarray) -> None:
        """Fit the int8 ranges (other storage types need no training)."""
        if not self.is_trained:
            self.index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; their labels continue from ``ntotal`` (the caller adds slots in order)."""
        if len(vectors) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.is_trained:
            self.train(vectors[:TRAIN_SAMPLE])
        self.index.add(binarize(vectors) if self.storage == "binary" else vectors)

    # -- search --------------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, n: int, *, ef: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels ``(m, n)`` (``-1`` where fewer) and higher-is-better approximate keys.

        ``allowed`` is a boolean mask over labels (live rows that pass the filter); the graph
        walk skips the others while still travelling through them, so results are not lost.
        """
        faiss = _faiss()
        ef = max(ef, n)
        bitmap = None
        if allowed is None:
            params = self._params.get(ef)  # built once per ef: faiss objects cost ~40 us each
            if params is None:
                params = self._params[ef] = self._search_params(ef)
        else:
            params = self._search_params(ef)
            ntotal = self.ntotal
            bitmap = selector_bitmap(allowed[:ntotal])
            params.sel = faiss.IDSelectorBitmap(ntotal, faiss.swig_ptr(bitmap))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        with _one_thread(self.storage == "binary" and len(queries) < 4):
            if self.storage == "binary":
                dist, labels = self.index.search(binarize(queries), n, params=params)
                keys = -dist.astype(np.float32)
            else:
                dist, labels = self.index.search(queries, n, params=params)
                keys = -dist if self.config.metric == "l2" else dist
        del bitmap  # kept alive until faiss is done with it
        return labels, keys

    def _search_params(self, ef: int) -> Any:
        faiss = _faiss()
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = ef
            return params
        return faiss.SearchParameters()

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index to ``path`` and fsync it (the caller renames it into place)."""
        faiss = _faiss()
        if self.storage == "binary":
            faiss.write_index_binary(self.index, str(path))
        else:
            faiss.write_index(self.index, str(path))
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @classmethod
    def load(cls, path: Path, config: CollectionConfig, kind: str) -> AnnIndex:
        faiss = _faiss()
        if config.storage == "binary":
            index = faiss.read_index_binary(str(path))
        else:
            index = faiss.read_index(str(path))
        return cls(config, kind, index)

    def memory(self) -> dict[str, int]:
        """Bytes the index holds in memory: vector codes and graph links, separately."""
        faiss = _faiss()
        codes = self.ntotal * bytes_per_vector(self.storage, self.dim)
        graph = 0
        if self.kind == "hnsw":
            hnsw = self.index.hnsw
            graph = (
                faiss.vector_to_array(hnsw.neighbors).nbytes
                + faiss.vector_to_array(hnsw.offsets).nbytes
                + faiss.vector_to_array(hnsw.levels).nbytes
            )
        return {"codes": codes, "graph": graph}


def exact_search(
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    metric: str,
    *,
    allowed: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` over ``vectors`` (a memory map is fine): slots and higher-is-better keys.

    Either scans everything in chunks (``allowed`` masks out deleted or filtered rows) or only
    the given ``rows``. Returns ``(m, k)`` arrays padded with slot ``-1`` and key ``-inf``.
    """
    m = len(queries)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if m > QUERY_BLOCK:  # a block of keys per step: m x CHUNK_ROWS would not fit in memory
        parts = [
            exact_search(
                queries[i : i + QUERY_BLOCK], vectors, k, metric, allowed=allowed, rows=rows
            )
            for i in range(0, m, QUERY_BLOCK)
        ]
        return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])
    best_slots = np.full((m, k), -1, dtype=np.int64)
    best_keys = np.full((m, k), -np.inf, dtype=np.float32)
    total = len(rows) if rows is not None else len(vectors)
    for start in range(0, total, CHUNK_ROWS):
        if rows is not None:
            slots = rows[start : start + CHUNK_ROWS]
            block = np.asarray(vectors[slots], dtype=np.float32)
        else:
            stop = min(start + CHUNK_ROWS, total)
            slots = np.arange(start, stop)
            block = np.asarray(vectors[start:stop], dtype=np.float32)
        keys = score_keys(queries, block, metric)
        if allowed is not None and rows is None:
            keys[:, ~allowed[slots]] = -np.inf
        best_slots, best_keys = _merge(best_slots, best_keys, slots, keys, k)
    best_slots[~np.isfinite(best_keys)] = -1
    return best_slots, best_keys


def score_keys(queries: np.ndarray, block: np.ndarray, metric: str) -> np.ndarray:
    """Higher-is-better keys: the dot product, or minus the squared L2 distance."""
    dots = queries @ block.T
    if metric != "l2":
        return dots
    sq = (block * block).sum(axis=1)[None, :] - 2 * dots + (queries * queries).sum(axis=1)[:, None]
    return -np.maximum(sq, 0)


def _merge(
    slots_a: np.ndarray, keys_a: np.ndarray, slots_b: np.ndarray, keys_b: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of a running top-``k`` (``(m, k)``) and a block's keys (``(m, n)``, its
    slots ``(n,)``): the block is cut to its own top ``k`` first, so no ``(m, k + n)`` copies."""
    n = keys_b.shape[1]
    if n > k:
        part = np.argpartition(keys_b, n - k, axis=1)[:, n - k :]
        keys_b, slots_b = np.take_along_axis(keys_b, part, axis=1), slots_b[part]
    else:
        slots_b = np.broadcast_to(slots_b, keys_b.shape)
    keys = np.concatenate([keys_a, keys_b], axis=1)
    slots = np.concatenate([slots_a, slots_b], axis=1)
    if keys.shape[1] > k:
        part = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        keys = np.take_along_axis(keys, part, axis=1)
        slots = np.take_along_axis(slots, part, axis=1)
    order = np.argsort(-keys, axis=1, kind="stable")
    return np.take_along_axis(slots, order, axis=1), np.take_along_axis(keys, order, axis=1)


def rescore(
    queries: np.ndarray, vectors: np.ndarray, candidates: np.ndarray, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Exact keys for each query's candidate slots (``-1`` = none), best ``k`` kept.

    Candidate rows are gathered from the memory map in file order, once for a block of queries,
    and scored with one batched product, so rescoring costs a few microseconds per candidate.
    """
    m, n = candidates.shape
    out_slots = np.full((m, k), -1, dtype=np.int64)
    out_keys = np.full((m, k), -np.inf, dtype=np.float32)
    block = max(1, 32_768 // max(n, 1))
    for start in range(0, m, block):
        cand = candidates[start : start + block]
        q = queries[start : start + block]
        valid = cand >= 0
        flat = np.where(valid, cand, 0).ravel()
        unique, inverse = np.unique(flat, return_inverse=True)
        rows = np.asarray(vectors[unique], dtype=np.float32)[inverse].reshape(*cand.shape, -1)
        dots = np.einsum("qd,qnd->qn", q, rows)
        if metric == "l2":
            keys = -np.maximum((rows * rows).sum(-1) - 2 * dots + (q * q).sum(-1, keepdims=True), 0)
        else:
            keys = dots
        keys = np.where(valid, keys, -np.inf).astype(np.float32)
        take = min(k, n)
        part = (
            np.argpartition(-keys, take - 1, axis=1)[:, :take]
            if n > take
            else np.arange(n)[None].repeat(len(q), 0)
        )
        part_keys = np.take_along_axis(keys, part, axis=1)
        order = np.argsort(-part_keys, axis=1, kind="stable")
        best = np.take_along_axis(part, order, axis=1)
        out_keys[start : start + len(q), :take] = np.take_along_axis(keys, best, axis=1)
        out_slots[start : start + len(q), :take] = np.take_along_axis(cand, best, axis=1)
    out_slots[~np.isfinite(out_keys)] = -1
    return out_slots, out_keys
