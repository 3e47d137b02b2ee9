"""Quantized storage keeps recall through rescoring, and takes the memory it says it takes.

Vectors are grown from real MiniLM sentence embeddings (clustered like real data); uniform noise
would make every approximate index look broken and prove nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.store import UnsupportedError, bytes_per_vector

N = 4_000
K = 10


@pytest.fixture()
def local(tmp_path):
    """Collections in folders (the in-memory index details are the local backend's)."""
    from embedlab.store import create_collection

    made = []

    def factory(name, **options):
        made.append(create_collection(tmp_path / name, **options))
        return made[-1]

    yield factory
    for collection in made:
        collection.close()


@pytest.fixture(scope="module")
def data(sentence_vectors, clustered_vectors, ground_truth):
    base = clustered_vectors(sentence_vectors, N, seed=0)
    queries = clustered_vectors(sentence_vectors, 100, seed=1)
    return base, queries, ground_truth(queries, base, K)


def recall(collection, queries, truth, **options) -> float:
    found = collection.search_batch(queries, k=K, include=(), **options)
    return float(
        np.mean(
            [
                len({int(h.id) for h in hits} & set(t.tolist())) / K
                for hits, t in zip(found, truth, strict=True)
            ]
        )
    )


def fill(collection, base):
    collection.add(vectors=base, ids=[str(i) for i in range(len(base))], commit_every=N)
    collection.build_index()


@pytest.mark.parametrize("storage", ["float32", "float16", "int8", "binary"])
def test_local_recall_per_storage(local, data, storage):
    base, queries, truth = data
    col = local(f"q{storage}", dim=384, storage=storage, index="hnsw")
    fill(col, base)
    assert recall(col, queries, truth) >= 0.95
    memory = col.info()["index"]["memory_bytes"]
    assert memory["codes"] == N * bytes_per_vector(storage, 384)
    assert memory["graph"] > 0
    if storage == "binary":
        # Without rescoring the bits alone rank poorly: rescoring is what keeps recall.
        assert recall(col, queries, truth, rescore=1) < 0.8


def test_binary_flat_scan_needs_no_graph(local, data):
    base, queries, truth = data
    col = local("qbinflat", dim=384, storage="binary", index="flat")
    fill(col, base)
    assert recall(col, queries, truth) >= 0.95
    assert col.info()["index"]["memory_bytes"] == {"codes": N * 48, "graph": 0}


def test_memory_per_vector_report(local):
    col = local("qreport", dim=384, storage="binary")
    report = col.info()
    assert report["bytes_per_vector_by_storage"] == {
        "float32": 1536,
        "float16": 768,
        "int8": 384,
        "binary": 48,
    }
    assert report["bytes_per_vector"] * 32 == report["full_precision_on_disk_bytes_per_vector"]


@pytest.mark.parametrize("storage", ["float16", "binary"])
def test_postgres_recall_with_rescoring(pg_dsn, data, storage):
    from embedlab.store import create_collection

    base, queries, truth = data
    with create_collection(f"{pg_dsn}#pg_{storage}", dim=384, storage=storage, index="hnsw") as col:
        fill(col, base)
        assert recall(col, queries, truth) >= 0.95
        if storage == "binary":
            assert recall(col, queries, truth, rescore=1) < 0.8
        assert col.info()["index"]["mode"] == "approximate"


def test_postgres_refuses_int8(pg_dsn):
    from embedlab.store import create_collection

    with pytest.raises(UnsupportedError, match="float16"):
        create_collection(f"{pg_dsn}#pg_int8", dim=384, storage="int8")


@pytest.mark.parametrize("storage", ["float32", "binary"])
def test_filtered_approximate_search(make, data, ground_truth, storage):
    """Filters inside the HNSW walk (faiss IDSelector / pgvector iterative scan): every result
    passes, none are lost, recall holds; a 10% filter too."""
    base, queries, _ = data
    n = 2_000
    col = make(f"filtered_{storage}", dim=384, storage=storage, index="hnsw", exact_threshold=100)
    metas = [{"even": i % 2 == 0, "bucket": i % 10} for i in range(n)]
    col.add(vectors=base[:n], ids=[str(i) for i in range(n)], metadatas=metas, commit_every=n)
    col.build_index()
    for where, keep in (({"even": True}, np.arange(0, n, 2)), ({"bucket": 3}, np.arange(3, n, 10))):
        truth = keep[ground_truth(queries, base[keep], K)]
        found = col.search_batch(queries, k=K, where=where, include=("metadata",))
        assert all(len(hits) == K for hits in found)
        assert all(
            h.metadata[next(iter(where))] == next(iter(where.values()))
            for hits in found
            for h in hits
        )
        got = [[int(h.id) for h in hits] for hits in found]
        assert (
            np.mean([len(set(g) & set(t)) / K for g, t in zip(got, truth.tolist(), strict=True)])
            >= 0.9
        )
