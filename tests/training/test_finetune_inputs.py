"""Fine-tuning's bad inputs (one clear line, nothing written) and resuming a killed run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import embedlab
from cli_helpers import invoke_cli
from embedlab.errors import EmbedlabError
from embedlab.eval.datasets import sts_benchmark
from embedlab.eval.wordnet_usage import read_synsets
from embedlab.text.corpora import corpus_path, prepare_corpus


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finetune-inputs")
    sts = [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in sts_benchmark("dev")[:40]]
    write_csv(root / "sts.csv", sts)
    write_csv(root / "out-of-range.csv", [*sts[:39], {**sts[39], "score": 7.5}])
    write_csv(root / "not-a-number.csv", [*sts[:39], {**sts[39], "score": "high"}])
    write_csv(root / "unknown.csv", [{"question": "q", "reply": "r"}] * 40)
    write_csv(root / "one-class.csv", [{"text": r["sentence1"], "label": "a"} for r in sts])
    (root / "empty.csv").write_text("", encoding="utf-8")
    (root / "few.txt").write_text("one text\nanother text\n", encoding="utf-8")
    try:
        wordnet = corpus_path("wordnet")
    except EmbedlabError:
        wordnet = prepare_corpus("wordnet", root / "data").path
    synsets = read_synsets(wordnet)[:16]
    write_csv(
        root / "pairs.csv", [{"anchor": s.examples[0], "positive": s.definition} for s in synsets]
    )
    embedlab.load("tfidf").fit([r["sentence1"] for r in sts]).save(root / "tfidf-model")
    return root


@pytest.mark.parametrize(
    ("base", "data", "options", "message"),
    [
        ("minilm", "unknown.csv", [], "has the columns question, reply, which make no"),
        ("minilm", "empty.csv", [], "holds no rows"),
        ("minilm", "out-of-range.csv", ["--score-range", "0,5"], "outside the declared range"),
        ("minilm", "not-a-number.csv", [], "the score 'high' is not a number"),
        ("minilm", "one-class.csv", [], "one class only"),
        ("minilm", "few.txt", [], "2 training rows are too few for the batch size 32"),
        ("tfidf-model", "sts.csv", [], "is a tfidf model, not a transformer"),
        ("minilm", "sts.csv", ["--dims", "512,128"], "outside 1..384"),
        ("minilm", "few.txt", ["--adapt", "pseudo", "--batch-size", "2"], "needs a pool column"),
        ("minilm", "sts.csv", ["--symmetric"], "--symmetric is for pairs, not scored pairs"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(files, monkeypatch, base, data, options, message):
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.iterdir())
    result = invoke_cli("finetune", base, data, "--out", "new-model", "--no-progress", *options)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert sorted(p.name for p in files.iterdir()) == before  # no model, no checkpoints


def test_a_killed_run_resumes_from_its_last_checkpoint(files, tmp_path):
    out = tmp_path / "model"
    argv = [
        sys.executable, "-m", "embedlab.cli.main", "finetune", "minilm", str(files / "pairs.csv"),
        "--out", str(out), "--max-steps", "6", "--save-every", "2", "--batch-size", "4",
        "--max-length", "16", "--eval-split", "0", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoint = out.with_name("model.checkpoints") / "checkpoint-2"
    deadline = time.monotonic() + 300
    while not (checkpoint / "trainer_state.json").is_file() and child.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not out.exists()  # killed before the end: the output folder was never half-written
    lines: list[str] = []
    result = embedlab.finetune(
        "minilm", files / "pairs.csv", out=out, resume=True, log=lines.append,
        max_steps=6, save_every=2, batch_size=4, max_length=16, eval_split=0,
    )  # fmt: skip
    assert any(line.startswith("resuming from") for line in lines), lines
    assert result.report["stopped"] == "done"
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 6 and report["resumed_from"].endswith(("-2", "-4"))
    assert embedlab.load(out).embed(["a text"]).shape == (1, 384)
    again = invoke_cli("finetune", "minilm", files / "pairs.csv", "--out", tmp_path / "other",
                       "--resume", "--batch-size", "4", "--no-progress")  # fmt: skip
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_ctrl_c_saves_a_usable_model_and_keeps_the_checkpoints(files, tmp_path):
    out = tmp_path / "model"
    argv = [
        sys.executable, "-m", "embedlab.cli.main", "finetune", "minilm", str(files / "pairs.csv"),
        "--out", str(out), "--max-steps", "400", "--save-every", "1", "--batch-size", "4",
        "--max-length", "16", "--eval-split", "0", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    child = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    checkpoint = out.with_name("model.checkpoints") / "checkpoint-1"
    deadline = time.monotonic() + 300
    while not (checkpoint / "trainer_state.json").is_file() and child.poll() is None:
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["stopped"] == "interrupted" and 1 <= report["steps"] < 400
    assert embedlab.load(out).embed(["a text"]).shape == (1, 384)
    assert checkpoint.parent.is_dir()  # kept, so --resume can finish the run
