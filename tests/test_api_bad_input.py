"""The Python API's public functions against bad input: a clear EmbedlabError, never a raw one.

Each row calls a public function the wrong way and expects an :class:`EmbedlabError` whose
message is one line; and saving never replaces what embedlab did not write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab._io import atomic_folder, check_output_folder, is_embedlab_output
from embedlab.apps.classify import TextClassifier
from embedlab.apps.cluster import cluster_texts
from embedlab.apps.dedupe import FAQMatcher, find_duplicates
from embedlab.apps.rag import ask, index_folder
from embedlab.apps.recommend import Recommender
from embedlab.errors import EmbedlabError, OutputError
from embedlab.store import create_collection, open_collection
from embedlab.text.readers import read_dataset, read_records

TEXTS = ["cats sit on mats", "dogs chase cats", "stocks fell today", "banks raised rates"]


@pytest.fixture(scope="module")
def tfidf():
    return embedlab.load("tfidf").fit(TEXTS)


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "mine.txt").write_text("mine")
    (tmp_path / "afile").write_text("not a model")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 garbage PAR1")
    (tmp_path / "open.csv").write_text('text\n"never closed\nnext\n')
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "fields.jsonl").write_text('{"body": "x"}\n')
    return tmp_path


def _one_line_error(call) -> EmbedlabError:
    with pytest.raises(EmbedlabError) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return info.value


@pytest.mark.parametrize(
    "spec", ["nosuchmodel", "./missing-folder", "folder", "afile", "", None, 42, "tfidf:x"]
)
def test_load_refuses_what_is_not_a_model(files, monkeypatch, spec):
    monkeypatch.chdir(files)
    _one_line_error(lambda: embedlab.load(spec))


@pytest.mark.parametrize(
    "texts",
    [None, 42, [None], [1, 2], [""], ["ok", "   "], [b"bytes"]],
    ids=repr,
)
def test_embed_refuses_bad_texts(tfidf, texts):
    _one_line_error(lambda: tfidf.embed(texts))


@pytest.mark.parametrize("options", [{"batch_size": 0}, {"batch_size": -1}])
def test_embed_refuses_bad_options(tfidf, options):
    _one_line_error(lambda: tfidf.embed(TEXTS, **options))


def test_embed_before_fit_says_so():
    _one_line_error(lambda: embedlab.load("tfidf").embed(TEXTS))


@pytest.mark.parametrize("path", ["afile", "folder"])
def test_save_never_replaces_what_embedlab_did_not_write(tfidf, files, path):
    target = files / path
    before = sorted(p.name for p in files.rglob("*"))
    error = _one_line_error(lambda: tfidf.save(target))
    assert isinstance(error, OutputError)
    assert sorted(p.name for p in files.rglob("*")) == before
    assert (files / "afile").read_text() == "not a model"


def test_save_replaces_a_model_and_force_replaces_a_foreign_folder(tfidf, files):
    model = tfidf.save(files / "model")
    assert is_embedlab_output(model)
    embedlab.load("tfidf").fit(TEXTS[:2]).save(model)  # an earlier model: replaced
    assert embedlab.load(model).dim != tfidf.dim
    tfidf.save(files / "folder", force=True)
    assert not (files / "folder" / "mine.txt").exists() and is_embedlab_output(files / "folder")
    with pytest.raises(OutputError, match="never replaces a file"):
        tfidf.save(files / "afile", force=True)  # a file: never, even forced
    assert not [p for p in files.iterdir() if p.name.startswith(".")]


def test_an_empty_folder_may_be_written_and_a_failed_write_leaves_nothing(files):
    (files / "empty").mkdir()
    check_output_folder(files / "empty")
    with pytest.raises(RuntimeError), atomic_folder(files / "new") as tmp:
        (tmp / "half.npy").write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert not (files / "new").exists()
    assert not [p for p in files.iterdir() if p.name.startswith(".")]


def test_an_output_under_a_file_is_refused(files):
    _one_line_error(lambda: check_output_folder(files / "afile" / "model"))


def test_classifier_refuses_bad_labels_and_bad_targets(tfidf, files):
    classifier = TextClassifier(tfidf)
    _one_line_error(lambda: classifier.fit(TEXTS, ["a"] * 4))
    _one_line_error(lambda: classifier.fit(TEXTS, ["a", "b"]))
    _one_line_error(lambda: classifier.save(files / "c"))  # not trained
    classifier.fit(TEXTS, ["pets", "pets", "money", "money"], folds=2)
    _one_line_error(lambda: classifier.save(files / "folder"))
    _one_line_error(lambda: classifier.save(files / "afile"))
    _one_line_error(lambda: TextClassifier.load(files / "folder"))


def test_cluster_and_recommend_refuse_bad_numbers_and_ids(tfidf):
    _one_line_error(lambda: cluster_texts(TEXTS, tfidf, k=0))
    _one_line_error(lambda: cluster_texts(TEXTS, tfidf, k=len(TEXTS) + 1))
    _one_line_error(lambda: cluster_texts(TEXTS, tfidf, method="nosuch"))
    recommender = Recommender.from_texts(["a", "b", "c", "d"], TEXTS, tfidf)
    _one_line_error(lambda: recommender.for_profile(["a"], [], 0))
    _one_line_error(lambda: recommender.similar("a", -1))
    _one_line_error(lambda: recommender.for_profile(["nosuch"], [], 2))
    _one_line_error(lambda: Recommender.from_texts(["a", "a", "c", "d"], TEXTS, tfidf))


@pytest.mark.parametrize("threshold", [1.5, -2, float("nan")])
def test_thresholds_are_cosines_everywhere(tfidf, threshold):
    _one_line_error(lambda: FAQMatcher(TEXTS, TEXTS, tfidf, threshold))
    _one_line_error(lambda: list(find_duplicates(tfidf.embed(TEXTS), threshold)))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("missing.txt", {}),
        ("folder", {}),
        ("empty.txt", {}),
        ("latin1.txt", {}),
        ("broken.parquet", {}),
        ("open.csv", {}),
        ("fields.jsonl", {}),
        ("fields.jsonl", {"field": "body", "id_field": "nosuch"}),
        ("afile", {}),
    ],
)
def test_readers_refuse_bad_files(files, name, options):
    _one_line_error(lambda: list(read_records(files / name, **options)))
    if "id_field" not in options:
        _one_line_error(lambda: read_dataset(files / name, **options))


def test_store_and_rag_refuse_bad_input(tfidf, files):
    _one_line_error(lambda: open_collection(files / "missing-collection"))
    model = tfidf.save(files / "model")
    store = create_collection(files / "col", model=model)
    try:
        _one_line_error(lambda: ask(store, "anything"))  # empty: index first
        _one_line_error(lambda: index_folder(files / "missing-docs", store))
        _one_line_error(lambda: index_folder(files / "afile", store))
        _one_line_error(lambda: store.add([None]))  # type: ignore[list-item]
        _one_line_error(lambda: store.add(["a", "b"], ids=["same", "same"]))
        store.add(TEXTS)
        _one_line_error(lambda: store.search("cats", k=0))
        _one_line_error(lambda: store.search("cats", where={"$bad": 1}))
        _one_line_error(lambda: ask(store, "  "))
        _one_line_error(lambda: ask(store, "cats", k=0))
        _one_line_error(lambda: store.add(["x"], vectors=np.zeros((1, 3), np.float32)))
    finally:
        store.close()
    assert Path(files / "col").is_dir()
