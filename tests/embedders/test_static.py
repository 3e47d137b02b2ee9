"""StaticEmbedder against model2vec, and word vectors on the real GloVe 6B 50d."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from tokenizers import Tokenizer

import embedlab
from embedlab import catalogue
from embedlab.embedders.static import (
    StaticEmbedder,
    UnknownWordError,
    WordVectorEmbedder,
    WordVectors,
)
from embedlab.errors import EmbedlabError, InputError, ModelFormatError, NotFittedError

TEXTS = [
    "I love programming in Python because the code reads like plain English.",
    "Simmer the tomato sauce with garlic and basil for twenty minutes.",
    "The central bank raised interest rates to slow inflation.",
    "Ünïcödé text with emoji 🎉 and an unknown glyph ☃",
    "🎉",  # only an unknown token: a zero vector
    "programming " * 700,  # cut to max_length x median token length characters
    "a " * 1000,  # cut to max_length tokens
]


@pytest.fixture(scope="module")
def static_folder() -> Path:
    return catalogue.static_minilm_path()


@pytest.fixture(scope="module")
def static(static_folder: Path) -> StaticEmbedder:
    model = embedlab.load("static-minilm")
    assert isinstance(model, StaticEmbedder)
    return model


# -- StaticEmbedder -------------------------------------------------------------------------------
def test_static_matches_model2vec(static: StaticEmbedder, static_folder: Path) -> None:
    from model2vec import StaticModel

    reference = StaticModel.from_pretrained(str(static_folder)).encode(TEXTS)
    ours = static.embed(TEXTS, batch_size=4)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 256)
    # model2vec returns the stored float16; ours is the same mean computed in float32
    np.testing.assert_allclose(ours, reference.astype(np.float32), atol=5e-4)
    assert not ours[4].any()
    np.testing.assert_allclose(np.linalg.norm(ours[[0, 1, 2, 3, 5, 6]], axis=1), 1.0, atol=1e-5)


def test_static_embed_tokens(static: StaticEmbedder, static_folder: Path) -> None:
    text = "I love programming. ☃"
    walk = static.embed_tokens(text)
    assert walk.tokens == ["i", "love", "programming", "."]  # no [CLS]/[SEP], [UNK] dropped
    tokenizer = Tokenizer.from_file(str(static_folder / "tokenizer.json"))
    assert walk.ids == tokenizer.encode("I love programming.", add_special_tokens=False).ids
    assert [text[s:e] for s, e in walk.offsets] == ["I", "love", "programming", "."]
    table = load_file(str(static_folder / "model.safetensors"))["embeddings"]
    np.testing.assert_array_equal(walk.lookup, table[walk.ids].astype(np.float32))
    mean = walk.lookup.mean(axis=0)
    np.testing.assert_allclose(walk.vector, mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_array_equal(walk.vector, static.embed([text])[0])
    assert walk.contextual is None and walk.pooling.startswith("mean")
    assert any("unknown" in note for note in walk.notes)
    long_walk = static.embed_tokens(TEXTS[-1])
    assert len(long_walk.tokens) == 512 and "truncated to 512 tokens" in long_walk.notes
    assert any("characters" in note for note in static.embed_tokens(TEXTS[-2]).notes)


def test_static_save_load_round_trip(static: StaticEmbedder, tmp_path: Path) -> None:
    from model2vec import StaticModel

    source = tmp_path / "source"
    shutil.copytree(static.folder, source)
    model = StaticEmbedder(str(source))
    before = model.embed(TEXTS)
    saved = model.save(tmp_path / "saved")
    shutil.rmtree(source)
    loaded = embedlab.load(saved)
    assert isinstance(loaded, StaticEmbedder)
    np.testing.assert_array_equal(loaded.embed(TEXTS), before)
    # the copy inside the saved folder is itself a valid model2vec model
    again = StaticModel.from_pretrained(loaded.params["model"]).encode(TEXTS[:3])
    np.testing.assert_allclose(again.astype(np.float32), before[:3], atol=5e-4)


def test_static_vocabulary_quantized_matches_model2vec(
    static: StaticEmbedder, tmp_path: Path
) -> None:
    """Models with a token->row mapping and per-token weights (model2vec's quantized vocab)."""
    from model2vec import StaticModel
    from safetensors.numpy import save_file

    folder = tmp_path / "quantized"
    folder.mkdir()
    shutil.copyfile(static.folder / "tokenizer.json", folder / "tokenizer.json")
    n_tokens = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size()
    rng = np.random.default_rng(0)
    tensors = {
        "embeddings": rng.normal(size=(16, 8)).astype(np.float32),
        "mapping": (np.arange(n_tokens) % 16).astype(np.int64),
        "weights": rng.uniform(0.5, 2.0, size=n_tokens).astype(np.float32),
    }
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"normalize": False}))
    ours = StaticEmbedder(str(folder)).embed(TEXTS[:4])
    reference = StaticModel.from_pretrained(str(folder)).encode(TEXTS[:4])
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    walk = StaticEmbedder(str(folder)).embed_tokens("I love programming.")
    expected = (
        tensors["embeddings"][tensors["mapping"][walk.ids]] * tensors["weights"][walk.ids, None]
    )
    np.testing.assert_allclose(walk.lookup, expected, rtol=1e-6)


