"""`embedlab train`, `neighbors`, `analogy`, `data corpus` and `eval words`, run as real processes."""

from __future__ import annotations

import inspect
import json
import random
from pathlib import Path

import pytest

import embedlab
from cli_helpers import assert_one_line_error, run_cli
from embedlab.cli import train as train_cli
from embedlab.embedders.methods import method_class

ANIMALS = ["cat", "dog", "mouse", "horse", "cow", "sheep"]
VEHICLES = ["car", "truck", "bus", "train", "bicycle", "plane"]


cli = run_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(0)
    lines = []
    for _ in range(2000):
        words = rng.sample(rng.choice([ANIMALS, VEHICLES]), 5) + rng.choices(
            ["the", "a", "of"], k=2
        )
        rng.shuffle(words)
        lines.append(" ".join(words))
    path = tmp_path_factory.mktemp("corpus") / "planted.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "w2v"
    vec = out.with_suffix(".vec")
    result = cli(
        "train", "word2vec", corpus, "--out", out, "--dim", 16, "--min-count", 1, "--window", 6,
        "--architecture", "skipgram", "--workers", 1, "--no-progress", "--export", vec,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "trained word2vec on 14,000 tokens (2,000 texts)" in result.stderr
    return out


def test_train_neighbors_and_export(trained: Path) -> None:
    model = embedlab.load(trained)
    assert model.method == "word2vec" and model.params["architecture"] == "skipgram"
    for source in (trained, trained.with_suffix(".vec")):
        result = cli("neighbors", source, "cat", "--topn", 4, "--json")
        assert result.returncode == 0, result.stderr
        near = [row["word"] for row in json.loads(result.stdout)["results"]]
        assert set(near) <= set(ANIMALS), near
    table = cli("neighbors", trained, "truck", "-n", 3)
    assert table.returncode == 0 and "nearest to 'truck'" in table.stdout


def test_analogy_on_packaged_glove() -> None:
    result = cli("analogy", "glove-50d", "man", "king", "woman", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["word"] == "queen"


def test_train_glove_and_eval_words(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "glove"
    result = cli(
        "train", "glove", corpus, "--out", out, "--dim", 12, "--min-count", 1, "--epochs", 10,
        "--batch-size", 256, "--workers", 1, "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    model = embedlab.load(out)
    assert model.training["loss_history"][-1] < model.training["loss_history"][0]
    scores = cli("eval", "words", out, "--limit", 50, "--json")
    assert scores.returncode == 0, scores.stderr
    result_json = json.loads(scores.stdout)
    assert result_json["task"] == "words"
    assert result_json["scores"]["wordsim353_oov_pairs"] > 40  # a tiny vocabulary


def test_bad_input_is_one_line(corpus: Path, tmp_path: Path, trained: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert_one_line_error(
        cli("train", "word2vec", empty, "--out", tmp_path / "m", "--no-progress"), "no texts"
    )
    assert not (tmp_path / "m").exists()
    assert_one_line_error(cli("neighbors", trained, "zebra"), "'zebra' is not in the vocabulary")
    pickle_file = tmp_path / "vectors.model"
    pickle_file.write_bytes(b"\x80\x04\x95" + b"\0" * 32)
    assert_one_line_error(cli("neighbors", pickle_file, "cat"), "pickle", "save_word2vec_format")
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"10 4\ncat " + b"\0" * 7)
    assert_one_line_error(cli("analogy", corrupt, "a", "b", "c"), "truncated")
    assert_one_line_error(cli("data", "corpus", "wikipedia"), "unknown corpus 'wikipedia'")


def test_data_corpus_prepares_lee(tmp_path: Path) -> None:
    result = cli("data", "corpus", "lee", "--dir", tmp_path, "--no-progress")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "corpora" / "lee.txt"
    assert "lee: 300 lines" in result.stderr and path.is_file()
    listing = cli("data", "corpus", "--dir", tmp_path)
    assert listing.returncode == 0 and "wordnet" in listing.stdout


@pytest.mark.parametrize(
    ("command", "method"),
    [
        (train_cli.word2vec_command, "word2vec"),
        (train_cli.fasttext_command, "fasttext"),
        (train_cli.doc2vec_command, "doc2vec"),
        (train_cli.glove_command, "glove"),
    ],
)
def test_cli_defaults_are_the_model_defaults(command: object, method: str) -> None:
    """One source of truth: every training option's CLI default equals the class default."""
    klass = method_class(method)
    defaults: dict[str, object] = {}
    for cls in reversed(klass.__mro__):
        if "__init__" in vars(cls):
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if p.default is not inspect.Parameter.empty:
                    defaults[name] = p.default
    checked = 0
    for name, p in inspect.signature(command).parameters.items():
        if name in defaults and name not in ("pooling", "sif_a"):
            assert p.default == defaults[name], (method, name, p.default, defaults[name])
            checked += 1
    assert checked >= 8
