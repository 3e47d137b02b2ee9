"""`embedlab.load()`: options for saved folders, the glove name rule, word-vector files, the
lazy public API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.embedders.static import StaticEmbedder
from embedlab.embedders.words.glove import GloVeEmbedder
from embedlab.embedders.words.vectors import WordVectorEmbedder
from embedlab.errors import EmbedlabError, InputError, UnknownModelError

WORDS = 1000  # the 1000 most frequent GloVe words: "the king" and "the queen" are among them


@pytest.fixture(scope="module")
def small_glove(glove: WordVectorEmbedder) -> WordVectorEmbedder:
    kv = glove.vectors
    return WordVectorEmbedder(kv.words[:WORDS], np.asarray(kv.vectors[:WORDS]))


# -- options for saved folders ------------------------------------------------------------------
def test_saved_word_model_takes_pooling_at_load_time(
    small_glove: WordVectorEmbedder, tmp_path: Path
) -> None:
    folder = small_glove.save(tmp_path / "words")
    sif = embedlab.load(folder, pooling="sif", sif_a=0.01)
    assert sif.params == {"lowercase": True, "pooling": "sif", "sif_a": 0.01}
    expected = WordVectorEmbedder(
        small_glove.vectors.words, small_glove.vectors.vectors, pooling="sif", sif_a=0.01
    ).embed("the king and the queen")
    np.testing.assert_array_equal(sif.embed("the king and the queen"), expected)
    assert not np.allclose(expected, small_glove.embed("the king and the queen"))
    # what the saved model already has is accepted (it changes nothing)
    assert embedlab.load(folder, lowercase=True).params == small_glove.params


def test_options_a_saved_model_cannot_take_are_refused(
    sample_texts: list[str], tmp_path: Path
) -> None:
    tfidf = embedlab.load("tfidf", min_df=2).fit(sample_texts)
    folder = tfidf.save(tmp_path / "tfidf")
    with pytest.raises(InputError, match="'min_df' of the tfidf model .* fixed when it was fitted"):
        embedlab.load(folder, min_df=1)
    assert embedlab.load(folder, min_df=2).vocabulary == tfidf.vocabulary
    with pytest.raises(InputError, match="no option 'runtime' \\(that is for transformer models"):
        embedlab.load(folder, runtime="onnx")
    with pytest.raises(InputError, match="takes no option 'colour'"):
        embedlab.load(folder, colour="blue")


def test_saved_transformer_takes_runtime_and_truncation(
    minilm: embedlab.Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path / "home"))
    folder = minilm.save(tmp_path / "minilm")
    texts = ["A man is playing a guitar.", "The stock market fell sharply today."]
    short = embedlab.load(folder, truncate_dim=64)
    assert short.dim == 64 and short.embed(texts).shape == (2, 64)
    onnx = embedlab.load(folder, runtime="onnx", threads=1)  # was silently torch before
    assert onnx.params["runtime"] == "onnx"
    vectors = onnx.embed(texts)
    assert onnx.onnx_path is not None and onnx.onnx_path.is_relative_to(tmp_path / "home")
    cos = (vectors * minilm.embed(texts)).sum(1)  # both normalised
    assert cos.min() > 0.9999
    with pytest.raises(InputError, match="unknown runtime"):
        embedlab.load(folder, runtime="gpu")
    with pytest.raises(InputError, match="'model' of the transformer model .* fixed"):
        embedlab.load(folder, model="/elsewhere")


# -- the glove name: pretrained vectors or the trainer ------------------------------------------
def test_glove_is_the_pretrained_vectors_by_default() -> None:
    model = embedlab.load("glove")
    assert isinstance(model, WordVectorEmbedder) and not isinstance(model, GloVeEmbedder)
    assert model.name == "glove" and model.dim == 50 and len(model.vectors) == 400_000
    assert model.vectors.most_similar("king", topn=1)[0][0] == "prince"
    sif = embedlab.load("glove", pooling="sif")  # options the pretrained model takes: still it
    assert type(sif) is WordVectorEmbedder and sif.pooling == "sif"


def test_training_options_or_the_train_spec_give_the_glove_trainer(
    sample_texts: list[str],
) -> None:
    trainer = embedlab.load("glove", dim=8, min_count=1, epochs=3, workers=1)
    assert isinstance(trainer, GloVeEmbedder) and not trainer.is_fitted
    trainer.fit(sample_texts)
    assert trainer.dim == 8 and "programming" in trainer.vectors
    assert type(embedlab.load("train:glove")) is GloVeEmbedder
    assert embedlab.load("train:glove", dim=16).params["dim"] == 16
    with pytest.raises(InputError, match="glove-6b-50d takes no option 'colour'.*'x_max'"):
        embedlab.load("glove", colour="blue")
    with pytest.raises(InputError, match="static method is not trained here"):
        embedlab.load("train:static")
    with pytest.raises(UnknownModelError, match="unknown method 'gloev'.*'glove'"):
        embedlab.load("train:gloev")


def test_static_follows_the_same_rule() -> None:
    from embedlab.catalogue import static_minilm_path

    with pytest.raises(InputError, match="static-minilm takes no option 'pooling'"):
        embedlab.load("static", pooling="mean")
    pretrained = embedlab.load("static")
    own = embedlab.load("static", model=str(static_minilm_path()))  # the method, given a folder
    assert type(own) is StaticEmbedder and type(pretrained) is StaticEmbedder
    np.testing.assert_array_equal(own.embed("a small test"), pretrained.embed("a small test"))


def test_method_and_catalogue_options_are_checked() -> None:
    with pytest.raises(InputError, match="tfidf method takes no option 'dim'.*'min_df'"):
        embedlab.load("tfidf", dim=3)
    with pytest.raises(InputError, match="all-MiniLM-L6-v2 takes no option 'bogus'"):
        embedlab.load("minilm", bogus=1)


# -- word-vector files --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("vectors.vec", "word2vec"),
        ("vectors.bin", "word2vec-binary"),
        ("glove.txt", "glove"),
        ("vectors.vec.gz", "word2vec"),
    ],
)
def test_word_vector_files_load_as_word_models(
    small_glove: WordVectorEmbedder, glove: WordVectorEmbedder, tmp_path: Path, name: str, fmt: str
) -> None:
    path = small_glove.vectors.save(tmp_path / name, format=fmt)
    model = embedlab.load(path)
    assert isinstance(model, WordVectorEmbedder) and model.name == name
    assert model.vectors.words == glove.vectors.words[:WORDS]
    np.testing.assert_array_equal(model.vectors.vectors, glove.vectors.vectors[:WORDS])
    np.testing.assert_allclose(model.embed("the king"), glove.embed("the king"), rtol=1e-6)
    limited = embedlab.load(str(path), limit=100, pooling="sif")
    assert len(limited.vectors) == 100 and limited.pooling == "sif"


def test_word_vector_file_errors(small_glove: WordVectorEmbedder, tmp_path: Path) -> None:
    path = small_glove.vectors.save(tmp_path / "v.vec")
    with pytest.raises(InputError, match="v.vec takes no option 'runtime'"):
        embedlab.load(path, runtime="onnx")
    with pytest.raises(InputError, match="no word-vector file at .*missing.vec"):
        embedlab.load(tmp_path / "missing.vec")
    with pytest.raises(InputError, match="no word-vector file at nowhere.bin"):
        embedlab.load("nowhere.bin")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("just some text\nand more text\n", encoding="utf-8")
    with pytest.raises(EmbedlabError, match="neither a word2vec nor a GloVe file"):
        embedlab.load(corpus)


# -- the public API stays light -----------------------------------------------------------------
def test_import_is_light_and_collection_is_exported_lazily(tmp_path: Path) -> None:
    script = f"""
import json, sys
import embedlab
heavy = [m for m in ("torch", "transformers", "embedlab.store", "embedlab.store.collection")
         if m in sys.modules]
first = "embedlab.store" in sys.modules
from embedlab import create_collection, open_collection
from embedlab.store import Collection
docs = create_collection({str(tmp_path / "docs")!r}, model="glove-50d")
docs.add(["the king ruled the land", "stocks fell on the market"], ids=["a", "b"])
again = open_collection({str(tmp_path / "docs")!r})
hit = again.search("a queen and her kingdom", k=1)[0]
print(json.dumps({{"heavy": heavy, "store_before": first,
                   "same": embedlab.Collection is Collection, "isinstance": isinstance(again, embedlab.Collection),
                   "hit": hit.id, "dir": "Collection" in dir(embedlab)}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "heavy": [],
        "store_before": False,
        "same": True,
        "isinstance": True,
        "hit": "a",
        "dir": True,
    }
    with pytest.raises(AttributeError, match="no attribute 'Colection'"):
        embedlab.Colection  # noqa: B018
