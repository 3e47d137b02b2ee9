"""The `embedlab` command line, run as a real process, on every input format and bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embedlab
from cli_helpers import assert_one_line_error, run_cli
from embedlab.output import read_vectors

cli = run_cli


@pytest.fixture()
def inputs(tmp_path, sample_texts):
    texts = sample_texts[:12]
    txt = tmp_path / "in.txt"
    txt.write_text("\n".join(texts) + "\n", encoding="utf-8")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"id": f"d{i}", "body": t}) + "\n" for i, t in enumerate(texts))
    )
    csv_path = tmp_path / "in.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "body"])
        writer.writerows([f"d{i}", t] for i, t in enumerate(texts))
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(texts))], "body": texts}), parquet)
    return texts, {"txt": txt, "jsonl": jsonl, "csv": csv_path, "parquet": parquet}


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "csv", "parquet"])
def test_embed_every_input_format_with_tfidf(tmp_path, inputs, fmt):
    texts, files = inputs
    out = tmp_path / f"out-{fmt}.parquet"
    extra = [] if fmt == "txt" else ["--field", "body", "--id-field", "id"]
    result = cli("embed", files[fmt], "--model", "tfidf", "--out", out, *extra)
    assert result.returncode == 0, result.stderr
    assert "wrote 12 vectors" in result.stderr and "fitted on the input first" in result.stderr
    table = pq.read_table(out)
    assert table.column("text").to_pylist() == texts
    expected_ids = list(range(12)) if fmt == "txt" else [f"d{i}" for i in range(12)]
    assert table.column("id").to_pylist() == expected_ids
    reference = embedlab.load("tfidf").fit(texts).embed(texts)
    np.testing.assert_allclose(read_vectors(out), reference, atol=1e-6)


def test_embed_with_minilm_matches_the_library(tmp_path, inputs, minilm):
    texts, files = inputs
    out = tmp_path / "out.npy"
    result = cli("embed", files["txt"], "--model", "minilm", "--out", out, "--batch-size", "5")
    assert result.returncode == 0, result.stderr
    vectors = np.load(out)
    assert vectors.shape == (12, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, minilm.embed(texts), atol=1e-5)


def test_similarity_ranks_a_paraphrase_above_an_unrelated_sentence():
    close = cli(
        "similarity", "A man is playing a guitar.", "Someone plays the guitar.", "--model", "minilm"
    )
    far = cli(
        "similarity",
        "A man is playing a guitar.",
        "Stock markets fell sharply.",
        "--model",
        "minilm",
    )
    assert close.returncode == 0 and far.returncode == 0, close.stderr + far.stderr
    assert float(close.stdout) > 0.7 > 0.2 > float(far.stdout)


def test_tokenize_walkthrough_for_a_contextual_model():
    shown = cli("tokenize", "I love programming.", "--model", "minilm")
    assert shown.returncode == 0, shown.stderr
    for fragment in (
        "[CLS]",
        "programming",
        "[SEP]",
        "2. token ids",
        "contextual",
        "pooled vector (mean",
    ):
        assert fragment in shown.stdout
    data = json.loads(
        cli("tokenize", "I love programming.", "--model", "minilm", "--json", "--dims", "3").stdout
    )
    assert data["tokens"] == ["[CLS]", "i", "love", "programming", ".", "[SEP]"]
    assert data["ids"] == [101, 1045, 2293, 4730, 1012, 102]
    assert len(data["contextual"]) == 6 and len(data["contextual"][0]) == 3
    assert data["vector_norm"] == pytest.approx(1.0, abs=1e-5)


def test_tokenize_walkthrough_for_word_level_and_sparse_models():
    glove = json.loads(cli("tokenize", "The cat sat.", "--model", "glove-50d", "--json").stdout)
    assert glove["tokens"] == ["the", "cat", "sat", "."]
    assert glove["contextual"] is None and len(glove["lookup"][0]) == 4
    tfidf = cli("tokenize", "Simmer the tomato sauce.", "--model", "tfidf")
    assert (
        tfidf.returncode == 0
        and "tomato" in tfidf.stdout
        and "fitted on the bundled sample" in tfidf.stdout
    )


def test_models_lists_the_catalogue():
    rows = json.loads(cli("models", "--json").stdout)
    names = {row.get("name") for row in rows}
    assert {"all-MiniLM-L6-v2", "all-mpnet-base-v2", "glove-6b-50d", "static-minilm"} <= names
    minilm_row = next(r for r in rows if r.get("name") == "all-MiniLM-L6-v2")
    assert minilm_row["installed"] and minilm_row["dims"] == 384 and minilm_row["max_tokens"] == 256


def test_bad_inputs_give_one_clear_line_and_no_output(tmp_path, inputs):
    _, files = inputs
    out = tmp_path / "never.npy"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_one_line_error(cli("embed", empty, "-m", "tfidf", "-o", out), "holds no texts")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    assert_one_line_error(cli("embed", latin, "-m", "tfidf", "-o", out), "not UTF-8", "iconv")
    assert_one_line_error(
        cli("embed", files["jsonl"], "-m", "tfidf", "-o", out), "no field 'text'", "body"
    )
    assert_one_line_error(
        cli("embed", files["txt"], "-m", "minlm", "-o", out), "unknown model 'minlm'", "minilm"
    )
    corrupt = tmp_path / "corrupt-model"
    corrupt.mkdir()
    (corrupt / "embedlab.json").write_text("{not json")
    assert_one_line_error(cli("embed", files["txt"], "-m", corrupt, "-o", out), "not valid JSON")
    assert_one_line_error(cli("similarity", "", "text", "-m", "tfidf"), "text 0 is empty")
    assert not out.exists() and not list(tmp_path.glob(".*.partial"))


def test_kill_9_mid_run_then_resume(tmp_path, sample_texts):
    model = embedlab.load("tfidf", max_features=256).fit(sample_texts).save(tmp_path / "model")
    source = tmp_path / "big.txt"
    lines = [f"{sample_texts[i % 40]} {sample_texts[(i * 7) % 40]} #{i}" for i in range(100_000)]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "big.npy"
    args = [
        sys.executable,
        "-m",
        "embedlab.cli.main",
        "embed",
        str(source),
        "-m",
        str(model),
        "-o",
        str(out),
    ]
    child = subprocess.Popen(
        [*args, "--chunk-rows", "500", "--no-progress"], stderr=subprocess.PIPE
    )
    state = tmp_path / ".big.npy.partial" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if state.is_file() and json.loads(state.read_text() or '{"rows": 0}')["rows"] >= 1000:
            break
        time.sleep(0.005)
    assert child.poll() is None, "the run finished before it could be interrupted"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not out.exists()
    resumed = cli("embed", source, "-m", model, "-o", out, "--chunk-rows", "500", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after" in resumed.stderr
    done_before = int(resumed.stderr.split("resumed after ")[1].split(" rows")[0].replace(",", ""))
    assert 1000 <= done_before < 100_000 and done_before % 500 == 0
    vectors = np.load(out)
    assert vectors.shape == (100_000, 256)
    expected_rows = [0, 999, done_before - 1, done_before, 99_999]
    np.testing.assert_allclose(
        vectors[expected_rows],
        embedlab.load(model).embed([lines[i] for i in expected_rows]),
        atol=1e-6,
    )
