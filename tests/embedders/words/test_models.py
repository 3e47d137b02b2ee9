"""Training word2vec, fastText, Doc2Vec and GloVe on planted and real corpora: real properties,
exact save/load round trips, streaming sources and clear errors on bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.embedders.words.corpus import TokenCorpus
from embedlab.embedders.words.doc2vec import Doc2VecEmbedder
from embedlab.embedders.words.glove import GloVeEmbedder, cooccurrence
from embedlab.embedders.words.subword import SubwordVectors, ngram_buckets
from embedlab.embedders.words.word2vec import FastTextEmbedder, Word2VecEmbedder
from embedlab.errors import EmbedlabError, InputError, NotFittedError, UnknownWordError
from embedlab.eval.datasets import gensim_test_file

TOPICS = {
    "animals": ["cat", "dog", "mouse", "horse", "cow", "sheep"],
    "vehicles": ["car", "truck", "bus", "train", "bicycle", "plane"],
    "food": ["bread", "cheese", "apple", "soup", "rice", "cake"],
}
FILLERS = ["the", "a", "of", "and", "to", "in", "is", "was", "it", "on", "with", "for"]


def planted_corpus(n: int = 3000, seed: int = 0) -> list[str]:
    """Sentences of 5 words from one topic and 3 fillers: topic words only meet each other."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = rng.sample(TOPICS[rng.choice(list(TOPICS))], 5) + rng.choices(FILLERS, k=3)
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts


def topic_of(word: str) -> str | None:
    return next((t for t, words in TOPICS.items() if word in words), None)


def assert_planted_neighbours(kv, k: int = 4) -> None:
    for words in TOPICS.values():
        for word in words:
            near = [w for w, _ in kv.most_similar(word, topn=k)]
            assert all(topic_of(w) == topic_of(word) for w in near), (word, near)


@pytest.fixture(scope="module")
def planted() -> list[str]:
    return planted_corpus()


@pytest.fixture(scope="module")
def lee_docs() -> list[str]:
    text = gensim_test_file("lee_background.cor").read_text(encoding="latin-1")
    return [line for line in text.splitlines() if line.strip()]


SMALL = {"dim": 24, "min_count": 1, "workers": 1, "seed": 3}


# -- word2vec ---------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ["cbow", "skipgram"])
def test_word2vec_recovers_planted_topics(planted: list[str], architecture: str) -> None:
    model = Word2VecEmbedder(architecture=architecture, epochs=5, window=8, **SMALL).fit(planted)
    kv = model.vectors
    assert len(kv) == sum(map(len, TOPICS.values())) + len(FILLERS)
    assert_planted_neighbours(kv)
    assert kv.get_count("the") == sum(t.split().count("the") for t in planted)
    assert model.training["tokens"] == 8 * len(planted)
    assert model.params["architecture"] == architecture


def test_word2vec_hierarchical_softmax_and_text_embedding(planted: list[str]) -> None:
    model = Word2VecEmbedder(hs=True, negative=0, epochs=5, window=8, **SMALL).fit(planted)
    assert_planted_neighbours(model.vectors)
    texts = ["the cat and the dog", "a truck on the bus", "cheese with bread"]
    vectors = model.embed(texts, normalize=True)
    assert vectors.shape == (3, 24)
    assert vectors[0] @ vectors[1] < vectors[0] @ model.embed("mouse and horse", normalize=True)
    walk = model.embed_tokens("the cat and the zebra")
    assert walk.ids[4] == -1 and "zebra" in walk.notes[0]
    np.testing.assert_allclose(walk.vector, walk.lookup[:4].mean(axis=0), rtol=1e-6)


def test_word2vec_is_repeatable_and_streams_any_source(planted: list[str], tmp_path: Path) -> None:
    first = Word2VecEmbedder(epochs=2, **SMALL).fit(planted)
    second = Word2VecEmbedder(epochs=2, **SMALL).fit(iter(planted))  # a one-shot generator
    np.testing.assert_array_equal(first.vectors.vectors, second.vectors.vectors)
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(planted[:1500]) + "\n", encoding="utf-8")
    (folder / "sub" / "b.jsonl").write_text(
        "".join(json.dumps({"body": t}) + "\n" for t in planted[1500:]), encoding="utf-8"
    )
    (folder / "empty.txt").write_text("", encoding="utf-8")  # skipped inside a folder
    third = Word2VecEmbedder(epochs=2, **SMALL).fit(folder, field="body")
    np.testing.assert_array_equal(first.vectors.vectors, third.vectors.vectors)