def test_static_errors(static: StaticEmbedder, tmp_path: Path) -> None:
    with pytest.raises(EmbedlabError, match="no model folder"):
        StaticEmbedder(str(tmp_path / "missing")).embed("hello")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(ModelFormatError, match="not a model2vec folder"):
        StaticEmbedder(str(tmp_path / "half")).embed("hello")
    with pytest.raises(InputError, match="empty"):
        static.embed(["fine", " "])


# -- WordVectors and WordVectorEmbedder (GloVe) ---------------------------------------------------
def test_glove_is_memory_mapped_and_sized(glove: WordVectorEmbedder) -> None:
    kv = glove.vectors
    assert isinstance(kv, WordVectors)
    assert len(kv) == 400_000 and kv.dim == 50 == glove.dim
    assert isinstance(kv.vectors, np.memmap) or isinstance(kv.vectors.base, np.memmap)
    assert "king" in kv and "King" not in kv
    assert glove.params == {"lowercase": True}


def test_glove_neighbours_and_analogy(glove: WordVectorEmbedder) -> None:
    kv = glove.vectors
    neighbours = [word for word, _ in kv.most_similar("king", topn=5)]
    assert "king" not in neighbours
    assert {"queen", "prince"} & set(neighbours)
    scores = [score for _, score in kv.most_similar("king", topn=5)]
    assert scores == sorted(scores, reverse=True)
    analogy = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert "queen" in [word for word, _ in analogy]
    a, b = kv["king"], kv["queen"]
    expected = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert kv.similarity("king", "queen") == pytest.approx(expected, abs=1e-6)
    assert kv.similarity("king", "queen") > kv.similarity("king", "banana")


def test_unknown_word_errors(glove: WordVectorEmbedder) -> None:
    kv = glove.vectors
    with pytest.raises(UnknownWordError, match="'xqzvbnm' is not in the vocabulary"):
        kv["xqzvbnm"]
    with pytest.raises(KeyError):  # gensim-style code catching KeyError keeps working
        kv.most_similar("xqzvbnm")
    with pytest.raises(EmbedlabError, match="lowercase: try 'king'"):
        kv.similarity("King", "queen")


def test_text_vector_is_mean_of_known_words(glove: WordVectorEmbedder) -> None:
    kv = glove.vectors
    text = "The cat sat on the xqzvbnm mat."
    words = ["the", "cat", "sat", "on", "the", "mat", "."]
    expected = np.mean([kv[w] for w in words], axis=0)
    np.testing.assert_allclose(glove.embed(text), expected, atol=1e-6)

    walk = glove.embed_tokens(text)
    assert walk.tokens == ["the", "cat", "sat", "on", "the", "xqzvbnm", "mat", "."]
    assert walk.ids[5] == -1 and walk.ids[1] == kv.get_index("cat")
    assert [text[s:e] for s, e in walk.offsets][:2] == ["The", "cat"]
    assert not walk.lookup[5].any()
    np.testing.assert_array_equal(walk.lookup[1], kv["cat"])
    np.testing.assert_array_equal(walk.vector, glove.embed([text])[0])
    assert any("xqzvbnm" in note for note in walk.notes)

    nothing = glove.embed_tokens("xqzvbnm qqqzzz")
    assert not nothing.vector.any() and any("all zeros" in n for n in nothing.notes)


def test_custom_word_vectors_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = ["apple", "banana", "cherry", "Date"]
    vectors = rng.normal(size=(4, 8)).astype(np.float32)
    model = WordVectorEmbedder(words, vectors, lowercase=False)
    vec = model.embed("apple Date fig")
    np.testing.assert_allclose(vec, vectors[[0, 3]].mean(axis=0), atol=1e-7)
    assert model.vectors.most_similar("apple", topn=10)[0][0] != "apple"
    assert len(model.vectors.most_similar("apple", topn=10)) == 3

    saved = model.save(tmp_path / "wv")
    assert json.loads((saved / "embedlab.json").read_text())["params"] == {"lowercase": False}
    loaded = embedlab.load(saved)
    assert isinstance(loaded, WordVectorEmbedder) and loaded.vectors.words == words
    np.testing.assert_array_equal(loaded.vectors.vectors, vectors)
    np.testing.assert_array_equal(
        loaded.embed(["apple Date fig", "banana"]), model.embed(["apple Date fig", "banana"])
    )


