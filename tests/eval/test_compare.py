"""`compare`: one table of quality, speed and memory; cached; written as Markdown, JSON and PNG."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from embedlab.errors import OutputError
from embedlab.eval.compare import OUTPUT_FILES, compare, write_outputs


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_compare_measures_caches_and_writes_every_output(home, tmp_path):
    reports = compare(["tfidf", "glove-50d"], ["bias", "pairs"], limit=80)
    by_model = {r.model: r for r in reports}
    glove = by_model["glove-50d"]
    assert glove.dim == 50 and glove.vector_bytes == 200
    assert glove.scores["bias"] > 0.5  # GloVe carries the documented WEAT associations
    assert 0.5 < glove.scores["pairs"] <= 1.0
    assert glove.sentences_per_second > 0 and glove.peak_memory_mb > 50 and glove.load_seconds > 0
    assert (
        by_model["tfidf"].scores["bias"] == 0.0
    )  # single words share no terms: no association at all

    # A rerun reads the cache: prove it by editing a cached figure and seeing it come back.
    cached = sorted((home / "compare").glob("*.json"))
    assert len(cached) == 6  # 2 models x (2 tasks + speed)
    for path in cached:
        data = json.loads(path.read_text())
        if data.get("score") == glove.scores["bias"]:
            path.write_text(json.dumps({"score": 0.123}))
    again = {r.model: r for r in compare(["tfidf", "glove-50d"], ["bias", "pairs"], limit=80)}
    assert again["glove-50d"].scores["bias"] == 0.123
    fresh = {r.model: r for r in compare(["glove-50d"], ["bias"], limit=80, fresh=True)}
    assert fresh["glove-50d"].scores["bias"] == pytest.approx(glove.scores["bias"])

    md, js, png = write_outputs(reports, ["bias", "pairs"], tmp_path / "out")
    assert "| glove-50d |" in md.read_text() and "sentences/s" in md.read_text()
    assert {row["model"] for row in json.loads(js.read_text())["models"]} == {"tfidf", "glove-50d"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    # A second compare replaces its own files; no temporary file is left beside them.
    write_outputs(reports[:1], ["bias"], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUTPUT_FILES)
    assert len(json.loads(js.read_text())["models"]) == 1

    # A folder holding the user's own compare.md is refused (nothing written), unless --force.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "compare.md").write_text("my notes")
    with pytest.raises(OutputError, match="not written by embedlab compare"):
        write_outputs(reports, ["bias", "pairs"], mine)
    assert [p.name for p in mine.iterdir()] == ["compare.md"]
    assert (mine / "compare.md").read_text() == "my notes"
    write_outputs(reports, ["bias", "pairs"], mine, force=True)
    assert "| glove-50d |" in (mine / "compare.md").read_text()


def test_compare_reports_a_broken_model_without_stopping(home):
    reports = compare(["nosuchmodel", "glove-50d"], ["bias"], limit=50)
    assert "unknown model" in reports[0].errors["load"]
    assert "bias" in reports[1].scores


def test_compare_cli_prints_the_table(home, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "embedlab.cli.main",
            "compare",
            "--models",
            "glove-50d",
            "--tasks",
            "bias",
            "--limit",
            "50",
            "--out",
            str(tmp_path / "cmp"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "glove-50d" in done.stdout and (tmp_path / "cmp" / "compare.png").is_file()


def test_compare_ranks_audio_and_image_models_on_their_own_tasks(home):
    """Media models get compare rows: no sentence speed (they take no text), scores from the
    speaker and digit tasks, and a text task is an error of that row, not of the run."""
    reports = {r.model: r for r in compare(["mfcc", "pixels"], ["speakers", "digits"], limit=300)}
    mfcc, pixels = reports["mfcc"], reports["pixels"]
    assert mfcc.sentences_per_second is None and pixels.sentences_per_second is None
    assert mfcc.scores["speakers"] > 0.5  # 8 voices: chance is about 1/8
    assert pixels.scores["digits"] > 0.5  # 10 digits: chance is 0.1
    assert "speakers" in pixels.errors and "digits" in mfcc.errors
