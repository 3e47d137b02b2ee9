"""Word-vector files: exact round trips, interoperability with gensim, refusals and corruption."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from embedlab.embedders.words.formats import detect_format, save_word_vectors
from embedlab.embedders.words.vectors import WordVectorEmbedder, WordVectors, load_word_vectors
from embedlab.errors import DataFormatError, InputError, ModelFormatError

WORDS = ["the", "king", "queen", "café", "naïve", "日本", "x"]


@pytest.fixture()
def kv() -> WordVectors:
    vectors = np.random.default_rng(0).normal(size=(len(WORDS), 9)).astype(np.float32)
    vectors[0, 0] = 0.1  # not exactly representable: text formats must still round-trip
    return WordVectors(WORDS, vectors)


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("v.bin", None, "word2vec-binary"),
        ("v.txt", None, "word2vec"),
        ("v.vec", None, "word2vec"),
        ("glove.txt", "glove", "glove"),
        ("v.vec.gz", None, "word2vec"),
        ("v.bin.gz", None, "word2vec-binary"),
    ],
)
def test_round_trips_are_exact(
    kv: WordVectors, tmp_path: Path, name: str, fmt: str | None, expected: str
) -> None:
    path = save_word_vectors(kv, tmp_path / name, format=fmt)
    assert detect_format(path) == expected
    back = load_word_vectors(path)
    assert back.words == WORDS
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert load_word_vectors(path, limit=3).words == WORDS[:3]


@pytest.mark.parametrize("binary", [True, False])
def test_gensim_reads_ours_and_we_read_gensims(
    kv: WordVectors, tmp_path: Path, binary: bool
) -> None:
    from gensim.models import KeyedVectors

    ours = save_word_vectors(kv, tmp_path / ("ours.bin" if binary else "ours.vec"))
    theirs = KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert theirs.index_to_key == WORDS
    np.testing.assert_array_equal(theirs.vectors, kv.vectors)

    reference = KeyedVectors(kv.dim)
    reference.add_vectors(WORDS, kv.vectors)
    path = tmp_path / ("gensim.bin" if binary else "gensim.txt")
    reference.save_word2vec_format(str(path), binary=binary)
    back = load_word_vectors(path)
    assert back.words == WORDS
    np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_gensim_native_model_is_refused_with_the_conversion(
    kv: WordVectors, tmp_path: Path
) -> None:
    from gensim.models import KeyedVectors

    reference = KeyedVectors(kv.dim)
    reference.add_vectors(WORDS, kv.vectors)
    reference.save(str(tmp_path / "vectors.model"))
    with pytest.raises(ModelFormatError, match="pickle") as info:
        load_word_vectors(tmp_path / "vectors.model")
    assert "save_word2vec_format" in str(info.value)
    # a pickle under an innocent name is recognised by its content
    (tmp_path / "disguised.bin").write_bytes((tmp_path / "vectors.model").read_bytes())
    with pytest.raises(ModelFormatError, match="pickle"):
        load_word_vectors(tmp_path / "disguised.bin")
    with pytest.raises(ModelFormatError, match="Facebook fastText"):
        (tmp_path / "cc.bin").write_bytes((793712314).to_bytes(4, "little") + b"\0" * 64)
        load_word_vectors(tmp_path / "cc.bin")


def test_corrupt_files_name_the_problem(kv: WordVectors, tmp_path: Path) -> None:
    binary = save_word_vectors(kv, tmp_path / "v.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(binary[:-20])
    with pytest.raises(DataFormatError, match="truncated"):
        load_word_vectors(tmp_path / "cut.bin")
    (tmp_path / "bad.vec").write_text("2 3\na 1 2 3\nb 1 oops 3\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 3 .* not a finite number"):
        load_word_vectors(tmp_path / "bad.vec")
    (tmp_path / "short.vec").write_text("2 3\na 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 3 .* 2 values, expected 3"):
        load_word_vectors(tmp_path / "short.vec")
    (tmp_path / "few.vec").write_text("3 2\na 1 2\nb 1 2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="says it holds 3 words but has only 2"):
        load_word_vectors(tmp_path / "few.vec")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match="empty"):
        load_word_vectors(tmp_path / "empty.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 1 2\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        load_word_vectors(tmp_path / "latin.txt")
    assert load_word_vectors(tmp_path / "latin.txt", unicode_errors="replace").words == ["caf�"]
    with pytest.raises(InputError, match="no file"):
        load_word_vectors(tmp_path / "missing.vec")


def test_duplicates_keep_the_first_vector_and_spaces_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_text("a 1 2\nb 3 4\na 5 6\n", encoding="utf-8")
    kv = load_word_vectors(path)
    assert kv.words == ["a", "b"] and kv["a"].tolist() == [1.0, 2.0]
    with pytest.raises(InputError, match="whitespace"):
        save_word_vectors(
            WordVectors(["new york"], np.ones((1, 2), np.float32)), tmp_path / "x.vec"
        )
    with pytest.raises(InputError, match="cannot tell"):
        save_word_vectors(kv, tmp_path / "x.dat")


def test_glove_text_file_becomes_a_text_embedder(tmp_path: Path) -> None:
    path = tmp_path / "tiny.glove.txt"
    with gzip.open(tmp_path / "tiny.txt.gz", "wt", encoding="utf-8") as out:
        out.write("good 1 0\nbad -1 0\nmovie 0 1\n")
    path.write_text("good 1 0\nbad -1 0\nmovie 0 1\n", encoding="utf-8")
    for source in (path, tmp_path / "tiny.txt.gz"):
        model = WordVectorEmbedder.from_file(source)
        np.testing.assert_allclose(model.embed("Good movie!"), [0.5, 0.5])  # "!" is unknown
        assert model.name == source.name
