"""Commands that take a model take a word-vector file too; `embedlab models cache` and `prune`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import embedlab
from cli_helpers import run_cli
from embedlab.embedders.words.vectors import WordVectorEmbedder, WordVectors
from embedlab.eval import get_task


def cli(*args: object, home: Path | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env=None if home is None else {"EMBEDLAB_HOME": str(home)})


@pytest.fixture(scope="module")
def vec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 20,000 most frequent packaged GloVe words, as a word2vec text file."""
    kv = embedlab.load("glove-50d").vectors
    small = WordVectors(kv.words[:20_000], np.asarray(kv.vectors[:20_000]))
    return small.save(tmp_path_factory.mktemp("vectors") / "glove-20k.vec")


def test_eval_words_takes_a_word_vector_file(vec_file: Path) -> None:
    result = cli("eval", "words", vec_file, "--limit", 100, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["task"] == "words" and report["model"] == "glove-20k.vec"
    # the scores of the library on the same file: the file was read as those word vectors
    model = embedlab.load(vec_file)
    assert isinstance(model, WordVectorEmbedder) and len(model.vectors) == 20_000
    expected = get_task("words", limit=100).run(model).scores
    assert report["scores"]["wordsim353"] == pytest.approx(expected["wordsim353"])
    assert report["scores"]["wordsim353"] > 0.5  # GloVe 50d: 0.63 on these pairs


def test_similarity_and_neighbors_take_the_file(vec_file: Path) -> None:
    near = cli("neighbors", vec_file, "king", "--topn", 3, "--json")
    assert near.returncode == 0, near.stderr
    assert "prince" in [row["word"] for row in json.loads(near.stdout)["results"]]
    close = cli("similarity", "the king and queen", "a royal prince", "--model", vec_file)
    far = cli("similarity", "the king and queen", "stock market prices", "--model", vec_file)
    assert close.returncode == 0 and far.returncode == 0, close.stderr + far.stderr
    assert float(close.stdout) > float(far.stdout)
    missing = cli("eval", "words", vec_file.with_name("missing.vec"))
    assert missing.returncode == 2 and "no word-vector file at" in missing.stderr


# -- the cache ----------------------------------------------------------------------------------
def linked_copy(source: Path, target: Path) -> Path:
    """A copy of an export folder whose big files are hard links (instant, no extra disk)."""
    shutil.copytree(source, target, copy_function=os.link)
    return target


def rewrite_info(folder: Path, **changes: object) -> None:
    info_path = folder / "export.json"
    info = json.loads(info_path.read_text())
    info_path.unlink()  # a hard link: never write through it into the original
    info_path.write_text(json.dumps({**info, **changes}))


def statuses(home: Path) -> dict[str, tuple[str, bool]]:
    result = cli("models", "cache", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return {row["name"]: (row["status"], row["stale"]) for row in json.loads(result.stdout)}


def age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_models_cache_and_prune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("EMBEDLAB_HOME", str(home))
    model = embedlab.load("minilm", runtime="onnx", threads=1)
    current = model.onnx_path.parent  # a real export, made now
    info = json.loads((current / "export.json").read_text())
    assert info["export_version"] >= 2 and info["keep_fp32"] == []
    onnx = current.parent
    old_recipe = linked_copy(current, onnx / current.name.replace("fp32-", "fp32-0000"))
    gone = linked_copy(current, onnx / "moved-model-fp32-1234567890abcdef")
    rewrite_info(gone, source=str(tmp_path / "moved"))
    crashed = onnx / f".{current.name}.abc123"
    crashed.mkdir()
    (crashed / "model.onnx").write_bytes(b"half")
    age(crashed, 7200)
    writing = onnx / f".{current.name}.def456"  # another process exporting right now
    writing.mkdir()
    prepared = home / "models" / "static-minilm"
    prepared.mkdir(parents=True)
    (prepared / "model.safetensors").write_bytes(b"\0" * 1000)
    (home / "data").mkdir()
    (home / "data" / "sts.csv").write_text("kept")

    assert statuses(home) == {
        "static-minilm": ("prepared", False),
        current.name: ("current", False),
        old_recipe.name: ("older recipe, library version or weights", True),
        gone.name: ("source model gone", True),
        crashed.name: ("left by an interrupted write", True),
        writing.name: ("being written", False),
        "data": ("kept", False),
    }
    table = cli("models", "cache", home=home)
    assert table.returncode == 0 and "frees" in table.stdout

    dry = cli("models", "prune", "--dry-run", "--json", home=home)
    assert dry.returncode == 0, dry.stderr
    planned = {row["name"] for row in json.loads(dry.stdout)["removed"]}
    assert planned == {old_recipe.name, gone.name, crashed.name}
    assert old_recipe.exists() and gone.exists()  # a dry run removes nothing

    pruned = cli("models", "prune", home=home)
    assert pruned.returncode == 0 and "removed 3 entries" in pruned.stdout, pruned.stderr
    assert not old_recipe.exists() and not gone.exists() and not crashed.exists()
    assert current.is_dir() and writing.is_dir() and prepared.is_dir()
    assert "Nothing to prune" in cli("models", "prune", home=home).stdout

    # loading the export marks it used, so --unused-days keeps it; an old one goes
    age(current, 3 * 86400)
    assert embedlab.load("minilm", runtime="onnx").onnx_path.parent == current
    assert time.time() - current.stat().st_mtime < 600
    assert cli("models", "prune", "--unused-days", 2, home=home).returncode == 0
    assert current.is_dir()
    age(current, 3 * 86400)
    assert cli("models", "prune", "--unused-days", 2, home=home).returncode == 0
    assert not current.exists() and prepared.is_dir()

    gone_models = cli("models", "prune", "--models", "--all", "--json", home=home)
    assert [row["name"] for row in json.loads(gone_models.stdout)["removed"]] == ["static-minilm"]
    assert not prepared.exists() and writing.is_dir() and (home / "data" / "sts.csv").is_file()
