"""One-hot, count and TF-IDF: streamed fitting must reproduce scikit-learn exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import embedlab
from embedlab.embedders.sparse import CountEmbedder, OneHotEmbedder, TfidfEmbedder
from embedlab.errors import EmbedlabError, InputError, ModelFormatError, NotFittedError

TOPICS = ["programming", "cooking", "sports", "space", "music", "finance"]


def _stream(texts: list[str]) -> Iterator[str]:
    """A one-shot generator: a second pass over it would see nothing."""
    yield from texts


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"max_features": 25},
        {"analyzer": "char_wb", "ngram_range": (2, 4)},
        {"analyzer": "char_wb", "ngram_range": (2, 4), "max_features": 300},
        {"min_df": 2},
        {"ngram_range": (1, 2), "max_features": 60, "max_df": 0.5},
        {"smooth_idf": False, "norm": "l1", "sublinear_tf": False},
    ],
    ids=repr,
)
def test_tfidf_matches_sklearn(sample_texts: list[str], params: dict) -> None:
    ours = TfidfEmbedder(**params).fit(sample_texts)
    theirs = TfidfVectorizer(**{"sublinear_tf": True, **params}).fit(sample_texts)

    assert ours.vocabulary == theirs.get_feature_names_out().tolist()
    np.testing.assert_allclose(ours.idf_, theirs.idf_, rtol=1e-12)
    np.testing.assert_allclose(
        ours.embed(sample_texts), theirs.transform(sample_texts).toarray(), atol=1e-6
    )


def test_max_features_limits_dim_and_keeps_most_frequent(sample_texts: list[str]) -> None:
    model = TfidfEmbedder(max_features=10).fit(sample_texts)
    assert model.dim == 10
    assert "the" in model.vocabulary  # by far the most frequent word in the sample
    assert model.vocabulary == sorted(model.vocabulary)


def test_fit_from_generator_is_one_pass_and_equals_list(sample_texts: list[str]) -> None:
    from_list = TfidfEmbedder(ngram_range=(1, 2)).fit(sample_texts)
    from_stream = TfidfEmbedder(ngram_range=(1, 2)).fit(_stream(sample_texts))

    assert from_stream.n_documents == len(sample_texts)
    assert from_stream.vocabulary == from_list.vocabulary
    np.testing.assert_array_equal(from_stream.embed(sample_texts), from_list.embed(sample_texts))


def test_fit_from_path_reads_the_file(sample_texts: list[str], tmp_path: Path) -> None:
    pytest.importorskip("embedlab.text.readers")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")

    from_path = TfidfEmbedder().fit(corpus)
    from_list = TfidfEmbedder().fit(sample_texts)

    assert from_path.n_documents == len(sample_texts)
    np.testing.assert_array_equal(from_path.embed(sample_texts), from_list.embed(sample_texts))


def test_fit_with_progress_bar(sample_texts: list[str]) -> None:
    model = CountEmbedder().fit(_stream(sample_texts), progress=True)
    assert model.n_documents == len(sample_texts)


def test_count_bigrams_match_sklearn(sample_texts: list[str]) -> None:
    ours = CountEmbedder(ngram_range=(1, 2), max_features=None).fit(sample_texts)
    theirs = CountVectorizer(ngram_range=(1, 2)).fit(sample_texts)

    assert ours.vocabulary == theirs.get_feature_names_out().tolist()
    assert any(" " in term for term in ours.vocabulary)
    np.testing.assert_array_equal(
        ours.embed(sample_texts), theirs.transform(sample_texts).toarray()
    )


def test_count_max_features_ranks_by_total_count(sample_texts: list[str]) -> None:
    ours = CountEmbedder(max_features=15).fit(sample_texts)
    theirs = CountVectorizer(max_features=15).fit(sample_texts)
    assert ours.vocabulary == theirs.get_feature_names_out().tolist()


@pytest.mark.parametrize("max_features", [None, 15])
def test_onehot_is_binary_and_matches_sklearn(sample_texts: list[str], max_features) -> None:
    ours = OneHotEmbedder(max_features=max_features).fit(sample_texts)
    theirs = CountVectorizer(binary=True, max_features=max_features).fit(sample_texts)

    vectors = ours.embed(sample_texts + ["the the the bank bank"])
    assert set(np.unique(vectors)) == {0.0, 1.0}
    assert ours.vocabulary == theirs.get_feature_names_out().tolist()
    np.testing.assert_array_equal(
        vectors[:-1], theirs.transform(sample_texts).toarray().astype(np.float32)
    )


def test_onehot_max_features_ranks_by_document_count() -> None:
    # sklearn binarises before ranking, so a word repeated in one text must not win a slot
    corpus = ["aa aa aa aa aa", "bb cc", "bb cc", "dd"]
    ours = OneHotEmbedder(max_features=2).fit(corpus)
    theirs = CountVectorizer(binary=True, max_features=2).fit(corpus)
    assert ours.vocabulary == theirs.get_feature_names_out().tolist() == ["bb", "cc"]
    assert CountEmbedder(max_features=1).fit(corpus).vocabulary == ["aa"]


def test_count_binary_equals_onehot(sample_texts: list[str]) -> None:
    a = CountEmbedder(binary=True).fit(sample_texts).embed(sample_texts)
    b = OneHotEmbedder().fit(sample_texts).embed(sample_texts)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("klass", [OneHotEmbedder, CountEmbedder, TfidfEmbedder])
def test_embed_sparse_equals_dense_and_dtypes(sample_texts: list[str], klass) -> None:
    model = klass().fit(sample_texts)
    dense = model.embed(sample_texts)
    sp = model.embed_sparse(sample_texts)

    assert isinstance(sp, sparse.csr_matrix)
    assert sp.dtype == np.float32 and dense.dtype == np.float32
    assert dense.shape == sp.shape == (len(sample_texts), model.dim)
    assert model.dim == len(model.vocabulary)
    np.testing.assert_array_equal(sp.toarray(), dense)
    assert model.embed(sample_texts[0]).shape == (model.dim,)


def test_tfidf_vectors_are_unit_length_and_similar_within_topic(sample_texts: list[str]) -> None:
    model = TfidfEmbedder().fit(sample_texts)
    vectors = model.embed(sample_texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # the two 'bank' sentences (finance and river) share a word, so their cosine is above zero
    assert model.similarity(sample_texts[30], sample_texts[34]) > 0.1
    assert model.similarity(sample_texts[0], sample_texts[6]) == pytest.approx(0.0, abs=0.05)


def test_unseen_words_give_zero_vector(sample_texts: list[str]) -> None:
    model = TfidfEmbedder().fit(sample_texts)
    assert not model.embed("zyzzyva quokka").any()


@pytest.mark.parametrize("klass", [OneHotEmbedder, CountEmbedder, TfidfEmbedder])
def test_save_load_round_trip(sample_texts: list[str], tmp_path: Path, klass) -> None:
    model = klass(ngram_range=(1, 2), max_features=100, min_df=1).fit(sample_texts)
    folder = model.save(tmp_path / "model")

    loaded = embedlab.load(folder)

    assert type(loaded) is klass
    assert loaded.get_params() == {**model.get_params(), "ngram_range": [1, 2]}
    assert loaded.vocabulary == model.vocabulary
    assert loaded.n_documents == model.n_documents
    np.testing.assert_array_equal(loaded.embed(sample_texts), model.embed(sample_texts))
    assert not list(folder.glob("*.pkl"))
    if klass is TfidfEmbedder:
        np.testing.assert_array_equal(loaded.idf_, model.idf_)
        assert (folder / "idf.npy").is_file()


def test_embed_tokens(sample_texts: list[str]) -> None:
    model = TfidfEmbedder().fit(sample_texts)
    text = "Debugging the quokka code"
    walk = model.embed_tokens(text)

    assert walk.tokens == ["debugging", "the", "quokka", "code"]
    vocab = model.vocabulary
    assert walk.ids == [vocab.index("debugging"), vocab.index("the"), -1, vocab.index("code")]
    assert walk.lookup.shape == (4, model.dim) and walk.lookup.dtype == np.float32
    for row, token_id in zip(walk.lookup, walk.ids, strict=True):
        if token_id < 0:
            assert not row.any()
        else:
            assert np.count_nonzero(row) == 1
            assert row[token_id] == pytest.approx(model.idf_[token_id])
    np.testing.assert_array_equal(walk.vector, model.embed(text))
    assert walk.offsets == [(0, 9), (10, 13), (14, 20), (21, 25)]
    assert [text[a:b].lower() for a, b in walk.offsets] == walk.tokens
    assert walk.contextual is None
    assert any("quokka" in note for note in walk.notes)


def test_embed_tokens_count_lookup_sums_to_vector(sample_texts: list[str]) -> None:
    model = CountEmbedder(ngram_range=(1, 2)).fit(sample_texts)
    walk = model.embed_tokens("the code the code")
    assert "the code" in walk.tokens
    np.testing.assert_array_equal(walk.lookup.sum(axis=0), walk.vector)
    assert walk.offsets is not None and walk.offsets[walk.tokens.index("the code")] == (0, 8)


def test_pipeline_with_logistic_regression_learns_topics(sample_texts: list[str]) -> None:
    texts = sample_texts[:36]
    labels = [TOPICS[i // 6] for i in range(36)]
    pipeline = make_pipeline(TfidfEmbedder(), LogisticRegression(C=10, max_iter=1000))

    pipeline.fit(texts, labels)

    assert (pipeline.predict(texts) == np.array(labels)).mean() == 1.0
    unseen = [
        "The compiler found a bug in the code.",
        "The astronauts launched a rocket to the space station.",
        "The orchestra and the choir played a symphony.",
    ]
    assert pipeline.predict(unseen).tolist() == ["programming", "space", "music"]


def test_sklearn_clone_keeps_params() -> None:
    from sklearn.base import clone

    model = TfidfEmbedder(ngram_range=(1, 2), max_features=10)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()


# -- errors -------------------------------------------------------------------------------
def test_embed_before_fit_raises_not_fitted() -> None:
    model = TfidfEmbedder()
    assert not model.is_fitted
    with pytest.raises(NotFittedError, match="fit") as info:
        model.embed(["hello world"])
    assert isinstance(info.value, EmbedlabError)
    with pytest.raises(NotFittedError):
        _ = model.dim
    with pytest.raises(NotFittedError):
        model.embed_tokens("hello world")


def test_fit_on_empty_corpus_raises() -> None:
    with pytest.raises(InputError, match="empty"):
        TfidfEmbedder().fit([])
    with pytest.raises(InputError, match="empty"):
        TfidfEmbedder().fit(_stream([]))


def test_fit_on_bare_string_raises() -> None:
    with pytest.raises(InputError, match="list of texts"):
        TfidfEmbedder().fit("just one text, not a corpus")


def test_fit_without_any_terms_raises() -> None:
    with pytest.raises(InputError, match="no terms"):
        CountEmbedder().fit(["a", "! ? .", "x y"])


def test_fit_where_filtering_removes_everything_raises(sample_texts: list[str]) -> None:
    with pytest.raises(InputError, match="min_df"):
        TfidfEmbedder(min_df=len(sample_texts) + 1).fit(sample_texts)


def test_fit_non_string_item_names_index() -> None:
    with pytest.raises(InputError, match="item 2"):
        TfidfEmbedder().fit(["one text", "two texts", 3])


def test_bad_params_raise_at_construction() -> None:
    with pytest.raises(InputError, match="analyzer"):
        TfidfEmbedder(analyzer="sentence")
    with pytest.raises(InputError, match="ngram_range"):
        CountEmbedder(ngram_range=(2, 1))
    with pytest.raises(InputError, match="max_features"):
        OneHotEmbedder(max_features=0)
    with pytest.raises(InputError, match="norm"):
        TfidfEmbedder(norm="l3")


def test_empty_text_in_embed_raises(sample_texts: list[str]) -> None:
    model = TfidfEmbedder().fit(sample_texts)
    with pytest.raises(InputError, match="text 1 is empty"):
        model.embed(["fine", "   "])
    with pytest.raises(InputError):
        model.embed_sparse([""])
    with pytest.raises(InputError):
        model.embed_tokens("")


def test_missing_idf_file_raises_model_format_error(
    sample_texts: list[str], tmp_path: Path
) -> None:
    folder = TfidfEmbedder().fit(sample_texts).save(tmp_path / "m")
    (folder / "idf.npy").unlink()
    with pytest.raises(ModelFormatError, match="idf.npy"):
        embedlab.load(folder)


def test_garbage_model_json_raises_model_format_error(
    sample_texts: list[str], tmp_path: Path
) -> None:
    folder = TfidfEmbedder().fit(sample_texts).save(tmp_path / "m")
    (folder / "embedlab.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFormatError):
        embedlab.load(folder)


def test_a_file_name_pointing_outside_the_folder_is_refused(
    sample_texts: list[str], tmp_path: Path
) -> None:
    """embedlab.json names the arrays; a crafted folder must not make load() read elsewhere."""
    folder = TfidfEmbedder().fit(sample_texts).save(tmp_path / "m")
    (tmp_path / "outside.npy").write_bytes((folder / "idf.npy").read_bytes())
    meta_path = folder / "embedlab.json"
    meta = meta_path.read_text(encoding="utf-8")
    assert '"idf.npy"' in meta
    meta_path.write_text(meta.replace('"idf.npy"', '"../outside.npy"'), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="not a file inside the folder"):
        embedlab.load(folder)


def test_idf_of_wrong_length_raises_model_format_error(
    sample_texts: list[str], tmp_path: Path
) -> None:
    folder = TfidfEmbedder().fit(sample_texts).save(tmp_path / "m")
    np.save(folder / "idf.npy", np.ones(3))
    with pytest.raises(ModelFormatError, match="idf"):
        embedlab.load(folder)


def test_bad_vocabulary_file_raises_model_format_error(
    sample_texts: list[str], tmp_path: Path
) -> None:
    folder = CountEmbedder().fit(sample_texts).save(tmp_path / "m")
    (folder / "vocabulary.json").write_text(json.dumps({"not": "a list"}), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="vocabulary"):
        embedlab.load(folder)
