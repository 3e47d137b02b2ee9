"""Every collection operation, on both backends (a local folder and a real PostgreSQL)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from embedlab.store import (
    DimensionMismatchError,
    DuplicateIdError,
    ModelMismatchError,
    create_collection,
)
from embedlab.store.transfer import export_parquet, import_parquet

DOCS = [
    ("rates", "The central bank raised interest rates to fight inflation.", {"year": 2024}),
    ("mortgage", "Mortgage payments went up for many homeowners this spring.", {"year": 2023}),
    ("cat", "A cat slept all afternoon on the warm windowsill.", {"year": 2019}),
    ("football", "The striker scored twice in the second half of the match.", {"year": 2022}),
    ("python", "Python lists can be sorted in place with the sort method.", {"year": 2021}),
    ("river", "We had a picnic on the grassy river bank near the bridge.", {"year": 2020}),
]


@pytest.fixture()
def docs(make, minilm):
    col = make("docs", model=minilm)
    col.add([d[1] for d in DOCS], ids=[d[0] for d in DOCS], metadatas=[d[2] for d in DOCS])
    return col


def test_add_embeds_texts_and_get_returns_them(docs, minilm):
    assert docs.count() == len(DOCS) == len(docs)
    record = docs.get("cat")
    assert record.text == DOCS[2][1] and record.metadata == {"year": 2019}
    expected = minilm.embed([DOCS[2][1]], normalize=True)[0]
    assert np.allclose(record.vector, expected, atol=1e-5)
    assert [r.id for r in docs.get(["river", "nope", "rates"])] == ["river", "rates"]
    assert docs.get("nope") is None and "cat" in docs and "nope" not in docs
    assert docs.model == "minilm" and docs.dim == 384


def test_search_by_meaning(docs):
    hits = docs.search("Borrowing money became more expensive.", k=2)
    assert {h.id for h in hits} == {"rates", "mortgage"}
    assert hits[0].score >= hits[1].score and -1.0 <= hits[1].score <= 1.0
    assert hits[0].text and hits[0].metadata
    bare = docs.search("a sleepy pet", k=1, include=())
    assert bare[0].id == "cat" and bare[0].text is None


def test_batch_queries_match_single_queries(docs):
    queries = ["a sleepy pet", "sorting arrays in a programming language", "a goal in soccer"]
    batch = docs.search_batch(queries, k=3)
    assert [b[0].id for b in batch] == ["cat", "python", "football"]
    for query, hits in zip(queries, batch, strict=True):
        assert [h.id for h in docs.search(query, k=3)] == [h.id for h in hits]


def test_search_ids_is_search_batch_without_objects(docs):
    queries = ["a sleepy pet", "a goal in soccer"]
    ids, scores = docs.search_ids(queries, k=3)
    batch = docs.search_batch(queries, k=3, include=())
    assert ids == [[h.id for h in hits] for hits in batch]
    assert np.allclose(scores, [[h.score for h in hits] for hits in batch], atol=1e-5)
    ids, scores = docs.search_ids(queries[:1], k=10, where={"year": {"$gte": 2022}})
    assert len(ids[0]) == 3 and scores.shape == (1, 10) and np.isnan(scores[0, 3:]).all()


def test_metadata_filters(docs):
    hits = docs.search("money", k=10, where={"year": {"$gte": 2022}})
    assert {h.id for h in hits} == {"rates", "mortgage", "football"}
    assert docs.count({"year": {"$in": [2019, 2020]}}) == 2
    assert docs.count({"$or": [{"year": 2019}, {"year": {"$lt": 2021, "$gt": 2019}}]}) == 2
    assert docs.search("money", k=3, where={"year": 1999}) == []


def test_upsert_replaces_and_delete_removes(docs, minilm):
    docs.upsert("A dog chased a ball across the park.", ids=["cat"], metadatas=[{"year": 2025}])
    assert docs.count() == len(DOCS)
    assert docs.get("cat").metadata == {"year": 2025}
    assert docs.search("a puppy playing fetch", k=1)[0].id == "cat"
    dog = minilm.embed(["A dog chased a ball across the park."], normalize=True)[0]
    assert np.allclose(docs.get("cat").vector, dog, atol=1e-5)  # the old vector is gone
    assert docs.search("a sleepy cat on a windowsill", k=1)[0].score < 0.3
    assert docs.delete(["cat", "missing"]) == 1
    assert docs.count() == len(DOCS) - 1 and docs.get("cat") is None
    assert all(h.id != "cat" for h in docs.search("a puppy playing fetch", k=10))
    assert docs.delete(where={"year": {"$lt": 2022}}) == 2  # python, river
    assert sorted(r.id for r in docs.iter()) == ["football", "mortgage", "rates"]


def test_add_refuses_existing_ids(docs):
    with pytest.raises(DuplicateIdError, match="upsert"):
        docs.add(["Another text about cats."], ids=["cat"])
    with pytest.raises(DuplicateIdError, match="more than once"):
        docs.add(["one", "two"], ids=["x", "x"])
    assert docs.count() == len(DOCS)


def test_precomputed_vectors_and_refusals(make, minilm):
    col = make("vecs", model=minilm)
    vectors = minilm.embed(["first text", "second text"])
    col.add(vectors=vectors, ids=["a", "b"], model="minilm")
    assert col.count() == 2
    assert np.isclose(np.linalg.norm(col.get("a").vector), 1.0, atol=1e-5)  # cosine: normalised
    with pytest.raises(DimensionMismatchError, match="dimension 50"):
        col.add(vectors=np.ones((1, 50), dtype=np.float32), ids=["c"])
    with pytest.raises(ModelMismatchError, match="glove"):
        col.add(vectors=vectors[:1], ids=["c"], model="glove-50d")
    with pytest.raises(DimensionMismatchError):
        col.search(np.ones(50, dtype=np.float32))
    with pytest.raises(ModelMismatchError):
        type(col)(col.backend, embedder="glove-50d")
    assert col.count() == 2


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_metrics_match_brute_force(make, metric, sentence_vectors, ground_truth):
    rng = np.random.default_rng(1)
    vectors = sentence_vectors[:200] * rng.uniform(0.5, 2.0, (200, 1)).astype(np.float32)
    col = make(f"m{metric}", dim=384, metric=metric)
    col.add(vectors=vectors, ids=[str(i) for i in range(200)])
    queries = sentence_vectors[200:210]
    stored = (
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if metric == "cosine" else vectors
    )
    truth = ground_truth(queries, stored, 5, metric)
    for query, expected in zip(queries, truth, strict=True):
        hits = col.search(query, k=5)
        assert [int(h.id) for h in hits] == expected.tolist()
        best = stored[expected[0]]
        want = float(np.linalg.norm(query - best)) if metric == "l2" else float(query @ best)
        assert hits[0].score == pytest.approx(want, rel=1e-4, abs=1e-4)


def test_hybrid_search_keyword_and_meaning(make, minilm):
    col = make("hyb", model=minilm)
    texts = {
        "code": "Error E1234 appears when the configuration file is missing.",
        "other_error": "The program crashed with an unexpected failure at startup.",
        "cook": "Simmer the tomato sauce slowly and season it with basil.",
        "chef": "A good cook tastes the food while preparing the meal.",
        "ship": "The cargo ship left the harbour at dawn.",
    }
    col.add(list(texts.values()), ids=list(texts))
    # An exact token only keyword search knows: BM25/full-text must carry it to the top.
    for fusion in ("rrf", "weighted"):
        assert col.hybrid_search("E1234", k=3, fusion=fusion)[0].id == "code"
    assert col.keyword_search("E1234", k=3)[0].id == "code"
    # No shared word at all: only the dense side can find it, and it must win.
    hits = col.hybrid_search("how to prepare dinner in the kitchen", k=2)
    assert hits[0].id in {"chef", "cook"} and {h.id for h in hits} == {"chef", "cook"}
    assert col.hybrid_search("E1234 crash", k=5, where={"_": {"$exists": True}}) == []


def test_export_import_moves_between_backends(docs, tmp_path, pg_dsn, backend):
    out = tmp_path / "docs.parquet"
    assert export_parquet(docs, out) == len(DOCS)
    target = str(tmp_path / "moved") if backend == "postgres" else f"{pg_dsn}#moved_docs"
    moved = import_parquet(out, target, storage="float16")
    try:
        assert moved.count() == len(DOCS) and moved.model == "minilm"
        assert moved.config.storage == "float16" and moved.backend.kind != docs.backend.kind
        original = {r.id: r for r in docs.iter()}
        for record in moved.iter():
            assert record.text == original[record.id].text
            assert record.metadata == original[record.id].metadata
            assert np.allclose(record.vector, original[record.id].vector, atol=1e-6)
        assert moved.search("Borrowing money became more expensive.", k=1)[0].id in (
            "rates",
            "mortgage",
        )
    finally:
        moved.close()


def test_reopen_finds_everything(docs, reopen):
    docs.close()
    with reopen(docs) as again:
        assert again.count() == len(DOCS) and again.model == "minilm"
        assert again.search("a sleepy pet", k=1)[0].id == "cat"


def test_local_compaction_after_many_deletes(tmp_path, sentence_vectors, clustered_vectors):
    from embedlab.store import create_collection, open_collection

    data = clustered_vectors(sentence_vectors, 3_000, seed=3)
    col = create_collection(tmp_path / "compact", dim=384, index="hnsw")
    col.add(
        vectors=data, ids=[str(i) for i in range(3_000)], metadatas=[{"i": i} for i in range(3_000)]
    )
    assert col.search(data[2_500], k=1)[0].id == "2500"  # builds the index
    other = open_collection(tmp_path / "compact")  # another reader with its own map and index
    assert other.search(data[10], k=1)[0].id == "10"
    assert col.info()["generation"] == 1
    col.delete(where={"i": {"$lt": 2_000}})  # two thirds dead: compaction runs by itself
    info = col.info()
    assert info["generation"] == 2 and info["slots"] == info["count"] == 1_000
    files = list((tmp_path / "compact").glob("vectors-*.f32"))
    assert [f.stat().st_size for f in files] == [1_000 * 384 * 4]
    for reader in (col, other):
        assert reader.count() == 1_000
        assert reader.search(data[2_500], k=1)[0].id == "2500"
        assert all(int(h.id) >= 2_000 for h in reader.search(data[5], k=20))
        assert reader.get("2999").metadata == {"i": 2999}
    col.verify()
    other.close()
    col.close()


def test_exact_search_of_many_queries_is_the_same_in_bounded_memory(tmp_path):
    """Thousands of queries at once (hard-negative mining does this) give exactly the results of
    small batches, with memory bounded by a block of queries, not queries x rows (45,000
    queries against 45,000 rows once took 22 GB)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40_000, 8)).astype(np.float32)
    queries = rng.standard_normal((5_000, 8)).astype(np.float32)
    with create_collection(tmp_path / "many", dim=8, index="flat") as col:
        col.add(ids=[str(i) for i in range(len(vectors))], vectors=vectors)
        tracemalloc.start()
        ids, scores = col.search_ids(queries, k=5, exact=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        small_ids, small_scores = col.search_ids(queries[-300:], k=5, exact=True)
    assert ids[-300:] == small_ids
    np.testing.assert_allclose(scores[-300:], small_scores, rtol=1e-6)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # cosine, the default
    best = np.argsort(-(queries[:3] @ unit.T), axis=1)[:, :5]
    assert [[int(i) for i in row] for row in ids[:3]] == best.tolist()
    assert peak < 250e6, f"{peak / 1e6:.0f} MB"  # 5,000 x 32,768 keys alone would be 655 MB