def test_word_vector_errors() -> None:
    with pytest.raises(NotFittedError, match="no vectors"):
        WordVectorEmbedder().embed("hello")
    with pytest.raises(InputError, match="one vector"):
        WordVectorEmbedder(["a", "b"], np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(InputError, match="duplicates"):
        WordVectors(["a", "a"], np.zeros((2, 2), dtype=np.float32))


# -- the gensim verbs and SIF pooling ---------------------------------------------------------------
def test_glove_analogy_and_doesnt_match(glove: WordVectorEmbedder) -> None:
    kv = glove.vectors
    assert kv.analogy("man", "king", "woman") == "queen"
    assert kv.analogy("france", "paris", "italy") == "rome"
    top = kv.analogy("man", "king", "woman", topn=3)
    assert top[0][0] == "queen" and len(top) == 3
    assert kv.doesnt_match(["breakfast", "cereal", "dinner", "lunch"]) == "cereal"
    assert kv.index_to_key is kv.words and kv.key_to_index["the"] == 0
    assert kv[["king", "queen"]].shape == (2, 50)
    np.testing.assert_allclose(np.linalg.norm(kv.get_vector("king", norm=True)), 1.0, rtol=1e-6)
    restricted = kv.most_similar("king", topn=5, restrict_vocab=1000)
    assert all(kv.get_index(w) < 1000 for w, _ in restricted)
    by_vector = kv.similar_by_vector(kv["king"], topn=1)
    assert by_vector[0][0] == "king"


def test_counts_and_sif_pooling(tmp_path: Path) -> None:
    words = ["the", "cat", "sat"]
    vectors = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    counts = np.array([900, 60, 40])
    model = WordVectorEmbedder(words, vectors, counts=counts, pooling="sif", sif_a=0.01)
    assert model.vectors.get_count("cat") == 60
    assert model.vectors.most_frequent(2) == [("the", 900), ("cat", 60)]
    p = counts / counts.sum()
    weights = 0.01 / (0.01 + p)
    expected = (weights[0] * vectors[0] + weights[1] * vectors[1]) / (weights[0] + weights[1])
    np.testing.assert_allclose(model.embed("the cat"), expected, rtol=1e-6)
    walk = model.embed_tokens("the cat")
    assert walk.pooling.startswith("SIF") and "corpus counts" in walk.notes[-1]
    np.testing.assert_array_equal(walk.vector, model.embed("the cat"))

    loaded = embedlab.load(model.save(tmp_path / "sif"))
    assert loaded.params == {"lowercase": True, "pooling": "sif", "sif_a": 0.01}
    np.testing.assert_array_equal(loaded.vectors.counts, counts)
    np.testing.assert_array_equal(loaded.embed("the cat sat"), model.embed("the cat sat"))

    plain = WordVectorEmbedder(words, vectors)  # no counts: Zipf on the rank, first row heaviest
    plain.set_params(pooling="sif")
    sif = plain._weights()
    assert sif is not None and sif[0] < sif[1] < sif[2]
    with pytest.raises(InputError, match="no word counts"):
        plain.vectors.get_count("the")
    with pytest.raises(InputError, match="pooling"):
        WordVectorEmbedder(words, vectors, pooling="max")


def test_glove_sif_pooling_by_name() -> None:
    model = embedlab.load("glove-50d", pooling="sif")
    walk = model.embed_tokens("the cat")
    assert "Zipf" in walk.notes[-1]
    the, cat = (float(s.split("=")[1]) for s in walk.notes[-1].split(": ")[1].split(", "))
    assert the < 0.1 < 0.5 < cat  # the most frequent word counts least


def test_word_vectors_file_round_trip_through_the_object(tmp_path: Path) -> None:
    kv = WordVectors(["a", "b"], np.array([[1, 2], [3, 4]], dtype=np.float32))
    path = kv.save(tmp_path / "ab.vec")
    back = WordVectors.load(path)
    assert back.words == ["a", "b"]
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    binary = kv.save_word2vec_format(tmp_path / "ab.w2v", binary=True)  # gensim's spelling
    again = WordVectors.load_word2vec_format(binary, binary=True)
    np.testing.assert_array_equal(again.vectors, kv.vectors)
