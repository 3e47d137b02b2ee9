"""Hybrid embedder: weighted concatenation of real models (TF-IDF, MiniLM, GloVe)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import embedlab
from embedlab.data import sample_texts
from embedlab.embedders.base import l2_normalize
from embedlab.embedders.hybrid import HybridEmbedder
from embedlab.errors import InputError, NotFittedError

TEXTS = sample_texts()


@pytest.fixture(scope="module")
def tfidf() -> embedlab.Embedder:
    return embedlab.load("tfidf").fit(TEXTS)


def cosines(matrix: np.ndarray) -> np.ndarray:
    unit = l2_normalize(matrix)
    return unit @ unit.T


def test_dot_product_is_weighted_sum_of_part_cosines(tfidf, minilm, glove) -> None:
    hybrid = HybridEmbedder([tfidf, minilm, glove], weights=[2, 5, 3])
    vectors = hybrid.embed(TEXTS)

    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), tfidf.dim + minilm.dim + glove.dim)
    expected = (
        0.2 * cosines(tfidf.embed(TEXTS))
        + 0.5 * cosines(minilm.embed(TEXTS))
        + 0.3 * cosines(glove.embed(TEXTS))
    )
    np.testing.assert_allclose(vectors @ vectors.T, expected, atol=1e-5)
    # every sample text has known words, so every part is non-zero and the vectors are unit length
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # column blocks: each part's unit vector scaled by sqrt(weight)
    block = vectors[:, tfidf.dim : tfidf.dim + minilm.dim]
    np.testing.assert_allclose(block, math.sqrt(0.5) * l2_normalize(minilm.embed(TEXTS)), atol=1e-6)
    assert hybrid.weights == pytest.approx({"tfidf": 0.2, "minilm": 0.5, "glove": 0.3})
    assert list(hybrid.parts) == ["tfidf", "minilm", "glove"]


def test_only_relative_weights_matter_and_default_is_equal(tfidf, glove) -> None:
    by_list = HybridEmbedder([tfidf, glove], weights=[1, 3]).embed(TEXTS[:5])
    by_dict = HybridEmbedder(
        {"words": glove, "terms": tfidf}, weights={"terms": 0.25, "words": 0.75}
    )
    np.testing.assert_allclose(by_dict.embed(TEXTS[:5])[:, glove.dim :], by_list[:, : tfidf.dim])
    equal = HybridEmbedder([tfidf, glove])
    assert equal.weights == {"tfidf": 0.5, "glove": 0.5}
    assert equal.name == "hybrid(tfidf=0.5,glove=0.5)"


def test_a_part_with_a_zero_vector_counts_as_cosine_zero(tfidf, glove) -> None:
    hybrid = HybridEmbedder([tfidf, glove], weights=[0.4, 0.6])
    vectors = hybrid.embed(["giraffe", "the weather is sunny"])  # giraffe: no TF-IDF term
    assert not vectors[0, : tfidf.dim].any()
    assert np.linalg.norm(vectors[0]) == pytest.approx(math.sqrt(0.6), abs=1e-6)


def test_save_load_round_trip_gives_identical_vectors(tfidf, minilm, tmp_path) -> None:
    hybrid = HybridEmbedder([tfidf, minilm], weights=[0.3, 0.7])
    folder = hybrid.save(tmp_path / "hybrid")

    meta = json.loads((folder / "embedlab.json").read_text())
    assert meta["method"] == "hybrid" and meta["params"] == {"weights": [0.3, 0.7]}
    assert [(p["name"], p["method"], p["weight"]) for p in meta["parts"]] == [
        ("tfidf", "tfidf", pytest.approx(0.3)),
        ("minilm", "transformer", pytest.approx(0.7)),
    ]
    for part in meta["parts"]:  # each part is a model folder of its own
        assert (
            json.loads((folder / part["folder"] / "embedlab.json").read_text())["dim"]
            == part["dim"]
        )

    loaded = embedlab.load(folder)
    assert isinstance(loaded, HybridEmbedder)
    assert loaded.name == hybrid.name and loaded.dim == hybrid.dim
    np.testing.assert_array_equal(loaded.embed(TEXTS), hybrid.embed(TEXTS))
    reweighted = embedlab.load(folder, weights=[1, 1])  # weights need no refit
    assert reweighted.weights == {"tfidf": 0.5, "minilm": 0.5}


def test_unfitted_part_raises_until_the_hybrid_is_fitted(glove) -> None:
    hybrid = HybridEmbedder([embedlab.load("tfidf"), glove])
    assert not hybrid.is_fitted
    with pytest.raises(
        NotFittedError, match=r"part 'tfidf' of the hybrid .* not been fitted"
    ) as err:
        hybrid.embed(TEXTS[:2])
    assert "fit(corpus)" in str(err.value)
    with pytest.raises(NotFittedError):
        hybrid.save("never-written")

    assert hybrid.fit(TEXTS) is hybrid and hybrid.is_fitted
    assert hybrid.embed(TEXTS[:2]).shape == (2, hybrid.parts["tfidf"].dim + 50)


def test_fit_keeps_fitted_parts_and_refuses_a_generator_for_two(tfidf) -> None:
    fitted_vocab = tfidf.vocabulary
    hybrid = HybridEmbedder([tfidf, embedlab.load("count")])
    hybrid.fit(TEXTS[:5])
    assert tfidf.vocabulary == fitted_vocab  # already fitted: kept
    assert hybrid.parts["count"].dim < tfidf.dim

    two = HybridEmbedder([embedlab.load("tfidf"), embedlab.load("count")])
    with pytest.raises(InputError, match="generator can be read only once"):
        two.fit(t for t in TEXTS)
    two.fit(TEXTS)
    assert two.is_fitted


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([-1, 1], "positive finite number, got -1"),
        ([0, 1], "positive finite number, got 0"),
        ([float("nan"), 1], "positive finite number, got nan"),
        ([float("inf"), 1], "positive finite number"),
        ([True, 1], "positive finite number, got True"),
        (["0.5", 1], "positive finite number, got '0.5'"),
        ([1], "1 weights for 2 hybrid parts"),
        ([1, 2, 3], "3 weights for 2 hybrid parts"),
        ({"tfidf": 1}, "no weight for 'glove'"),
        ({"tfidf": 1, "glove": 1, "bm25": 1}, "no part named 'bm25'"),
        ("0.5", "weights must be a list or a dict"),
    ],
)
def test_bad_weights_are_refused(tfidf, glove, weights, message) -> None:
    with pytest.raises(InputError, match=message):
        HybridEmbedder([tfidf, glove], weights=weights)
    hybrid = HybridEmbedder([tfidf, glove])
    with pytest.raises(InputError, match=message):
        hybrid.set_params(weights=weights)
    assert hybrid.weights == {"tfidf": 0.5, "glove": 0.5}  # unchanged


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([], "needs at least one part"),
        ([42], "is a int, not an Embedder"),
        ("tfidf", "list or dict"),
    ],
)
def test_bad_parts_are_refused(parts, message) -> None:
    with pytest.raises(InputError, match=message):
        HybridEmbedder(parts)


def test_parts_by_spec_and_duplicate_names(tfidf) -> None:
    hybrid = HybridEmbedder([tfidf, "glove-50d", tfidf])
    assert list(hybrid.parts) == ["tfidf", "glove", "tfidf-2"]
    assert hybrid.dim == 2 * tfidf.dim + 50


def test_embed_tokens_delegates_to_the_first_part(tfidf, glove) -> None:
    hybrid = HybridEmbedder([glove, tfidf], weights=[0.5, 0.5])
    walk = hybrid.embed_tokens(TEXTS[0])
    assert walk.tokens == glove.embed_tokens(TEXTS[0]).tokens
    assert walk.model == hybrid.name
    np.testing.assert_allclose(walk.vector, hybrid.embed(TEXTS[0]), atol=1e-6)
    assert "part 'glove'" in walk.notes[-1]


def test_clone_gives_an_unfitted_copy(tfidf) -> None:
    from sklearn.base import clone

    hybrid = HybridEmbedder([tfidf, embedlab.load("count").fit(TEXTS)], weights=[1, 2])
    copy = clone(hybrid)
    assert not copy.is_fitted and copy.get_params()["weights"] == [1, 2]
    copy.fit(TEXTS)
    np.testing.assert_allclose(copy.embed(TEXTS[:3]), hybrid.embed(TEXTS[:3]), atol=1e-6)
