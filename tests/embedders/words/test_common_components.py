"""SIF's second step: the corpus's common component, fitted, saved and removed in embed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.embedders.words.vectors import WordVectorEmbedder, WordVectors
from embedlab.errors import InputError, NotFittedError


def first_direction(matrix: np.ndarray) -> np.ndarray:
    """The first principal direction, uncentred as in Arora et al.: the top right singular vector."""
    return np.linalg.svd(matrix.astype(np.float64), full_matrices=False)[2][0]


def test_the_first_principal_direction_is_removed(sample_texts: list[str]) -> None:
    plain = embedlab.load("glove-50d", pooling="sif")
    model = embedlab.load("glove-50d", pooling="sif", remove_components=1)
    assert not model.is_fitted
    with pytest.raises(NotFittedError, match="Call .fit\\(corpus\\) or .fit_common_components"):
        model.embed("the king")
    model.fit(sample_texts)

    before = plain.embed(sample_texts)
    direction = first_direction(before)
    assert abs(float(model.components[0] @ direction)) > 0.9999
    assert abs((before @ direction).mean()) > 1.0  # SIF averages share a large direction
    after = model.embed(sample_texts)
    assert abs((after @ direction).mean()) < 1e-5  # ... which is gone
    np.testing.assert_allclose(after, before - np.outer(before @ direction, direction), atol=1e-5)

    # unrelated texts stop looking alike: the mean cosine between texts drops
    def mean_cosine(m: np.ndarray) -> float:
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = unit @ unit.T
        return float(sims[~np.eye(len(m), dtype=bool)].mean())

    assert mean_cosine(after) < mean_cosine(before) - 0.2

    walk = model.embed_tokens(sample_texts[0])
    assert walk.pooling.endswith("minus its projection on 1 common component(s)")
    np.testing.assert_allclose(walk.vector, after[0], atol=1e-6)


def test_default_is_unchanged_and_components_round_trip(
    glove: WordVectorEmbedder, sample_texts: list[str], tmp_path: Path
) -> None:
    kv = glove.vectors
    words, vectors = kv.words[:20_000], np.asarray(kv.vectors[:20_000])
    default = WordVectorEmbedder(words, vectors, pooling="sif")
    assert default.components is None and "remove_components" not in default.params
    np.testing.assert_array_equal(default.fit(sample_texts).embed(sample_texts[:3]),
                                  WordVectorEmbedder(words, vectors, pooling="sif").embed(sample_texts[:3]))  # fmt: skip

    model = WordVectorEmbedder(words, vectors, pooling="sif", remove_components=2)
    corpus = tmp_path / "corpus.txt"  # a file is streamed like a list
    corpus.write_text("\n".join(sample_texts) + "\n\n", encoding="utf-8")
    model.fit(corpus)
    assert model.components.shape == (2, 50)
    np.testing.assert_allclose(model.components @ model.components.T, np.eye(2), atol=1e-5)
    folder = model.save(tmp_path / "sif")
    assert (folder / "components.npy").is_file()
    loaded = embedlab.load(folder)
    assert loaded.params["remove_components"] == 2
    np.testing.assert_array_equal(loaded.components, model.components)
    np.testing.assert_array_equal(loaded.embed(sample_texts), model.embed(sample_texts))
    with pytest.raises(InputError, match="'remove_components' of the word-vectors model"):
        embedlab.load(folder, remove_components=1)  # fitted with the model: not a load option


def test_components_errors(glove: WordVectorEmbedder, sample_texts: list[str]) -> None:
    kv = glove.vectors
    model = WordVectorEmbedder(kv.words[:5000], np.asarray(kv.vectors[:5000]), remove_components=1)
    with pytest.raises(InputError, match="remove_components must be a whole number"):
        WordVectorEmbedder(remove_components=-1)
    with pytest.raises(InputError, match="no word in the vocabulary|has a word in the vocabulary"):
        model.fit(["zzqx qqzx", "xxqz"])
    with pytest.raises(InputError, match="holds no texts"):
        model.fit(["", "  "])
    with pytest.raises(InputError, match="cannot remove 60 components"):
        model.fit_common_components(sample_texts, 60)
    model.fit(sample_texts)
    model.vectors = WordVectors(kv.words[:100], np.asarray(kv.vectors[:100]))  # retrained
    with pytest.raises(NotFittedError, match="changed after the common components were fitted"):
        model.embed("the king")
    model.set_params(remove_components=0)
    assert model.components is None and model.embed("the king").shape == (50,)


def test_trained_word_models_fit_components_explicitly(
    sample_texts: list[str], tmp_path: Path
) -> None:
    trained = embedlab.load("train:glove", dim=8, min_count=1, epochs=3, workers=1)
    trained.fit(sample_texts)
    with pytest.raises(InputError, match="glove models take no remove_components setting"):
        trained.set_params(remove_components=1)  # its saved folder could not be loaded back
    before = trained.embed(sample_texts)
    trained.fit_common_components(sample_texts)
    direction = first_direction(before)
    assert abs(float(trained.components[0] @ direction)) > 0.9999
    loaded = embedlab.load(trained.save(tmp_path / "glove"))
    np.testing.assert_array_equal(loaded.embed(sample_texts), trained.embed(sample_texts))
    assert abs((loaded.embed(sample_texts) @ direction).mean()) < 1e-5