def test_token_corpus_splits_long_texts_and_tracks_documents() -> None:
    corpus = TokenCorpus(["a b c d e", "", "f g"], max_tokens=2)
    assert list(corpus) == [["a", "b"], ["c", "d"], ["e"], ["f", "g"]]
    assert list(corpus) == [["a", "b"], ["c", "d"], ["e"], ["f", "g"]]  # from the cache
    assert list(corpus.text_ids) == [0, 0, 0, 2] and corpus.tokens == 7
    corpus.close()


def test_save_load_round_trip_is_identical(planted: list[str], tmp_path: Path) -> None:
    model = Word2VecEmbedder(epochs=2, pooling="sif", **SMALL).fit(planted)
    saved = model.save(tmp_path / "w2v")
    loaded = embedlab.load(saved)
    assert isinstance(loaded, Word2VecEmbedder) and loaded.params == model.params
    assert loaded.vectors.words == model.vectors.words
    np.testing.assert_array_equal(loaded.vectors.vectors, model.vectors.vectors)
    np.testing.assert_array_equal(loaded.vectors.counts, model.vectors.counts)
    np.testing.assert_array_equal(loaded.embed(planted[:20]), model.embed(planted[:20]))
    assert loaded.training == model.training
    assert not list(saved.glob("*.pkl")) and not list(saved.glob("*.model"))


# -- fastText ---------------------------------------------------------------------------------
def test_fasttext_misspellings_land_near_the_real_word(lee_docs: list[str], tmp_path: Path) -> None:
    model = FastTextEmbedder(dim=32, min_count=2, epochs=10, bucket=50_000, workers=1, seed=1).fit(
        lee_docs
    )
    kv = model.vectors
    assert isinstance(kv, SubwordVectors)
    assert "running" in kv and "runing" not in kv and kv.has_vector("runing")
    near = [w for w, _ in kv.most_similar("runing", topn=10)]
    assert "running" in near
    # closer than 99% of the vocabulary
    scores = kv.unit_vectors @ kv.get_vector("runing", norm=True)
    assert (scores < kv.similarity("runing", "running")).mean() > 0.99
    # a text with the misspelling uses its n-gram vector instead of skipping it
    walk = model.embed_tokens("runing fast")
    assert walk.ids[0] == -1 and walk.lookup[0].any() and "n-grams" in walk.notes[0]

    loaded = embedlab.load(model.save(tmp_path / "ft"))
    np.testing.assert_array_equal(loaded.vectors["runing"], kv["runing"])
    np.testing.assert_array_equal(loaded.embed(lee_docs[:5]), model.embed(lee_docs[:5]))


def test_ngram_hashes_match_gensim() -> None:
    from gensim.models.fasttext import ft_ngram_hashes

    for word in ["running", "runing", "café", "日本語", "a", "naïve-ish", "😀x"]:
        for min_n, max_n in [(3, 6), (1, 3)]:
            assert ngram_buckets(word, min_n, max_n, 2_000_000) == ft_ngram_hashes(
                word, min_n, max_n, 2_000_000
            )


# -- Doc2Vec ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["pv-dbow", "pv-dm"])
def test_doc2vec_infer_finds_its_own_document(
    lee_docs: list[str], mode: str, tmp_path: Path
) -> None:
    docs = lee_docs
    model = Doc2VecEmbedder(mode=mode, dim=32, min_count=2, epochs=20, workers=1).fit(docs)
    assert model.doc_vectors.shape == (len(docs), 32)
    sample = docs[:30]
    inferred = model.embed(sample)
    firsts = [model.similar_documents(v, topn=1)[0][0] for v in inferred]
    assert np.mean([first == i for i, first in enumerate(firsts)]) >= 0.8, firsts
    np.testing.assert_array_equal(model.embed(sample[:3]), inferred[:3])  # repeatable

    loaded = embedlab.load(model.save(tmp_path / "d2v"))
    assert isinstance(loaded, Doc2VecEmbedder)
    np.testing.assert_array_equal(loaded.embed(sample), inferred)  # gensim rebuilt from arrays
    np.testing.assert_array_equal(loaded.doc_vectors, model.doc_vectors)
    walk = loaded.embed_tokens(sample[0])
    np.testing.assert_array_equal(walk.vector, inferred[0])
    assert walk.pooling.startswith("inferred")
    assert not loaded.embed("qqqzzz xxyyzz").any()


