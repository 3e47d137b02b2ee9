"""Served models: one staged path for every embedder, and tokenising bounded by the limit."""

from __future__ import annotations

import numpy as np
import pytest

import embedlab
from embedlab.errors import InputTooLongError
from embedlab.server.core.errors import TooManyTokensError
from embedlab.server.core.served import serve_embedder


def staged(model, texts, limit=None, truncate=True) -> np.ndarray:
    return np.concatenate(model.compute([model.prepare(texts, limit, truncate)]))


@pytest.mark.parametrize("name", ["tfidf", "glove", "minilm"])
def test_every_kind_of_model_is_served_through_its_stages(name, request, sample_texts):
    embedder = request.getfixturevalue(name)
    model = serve_embedder(name, embedder)
    assert model.path == "staged"
    assert model.prepare_tokenizes == (name == "minilm")  # where the tokenizer lock is held
    texts = sample_texts[:9]
    np.testing.assert_allclose(staged(model, texts), embedder.embed(texts), atol=1e-5)
    # two requests merged into one batch come back apart, each in its own order
    first, second = model.prepare(texts[:4], None, True), model.prepare(texts[4:], None, True)
    parts = model.compute([first, second])
    assert [len(p) for p in parts] == [4, 5]
    np.testing.assert_allclose(np.concatenate(parts), embedder.embed(texts), atol=1e-5)


def test_base_stages_count_words_and_cut_or_refuse(glove):
    prepared = glove.prepare(["one two three four", "five"], max_tokens=3)
    assert prepared.lengths == [3, 1] and prepared.texts[0] == "one two three"
    with pytest.raises(InputTooLongError) as refused:
        glove.prepare(["one two three four"], max_tokens=3, truncate=False)
    assert (refused.value.index, refused.value.tokens, refused.value.limit) == (0, 4, 3)
    vectors = glove.finish(glove.run(prepared, batch_size=1))
    np.testing.assert_allclose(vectors, glove.embed(["one two three", "five"]), atol=1e-6)


def test_sliding_windows_are_served_whole_so_long_texts_are_averaged(minilm):
    windows = embedlab.load("minilm", sliding_window=True)
    model = serve_embedder("windows", windows)
    assert model.path == "whole texts"  # its stages would cut where embed averages windows
    long_text = "The bank raised its rates. " * 120  # about 720 tokens: three windows or more
    np.testing.assert_allclose(staged(model, [long_text]), windows.embed([long_text]), atol=1e-5)
    assert not np.allclose(windows.embed([long_text]), minilm.embed([long_text]), atol=1e-3)


def test_long_inputs_are_tokenised_from_a_prefix_with_the_same_tokens(minilm):
    model = serve_embedder("minilm", minilm)
    long_text = "interest rates rose again while the markets fell " * 80  # ~4,000 characters
    ours = model.prepare([long_text, "short"], 256, True)
    full = minilm.prepare([long_text, "short"], max_tokens=256)
    assert ours.lengths == full.lengths == [256, 3]
    assert ours.features == full.features
    # refused from the prefix alone: fewer tokens than the whole text has were counted
    with pytest.raises(TooManyTokensError) as refused:
        model.prepare(["short", long_text], 256, False)
    whole = minilm.count_tokens(long_text)
    assert refused.value.index == 1 and 256 < refused.value.tokens < whole
    assert "at least" in str(refused.value) and '"truncate": true' in str(refused.value)


def test_texts_without_spaces_are_tokenised_whole(minilm):
    model = serve_embedder("minilm", minilm)
    blob = "x" * 5000  # no word boundary to cut at: the whole text is tokenised
    ours = model.prepare([blob], 256, True)
    assert ours.features == minilm.prepare([blob], max_tokens=256).features


def test_a_prefix_just_at_the_limit_is_not_taken_as_the_whole_text(glove):
    model = serve_embedder("glove", glove)
    # the prefix of (10 + 1) * 8 characters holds exactly 10 words; the text holds 13
    text = " ".join(["rates"] * 10) + " " + "b" * 30 + " more words"
    with pytest.raises(TooManyTokensError) as refused:
        model.prepare([text], 10, False)
    assert refused.value.tokens == 13 and "at least" not in str(refused.value)
    assert model.prepare([text], 10, True).lengths == [10]
