"""`embedlab context`, `embedlab train gpt` and `--runtime`, run as real processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli_helpers import assert_one_line_error, run_cli
from embedlab.eval.datasets import gensim_test_file


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env={"EMBEDLAB_THREADS": "1", **(env or {})})


def test_context_command() -> None:
    river, money = "I sat by the river bank.", "I opened a bank account."
    result = cli("context", "bank", river, money, river, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [c["tokens"] for c in data["contexts"]] == [["bank"]] * 3
    similarity = data["cosine_similarity"]
    assert similarity[0][1] < 0.9 and similarity[0][2] == pytest.approx(1.0, abs=1e-5)
    assert data["cosine_distance"][0][1] == pytest.approx(1 - similarity[0][1], abs=1e-6)
    assert len(data["mean_cosine_by_layer"]) == 7

    table = cli("context", "bank", river, money, "--layer", "mix")
    assert table.returncode == 0, table.stderr
    assert "most different: 1 and 2" in table.stdout and "mix all 7 hidden states" in table.stdout

    assert_one_line_error(
        cli("context", "bank", river, "The weather is nice."), "does not occur in text 2"
    )


def test_train_gpt_then_use_it(tmp_path: Path) -> None:
    corpus = tmp_path / "lee.txt"  # gensim's Lee news corpus, converted to UTF-8
    lines = gensim_test_file("lee_background.cor").read_text(encoding="latin-1").splitlines()
    corpus.write_text("\n".join(line for line in lines[:80] if line.strip()), encoding="utf-8")
    out = tmp_path / "gpt"
    small = ["--layers", "1", "--dim", "16", "--heads", "2", "--context", "32"]
    trained = cli("train", "gpt", corpus, "--out", out, *small, "--vocab-size", "400",
                  "--steps", "20", "--no-progress")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "validation loss" in trained.stderr and (out / "model.safetensors").is_file()

    same = cli("similarity", "The police said", "The police said", "--model", out,
               "--runtime", "onnx-int8", env={"EMBEDLAB_HOME": str(tmp_path / "home")})  # fmt: skip
    assert same.returncode == 0, same.stderr
    assert float(same.stdout) == pytest.approx(1.0, abs=1e-4)
    assert list((tmp_path / "home" / "onnx").glob("*int8*/model.onnx"))

    assert_one_line_error(cli("train", "gpt", corpus, "--out", out, *small), "already exists")
    assert_one_line_error(
        cli("train", "gpt", tmp_path / "missing.txt", "--out", tmp_path / "x"), "no file"
    )


def test_runtime_option_errors(tmp_path: Path) -> None:
    assert_one_line_error(cli("similarity", "a", "b", "--runtime", "gpu"), "unknown runtime")
    assert_one_line_error(
        cli("similarity", "a", "b", "--model", "tfidf", "--runtime", "onnx"),
        "for transformer models",
    )
    assert_one_line_error(
        cli("eval", "sts", str(tmp_path / "no-model"), "--runtime", "onnx"), "no model folder"
    )