def test_doc2vec_hierarchical_softmax_round_trip(lee_docs: list[str], tmp_path: Path) -> None:
    model = Doc2VecEmbedder(
        mode="pv-dm", hs=True, negative=0, dim=16, min_count=3, epochs=3, workers=1
    ).fit(lee_docs[:100])
    loaded = embedlab.load(model.save(tmp_path / "d2v-hs"))
    np.testing.assert_array_equal(loaded.embed(lee_docs[:4]), model.embed(lee_docs[:4]))


# -- GloVe ------------------------------------------------------------------------------------
def test_cooccurrence_counts_distance_weighted_pairs() -> None:
    corpus = TokenCorpus(["a b c", "c a", "a zz b"])  # zz is not in the vocabulary
    index = {"a": 0, "b": 1, "c": 2}
    matrix = cooccurrence(corpus, index, window=2, chunk_tokens=3).toarray()
    expected = np.zeros((3, 3), dtype=np.float32)
    for i, j, weight in [(0, 1, 1.0), (1, 2, 1.0), (0, 2, 0.5), (2, 0, 1.0), (0, 1, 1.0)]:
        expected[i, j] += weight
        expected[j, i] += weight
    np.testing.assert_allclose(matrix, expected)


def test_glove_loss_falls_and_recovers_planted_topics(planted: list[str], tmp_path: Path) -> None:
    planted = planted[:1500]
    model = GloVeEmbedder(epochs=20, batch_size=512, window=8, **SMALL).fit(planted)
    losses = model.loss_history
    assert len(losses) == 20 and losses[-1] < 0.2 * losses[0]
    assert all(b <= a * 1.05 for a, b in zip(losses, losses[1:], strict=False))
    assert_planted_neighbours(model.vectors)
    assert (
        model.vectors.words[:3]
        == sorted(model.vectors.words, key=lambda w: -model.vectors.get_count(w))[:3]
    )
    again = GloVeEmbedder(epochs=20, batch_size=512, window=8, **SMALL).fit(planted)
    np.testing.assert_array_equal(again.vectors.vectors, model.vectors.vectors)  # seeded
    loaded = embedlab.load(model.save(tmp_path / "glove"))
    np.testing.assert_array_equal(loaded.vectors.vectors, model.vectors.vectors)
    assert loaded.loss_history == pytest.approx(losses, rel=1e-5)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("klass", [Word2VecEmbedder, GloVeEmbedder, Doc2VecEmbedder])
def test_bad_corpora_are_clear_errors(klass: type, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no words"):
        klass(**SMALL).fit(["", "  ", "\n"])
    with pytest.raises(InputError, match="min_count=50"):
        klass(**{**SMALL, "min_count": 50}).fit(["one two three"])
    with pytest.raises(InputError, match="no corpus at"):
        klass(**SMALL).fit(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(EmbedlabError, match="no texts"):
        klass(**SMALL).fit(tmp_path / "empty.txt")
    with pytest.raises(NotFittedError, match="not been trained"):
        klass().embed("hello")


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(InputError, match="architecture"):
        Word2VecEmbedder(architecture="skipgrm")
    with pytest.raises(InputError, match="negative sampling"):
        Word2VecEmbedder(negative=0)
    with pytest.raises(InputError, match="dim must be at least 1"):
        GloVeEmbedder(dim=0)
    with pytest.raises(InputError, match="pv-dm"):
        Doc2VecEmbedder(mode="pvdm")
    with pytest.raises(InputError, match="max_n"):
        FastTextEmbedder(min_n=4, max_n=3)
    with pytest.raises(InputError, match="pooling"):
        Word2VecEmbedder(pooling="max")


def test_unknown_word_is_a_key_error(planted: list[str]) -> None:
    kv = Word2VecEmbedder(epochs=1, **SMALL).fit(planted[:200]).vectors
    with pytest.raises(UnknownWordError, match="'zebra' is not in the vocabulary"):
        kv["zebra"]
    with pytest.raises(KeyError):
        kv.most_similar("zebra")
