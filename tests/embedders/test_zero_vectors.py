"""A text with no token the model knows gets a zero vector: one ZeroVectorWarning per embed call
says how many and which, and `similarity` says its 0 means unknown, not unrelated."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import embedlab
from cli_helpers import invoke_cli
from embedlab.embedders.debiased import DebiasedEmbedder
from embedlab.errors import ZeroVectorWarning

UNKNOWN = "zzqx qqzxv"  # no GloVe word, no TF-IDF term


def _embed_recording(model: embedlab.Embedder, texts: list[str]) -> tuple[np.ndarray, list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectors = model.embed(texts)
    return vectors, [w for w in caught if issubclass(w.category, ZeroVectorWarning)]


def test_glove_warns_once_per_call_naming_count_and_first(glove: embedlab.Embedder) -> None:
    texts = ["the king and the queen", UNKNOWN, "a market fell", "XYZZYQ"]
    vectors, caught = _embed_recording(glove, texts)
    assert not vectors[1].any() and not vectors[3].any() and vectors[0].any()
    assert len(caught) == 1
    warning = caught[0].message
    assert (warning.count, warning.total, warning.first, warning.text) == (2, 4, 1, UNKNOWN)
    assert f"2 of 4 texts (the first: text 1, {UNKNOWN!r}) had no token the glove" in str(warning)
    assert caught[0].filename == __file__  # points at the caller's line, not embedlab's
    _, none = _embed_recording(glove, ["the king", "the queen"])
    assert none == []


def test_a_debiased_model_warns_once_as_itself(glove: embedlab.Embedder) -> None:
    debiased = DebiasedEmbedder(glove, np.eye(1, glove.dim))
    vectors, caught = _embed_recording(debiased, ["the king", UNKNOWN])
    assert not vectors[1].any() and vectors[0].any()
    assert len(caught) == 1  # the base model's own warning is not given as well
    assert caught[0].message.model == debiased.name == f"debiased({glove.name})"
    assert caught[0].filename == __file__


def test_tfidf_warns_for_an_unseen_vocabulary(sample_texts: list[str]) -> None:
    tfidf = embedlab.load("tfidf").fit(sample_texts)
    with pytest.warns(ZeroVectorWarning, match=f"the text {UNKNOWN!r} had no token the tfidf"):
        vector = tfidf.embed(UNKNOWN)
    assert vector.shape == (tfidf.dim,) and not vector.any()
    _, caught = _embed_recording(tfidf, [sample_texts[0], UNKNOWN])
    assert len(caught) == 1 and "text 1 of 2" in str(caught[0].message)


def test_similarity_with_an_unknown_text_says_so(glove: embedlab.Embedder) -> None:
    with pytest.warns(ZeroVectorWarning, match="text 1 of 2"):
        assert glove.similarity("the king", UNKNOWN) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroVectorWarning)
        assert glove.similarity("the king", "the queen") > 0.5


def test_cli_similarity_prints_a_note_with_the_zero() -> None:
    result = invoke_cli("similarity", "the king", UNKNOWN, "--model", "glove-50d")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.0000"  # stdout stays the number, for scripts
    assert f"knows no token of {UNKNOWN!r}" in result.stderr
    assert "unknown, not unrelated" in result.stderr
    known = invoke_cli("similarity", "the king", "the queen", "--model", "glove-50d")
    assert known.returncode == 0 and float(known.stdout) > 0.5 and "note" not in known.stderr
