"""``search(..., explain=True)``: each hit's score split over token pairs, keyword terms, and the
two sides of a hybrid score, on real models and real collections (local and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import embedlab
from cli_helpers import invoke_cli
from embedlab.errors import InputError
from embedlab.store import create_collection
from embedlab.store.collection import ExplainedHit
from embedlab.store.fusion import RRF_K

TEXTS = [
    "A man plays the guitar on stage.",
    "The bank raised interest rates again.",
    "A cat sleeps on the warm sofa.",
    "Someone is playing a violin in the park.",
    "Stock markets fell after the rate decision.",
    "The guitar shop sells old instruments.",
    "Heavy rain flooded the river banks.",
]


@pytest.fixture(scope="module")
def static() -> embedlab.Embedder:
    return embedlab.load("static-minilm")


def test_dense_pairs_add_up_to_each_hit_score(make, glove) -> None:
    """Both backends: the pairs of a mean-pooled model sum to the hit's cosine within 1e-5."""
    col = make("explained", model=glove)
    col.add(TEXTS)
    hits = col.search("guitar music", k=4, explain=True)
    assert len(hits) == 4
    for hit in hits:
        assert isinstance(hit, ExplainedHit)
        e = hit.explanation
        assert e.mode == "dense" and e.dense is not None and not e.dense.approximate
        assert abs(e.total - hit.score) < 1e-5, (hit.text, e.total, hit.score)
        assert abs(float(e.contributions.sum()) - hit.score) < 1e-5
        assert e.notes == []
    top = hits[0].explanation.top_pairs(3)
    assert hits[0].text is not None and "guitar" in hits[0].text
    assert "guitar" in (top[0][0], top[0][1])
    data = json.loads(json.dumps(hits[0].to_dict()))
    assert data["explanation"]["top_pairs"][0]["contribution"] == pytest.approx(top[0][2], abs=1e-6)
    assert data["explanation"]["top_tokens"][0]["token"] == "guitar"

    keyword = col.keyword_search("interest rates", k=2, explain=True)
    assert keyword[0].text == TEXTS[1] and keyword[0].explanation.terms == ["interest", "rates"]
    postgres = col.backend.kind == "postgres"
    assert any("stems" in n for n in keyword[0].explanation.notes) == postgres
    for fusion in ("rrf", "weighted"):
        for hit in col.hybrid_search("guitar rates", k=4, fusion=fusion, explain=True):
            e = hit.explanation
            assert sum(e.sides.values()) == pytest.approx(hit.score, abs=1e-12)
            if e.fusion["dense_score"] is not None:
                assert abs(e.total - e.fusion["dense_score"]) < 1e-5


def test_text_is_fetched_for_the_explanation_and_vectors_refused(tmp_path: Path, static) -> None:
    with create_collection(tmp_path / "c", model=static) as col:
        col.add(TEXTS)
        hits = col.search("a violin in the park", k=2, include=("metadata",), explain=True)
        assert hits[0].text == TEXTS[3]
        assert abs(hits[0].explanation.total - hits[0].score) < 1e-5
        assert not isinstance(col.search("violin", k=1)[0], ExplainedHit)
        with pytest.raises(InputError, match="text query"):
            col.search(static.embed(["violin"])[0], k=1, explain=True)


def test_int8_storage_says_its_score_is_approximate(tmp_path: Path, glove) -> None:
    with create_collection(tmp_path / "q", model=glove, storage="int8", rescore=1) as col:
        col.add(TEXTS)
        for hit in col.search("interest rates at the bank", k=3, explain=True):
            e = hit.explanation
            assert any("int8 storage" in n and "approximate" in n for n in e.notes)
            assert abs(e.total - e.exact_score) < 1e-5  # the pairs sum to the float32 score
            assert abs(hit.score - e.exact_score) < 0.05


def test_raw_dot_product_is_split_too(tmp_path: Path, glove) -> None:
    """metric=dot without normalisation: each pair's cosine share times |q| |d|."""
    with create_collection(tmp_path / "d", model=glove, metric="dot", normalize=False) as col:
        col.add(TEXTS)
        hits = col.search("guitar music", k=3, explain=True)
        for hit in hits:
            assert abs(hit.explanation.total - hit.score) < 1e-5 * max(1.0, abs(hit.score))
            assert hit.explanation.scale > 1.0
        vector = glove.embed(["guitar music"])[0]
        assert hits[0].score == pytest.approx(float(vector @ glove.embed([hits[0].text])[0]), 1e-5)


