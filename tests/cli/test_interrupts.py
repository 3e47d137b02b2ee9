"""Ctrl-C in long commands: exit 130 and one ``interrupted: ...`` line saying what was kept
and how to go on (never a silent exit, never a traceback), as real processes get it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from cli_helpers import run_cli

ENV = {**os.environ, "EMBEDLAB_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def interrupt(args: list[object], ready: Callable[[], bool]) -> tuple[int, list[str]]:
    """Run ``embedlab ARGS``, send SIGINT once ``ready()``, return (exit status, stderr lines)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "embedlab.cli.main", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, f"it ended before Ctrl-C: {process.communicate()}"
        assert time.monotonic() < deadline, "it never got going"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    return process.returncode, [line for line in stderr.splitlines() if line.strip()]


def test_ctrl_c_while_training_says_nothing_was_saved(tmp_path):
    words = [
        "cat",
        "dog",
        "bank",
        "river",
        "stock",
        "bond",
        "rate",
        "yield",
        "mat",
        "yarn",
        "kitten",
        "puppy",
    ]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n".join(" ".join(words[(i * 7 + j) % 12] for j in range(12)) for i in range(50_000)),
        encoding="utf-8",
    )
    out = tmp_path / "model"
    started = time.monotonic()
    code, lines = interrupt(
        [
            "train",
            "word2vec",
            corpus,
            "-o",
            out,
            "--epochs",
            "200",
            "--min-count",
            "1",
            "--no-progress",
        ],
        lambda: time.monotonic() - started > 6,  # past start-up, well into training
    )
    assert code == 130
    assert lines == [
        "interrupted: nothing was saved (the model folder is written only when training ends); "
        "run the same command again"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]  # no half-made folder


def test_ctrl_c_while_indexing_keeps_what_is_indexed_and_a_rerun_finishes(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(1_500):
        (docs / f"note-{i:04d}.md").write_text(
            f"# Note {i}\n\nThe {('cat', 'bank', 'river')[i % 3]} item number {i}.\n",
            encoding="utf-8",
        )
    collection = tmp_path / "notes"
    args = ["index", docs, "-c", collection, "-m", "static-minilm"]

    def some_indexed() -> bool:
        if not (collection / "items.sqlite").exists():
            return False
        time.sleep(0.5)
        return True

    code, lines = interrupt(args, some_indexed)
    assert code == 130
    assert lines[-1].startswith("interrupted: the documents indexed so far stay"), lines
    assert "run the same command again" in lines[-1]
    assert all(not line.startswith(("error", "interrupted")) for line in lines[:-1]), lines
    info = json.loads(run_cli("collection", "info", collection, "--json", env=ENV).stdout)
    assert 0 < info["count"] < 1_500
    rerun = run_cli(*args, env=ENV)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{info['count']} unchanged" in rerun.stderr
    assert (
        json.loads(run_cli("collection", "info", collection, "--json", env=ENV).stdout)["count"]
        == 1_500
    )


def test_ctrl_c_stops_a_server_and_says_so(tmp_path):
    with socket.socket() as probe:  # a free loopback port for the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def answering() -> bool:
        with socket.socket() as client:
            return client.connect_ex(("127.0.0.1", port)) == 0

    args = ["serve", "--port", port, "--models", "static-minilm", "--jobs-dir", tmp_path / "jobs"]
    code, lines = interrupt(args, answering)
    assert code == 130
    assert lines[-1] == (
        "interrupted: the server stopped; what its collections and jobs stored stays on disk"
    ), lines
    assert not any("run it again" in line for line in lines), lines
