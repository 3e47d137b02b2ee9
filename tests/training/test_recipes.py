"""The catalogue's students trained here: built on request only, then loadable by name and
measured by compare's default set; not built, they are named with the command that builds them."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab import catalogue
from embedlab.errors import ModelNotInstalledError, UnknownModelError
from embedlab.eval.compare import default_models, unbuilt_note
from embedlab.training.recipes import RECIPES, build, recipe_corpus

STUDENTS = ["static-minilm-tl", "dan-minilm", "bilstm-minilm"]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedlab cache, sharing the real one's static-minilm and ONNX exports (so the
    DAN's start rows and MiniLM's runtime are not made again)."""
    real = catalogue.static_minilm_path()
    real_onnx = real.parent.parent / "onnx"
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "static-minilm").symlink_to(real)
    if real_onnx.is_dir():
        (home / "onnx").symlink_to(real_onnx)
    monkeypatch.setenv("EMBEDLAB_HOME", str(home))
    return home


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Path:
    lines = resources.files("embedlab.data").joinpath("calibration_texts.txt").read_text("utf-8")
    path = tmp_path / "corpus.txt"
    path.write_text(lines, encoding="utf-8")
    return path


def test_the_catalogue_lists_the_three_and_prepare_all_leaves_them_alone(home):
    for name in STUDENTS:
        entry = catalogue.find(name)
        assert entry is not None and entry.trained_here and name in RECIPES
        assert not entry.prepared
    assert all(name not in dict(catalogue.prepare(["minilm"])) for name in STUDENTS)
    usable, unbuilt = default_models()
    assert unbuilt == STUDENTS and not set(unbuilt) & set(usable) and "minilm" in usable
    note = unbuilt_note(unbuilt)
    assert "embedlab models prepare static-minilm-tl dan-minilm bilstm-minilm" in note


def test_an_unbuilt_student_is_one_line_saying_how_to_build_it(home):
    with pytest.raises(ModelNotInstalledError, match="embedlab models prepare dan-minilm"):
        embedlab.load("dan-minilm")
    done = subprocess.run(
        [sys.executable, "-m", "embedlab.cli.main", "compare", "--models", "tfidf,bilstm-minilm"],
        capture_output=True,
        text=True,
        cwd=home.parent,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "embedlab models prepare bilstm-minilm" in lines[0]
    assert not (home.parent / "compare-results").exists()  # refused before measuring
    with pytest.raises(UnknownModelError, match="Use one of: static-minilm-tl"):
        build("minilm")


def test_a_recipe_builds_a_student_that_loads_by_name(home, small_corpus):
    folder = build("dan-minilm", corpus=str(small_corpus), texts=200, stsb_train=False)
    assert folder == home / "models" / "dan-minilm"
    assert not list((home / "models").glob(".dan-minilm*"))  # no hidden build folder left
    assert catalogue.find("dan-minilm").prepared
    model = embedlab.load("dan-minilm")
    assert model.name == "dan-minilm" and model.method == "dan"
    vectors = model.embed(["a cat sat on the mat", "a kitten sat on the rug"])
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
    epochs = RECIPES["dan-minilm"].epochs
    assert model.training["epochs"] == pytest.approx(epochs, abs=0.05)  # the recipe's, not minutes
    # now compare's default set measures it; the two others are still left out
    usable, unbuilt = default_models()
    assert "dan-minilm" in usable and unbuilt == ["static-minilm-tl", "bilstm-minilm"]
    assert build("dan-minilm", corpus=str(small_corpus), texts=200) == folder  # done once


def test_the_recipe_corpus_takes_distinct_lines_then_stsb_train_and_keeps_its_date(
    tmp_path, small_corpus
):
    target = tmp_path / "recipe.txt"
    path, described = recipe_corpus(target, str(small_corpus), texts=50, stsb_train=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(set(lines)) > 50  # 50 corpus lines, then STS-B training sentences
    assert lines[:50] == small_corpus.read_text(encoding="utf-8").splitlines()[:50]
    assert described.startswith(f"{len(lines):,} texts (50 from ")
    stamp = path.stat().st_mtime_ns
    recipe_corpus(target, str(small_corpus), texts=50, stsb_train=True)
    assert path.stat().st_mtime_ns == stamp  # unchanged: the teacher cache keyed by it holds