def test_keyword_search_explains_its_matching_terms(tmp_path: Path, glove) -> None:
    with create_collection(tmp_path / "k", model=glove) as col:
        col.add(TEXTS)
        hits = col.keyword_search("interest rates of the bank", k=3, explain=True)
        assert hits[0].text == TEXTS[1]
        assert hits[0].explanation.terms == ["interest", "rates", "bank"]
        assert all(h.explanation.terms for h in hits)  # BM25 only returns texts with a term
        assert hits[0].to_dict()["explanation"]["terms"] == ["interest", "rates", "bank"]


def test_hybrid_rrf_sides_are_each_lists_reciprocal_rank(tmp_path: Path, glove) -> None:
    with create_collection(tmp_path / "h", model=glove) as col:
        col.add(TEXTS)
        query = "guitar rates"
        dense = [h.id for h in col.search(query, k=len(TEXTS))]
        keyword = [h.id for h in col.keyword_search(query, k=len(TEXTS))]
        hits = col.hybrid_search(query, k=5, explain=True)
        plain = col.hybrid_search(query, k=5)
        assert [h.id for h in hits] == [h.id for h in plain]
        for hit in hits:
            e = hit.explanation
            assert e.mode == "hybrid"
            assert sum(e.sides.values()) == pytest.approx(hit.score, abs=1e-12)
            want_dense = 1 / (RRF_K + dense.index(hit.id) + 1) if hit.id in dense else 0.0
            want_kw = 1 / (RRF_K + keyword.index(hit.id) + 1) if hit.id in keyword else 0.0
            assert e.sides == pytest.approx({"dense": want_dense, "keyword": want_kw})
            assert sum(e.shares().values()) == pytest.approx(1.0)
            assert bool(e.terms) == (hit.id in keyword)
            assert abs(e.total - e.fusion["dense_score"]) < 1e-5  # pairs: the dense side's score
        only_dense = [h for h in hits if h.id not in keyword]
        assert only_dense and all(h.explanation.shares()["dense"] == 1.0 for h in only_dense)


def test_hybrid_weighted_sides_add_up_to_the_fused_score(tmp_path: Path, glove) -> None:
    with create_collection(tmp_path / "w", model=glove) as col:
        col.add(TEXTS)
        for weight in (0.3, 1.0):
            hits = col.hybrid_search(
                "bank rates", k=4, fusion="weighted", weight=weight, explain=True
            )
            for hit in hits:
                e = hit.explanation
                assert e.fusion["method"] == "weighted" and e.fusion["weight"] == weight
                assert sum(e.sides.values()) == pytest.approx(hit.score, abs=1e-12)
                assert 0.0 <= e.sides["dense"] <= weight + 1e-12
                if weight == 1.0:
                    assert e.sides["keyword"] == 0.0
        data = json.loads(json.dumps(hits[0].to_dict()))
        assert set(data["explanation"]["shares"]) == {"dense", "keyword"}
        assert np.isclose(sum(data["explanation"]["sides"].values()), hits[0].score)


def test_transformer_mean_pooling_adds_up_in_a_collection(tmp_path: Path) -> None:
    """MiniLM in float32 torch: each hit's pairs add up to its cosine within 1e-5."""
    minilm = embedlab.load("minilm", runtime="torch")
    with create_collection(tmp_path / "t", model=minilm) as col:
        col.add(TEXTS)
        hits = col.search("Someone plays the guitar.", k=3, explain=True)
        for hit in hits:
            assert abs(hit.explanation.total - hit.score) < 1e-5, hit.explanation.notes
        assert "guitar" in hits[0].explanation.top_pairs(1)[0][:2]


def test_cli_search_explain(tmp_path: Path) -> None:
    source = tmp_path / "texts.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS) + "\n", encoding="utf-8")
    where = tmp_path / "col"
    assert invoke_cli("collection", "create", where, "-m", "glove-50d").returncode == 0
    assert invoke_cli("collection", "add", where, source).returncode == 0
    dense = invoke_cli("collection", "search", where, "guitar music", "-k", "2", "--explain")
    assert dense.returncode == 0, dense.stderr
    lines = dense.stdout.splitlines()
    assert "pairs: guitar~guitar" in lines[1] and "add up to" in lines[1]
    hybrid = invoke_cli(
        "collection", "search", where, "bank rates", "-k", "2", "--hybrid", "--explain"
    )
    assert hybrid.returncode == 0, hybrid.stderr
    assert "rrf fusion: dense" in hybrid.stdout and "terms: bank, rates" in hybrid.stdout
    as_json = invoke_cli(
        "collection", "search", where, "bank rates", "--keyword", "--explain", "--json"
    )
    data = json.loads(as_json.stdout)
    assert data[0]["explanation"]["terms"] == ["bank", "rates"]
    plain = json.loads(invoke_cli("collection", "search", where, "bank", "--json").stdout)
    assert "explanation" not in plain[0]
