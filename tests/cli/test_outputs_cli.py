"""Nothing lost, nothing surprising: outputs never replace what embedlab did not write, errors
keep their text, hints name real options, a failed command leaves nothing half-made."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

import embedlab
from cli_helpers import assert_one_line_error, invoke_cli
from embedlab.embedders.base import Embedder
from embedlab.store import create_collection


@pytest.fixture()
def corpus(tmp_path, sample_texts):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    return path


def _train(corpus, out, *extra):
    return invoke_cli(
        "train", "word2vec", corpus, "--out", out, "--min-count", "1", "--epochs", "1",
        "--dim", "8", "--no-progress", *extra,
    )  # fmt: skip


def test_training_over_an_earlier_model_replaces_it(tmp_path, corpus):
    out = tmp_path / "model"
    assert _train(corpus, out).returncode == 0
    (out / "embedlab.json").write_text(
        (out / "embedlab.json").read_text().replace('"dim": 8', '"dim": 8 ')
    )
    stamp = (out / "embedlab.json").read_bytes()
    again = _train(corpus, out, "--dim", "12")
    assert again.returncode == 0, again.stderr
    assert (out / "embedlab.json").read_bytes() != stamp
    assert embedlab.load(out).dim == 12
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_foreign_folder_is_refused_before_training_and_kept(tmp_path, corpus):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8 my photo")
    result = _train(corpus, out)
    assert_one_line_error(result, "embedlab did not write", "--force")
    assert "trained" not in result.stderr  # refused before the work, not after
    assert [p.name for p in out.iterdir()] == ["holiday.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "photos"]


def test_a_marker_file_name_alone_does_not_make_a_folder_embedlabs(tmp_path, corpus):
    """A user's folder with its own training.json / embedlab.json is not an embedlab output."""
    for marker in ("training.json", "embedlab.json", "classifier.json"):
        out = tmp_path / f"mine-{marker}"
        out.mkdir()
        (out / marker).write_text('{"epochs": 3, "notes": "my own run"}', encoding="utf-8")
        (out / "results.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        assert_one_line_error(_train(corpus, out), "embedlab did not write", "--force")
        assert sorted(p.name for p in out.iterdir()) == sorted([marker, "results.csv"])


def test_force_replaces_a_foreign_folder(tmp_path, corpus):
    out = tmp_path / "scratch"
    out.mkdir()
    (out / "notes.txt").write_text("old")
    result = _train(corpus, out, "--force")
    assert result.returncode == 0, result.stderr
    assert not (out / "notes.txt").exists() and (out / "embedlab.json").is_file()


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_file_is_never_replaced_by_a_model_folder(tmp_path, corpus, force):
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = _train(corpus, target, *force)
    assert_one_line_error(result, "not a folder", "never replaces a file")
    assert target.read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    assert "saved to" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "passwd"]


def test_classifier_and_embed_save_model_use_the_same_rule(tmp_path, sample_texts):
    data = tmp_path / "labelled.csv"
    rows = [f'"{t}",{"a" if i % 2 else "b"}' for i, t in enumerate(sample_texts)]
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    trained = invoke_cli("classify", "train", data, "-o", foreign, "-m", "tfidf", "--folds", "2")
    assert_one_line_error(trained, "embedlab did not write")
    embedded = invoke_cli(
        "embed", data, "-o", tmp_path / "v.npy", "-m", "tfidf", "--save-model", foreign,
        "--no-progress",
    )  # fmt: skip
    assert_one_line_error(embedded, "embedlab did not write")
    assert not (tmp_path / "v.npy").exists()
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    # A classifier folder is an embedlab output: a model may replace it, and the other way.
    classifier = tmp_path / "classifier"
    ok = invoke_cli("classify", "train", data, "-o", classifier, "-m", "tfidf", "--folds", "2")
    assert ok.returncode == 0, ok.stderr
    replaced = invoke_cli(
        "embed", data, "-o", tmp_path / "v.npy", "-m", "tfidf", "--save-model", classifier,
        "--no-progress",
    )  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    assert isinstance(Embedder.load(classifier), Embedder)


def test_embed_output_that_is_a_folder_fails_before_the_work(tmp_path, corpus):
    out = tmp_path / "vectors.npy"
    out.mkdir()
    result = invoke_cli("embed", corpus, "-o", out, "-m", "tfidf", "--no-progress")
    assert_one_line_error(result, "is a folder")
    assert list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "vectors.npy"]


def test_a_missing_input_leaves_no_partial_that_blocks_the_next_run(tmp_path, sample_texts):
    source = tmp_path / "later.txt"
    out = tmp_path / "out.npy"
    missing = invoke_cli("embed", source, "-o", out, "-m", "tfidf", "--no-progress")
    assert_one_line_error(missing, "no file at")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    source.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    ok = invoke_cli("embed", source, "-o", out, "-m", "tfidf", "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert np.load(out).shape[0] == len(sample_texts)


def test_a_corrupt_parquet_input_is_one_line(tmp_path):
    source = tmp_path / "broken.parquet"
    source.write_bytes(b"PAR1 this is not parquet PAR1")
    result = invoke_cli("embed", source, "-o", tmp_path / "o.npy", "-m", "tfidf")
    assert_one_line_error(result, "not a readable Parquet file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.parquet"]


def test_square_brackets_in_messages_are_kept(tmp_path):
    empty = invoke_cli("similarity", "", "a text", "-m", "glove-50d")
    assert_one_line_error(empty, "text 0 is empty", "e.g. [t for t in texts if t.strip()]")
    weird = tmp_path / "[bold]name[/].txt"
    missing = invoke_cli("embed", weird, "-o", tmp_path / "o.npy", "-m", "tfidf")
    assert_one_line_error(missing, "[bold]name[/].txt")


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["faq", "{data}", "a question", "--question-field", "q"], "--question-field"),
        (["faq", "{data}", "a question", "--answer-field", "nosuch"], "--answer-field"),
        (["classify", "train", "{data}", "-o", "{tmp}/c", "--text", "q"], "--text"),
        (
            ["classify", "train", "{data}", "-o", "{tmp}/c", "--text", "body", "--label", "x"],
            "--label",
        ),
        (
            [
                "eval",
                "classification",
                "tfidf",
                "--data",
                "{data}",
                "--text",
                "q",
                "--label",
                "label",
            ],
            "--text",
        ),
        (
            [
                "eval",
                "classification",
                "tfidf",
                "--data",
                "{data}",
                "--text",
                "body",
                "--label",
                "x",
            ],
            "--label",
        ),
        (["cluster", "{data}", "--field", "q"], "--field"),
        (
            ["embed", "{data}", "-o", "{tmp}/o.npy", "--field", "body", "--id-field", "x"],
            "--id-field",
        ),
    ],
)
def test_field_hints_name_the_commands_own_option(tmp_path, command, option):
    data = tmp_path / "data.csv"
    data.write_text("body,label,question,answer\nhello,a,hi,yes\nworld,b,ho,no\n")
    argv = [a.format(data=data, tmp=tmp_path) for a in command]
    result = invoke_cli(*argv, *([] if argv[0] == "eval" else ["-m", "tfidf"]))
    assert_one_line_error(result, "has no field", f"with {option}")
    message = result.stderr
    others = {"--field", "--text", "--label", "--question-field", "--answer-field", "--id-field"}
    for other in others - {option}:
        assert f"with {other}" not in message


def test_thresholds_are_cosines_for_faq_and_dedupe_alike(tmp_path):
    data = tmp_path / "faq.csv"
    data.write_text("question,answer\nhow are you,fine\nwhere is it,here\n")
    for argv in (["faq", data, "hi", "--threshold", "5"], ["dedupe", data, "--threshold", "2"]):
        result = invoke_cli(*argv, "-m", "tfidf")
        assert_one_line_error(result, "--threshold", "less than or equal to 1")
    ok = invoke_cli("faq", data, "how are you", "--threshold", "-1", "-m", "tfidf")
    assert ok.returncode == 0 and json.loads(ok.stdout)["matched"] is True


def test_compare_refuses_an_unknown_model_before_measuring(tmp_path):
    result = invoke_cli("compare", "--models", "tfidf,nosuch", "--out", tmp_path / "out")
    assert_one_line_error(result, "unknown model 'nosuch'")
    assert not (tmp_path / "out").exists()


def test_a_bom_is_not_part_of_the_first_text(tmp_path):
    source = tmp_path / "bom.csv"
    source.write_bytes("\ufefftext,label\nhello world,a\nbye world,b\n".encode())
    out = tmp_path / "o.parquet"
    result = invoke_cli("embed", source, "-o", out, "-m", "tfidf", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert pq.read_table(out).column("text").to_pylist() == ["hello world", "bye world"]


def test_a_failed_index_leaves_no_collection_and_ask_on_an_empty_one_fails(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "picture.bin").write_bytes(b"\x00\x01")
    collection = tmp_path / "col"
    failed = invoke_cli("index", docs, "-c", collection, "-m", "tfidf")
    assert_one_line_error(failed, "has no documents")
    assert not collection.exists()
    asked = invoke_cli("ask", collection, "anything")
    assert asked.returncode == 2 and "Traceback" not in asked.stderr
    model = embedlab.load("tfidf").fit(["cats sit on mats", "dogs chase cats"])
    create_collection(collection, model=model.save(tmp_path / "tfidf")).close()
    empty = invoke_cli("ask", collection, "anything")
    assert_one_line_error(empty, "is empty", "embedlab index")


def test_ctrl_c_says_where_embed_stopped_and_how_to_resume(tmp_path, sample_texts):
    model = embedlab.load("tfidf", max_features=128).fit(sample_texts).save(tmp_path / "model")
    source = tmp_path / "big.txt"
    source.write_text("\n".join(f"{sample_texts[i % 40]} #{i}" for i in range(60_000)) + "\n")
    out = tmp_path / "big.npy"
    child = subprocess.Popen(
        [sys.executable, "-m", "embedlab.cli.main", "embed", str(source), "-m", str(model),
         "-o", str(out), "--chunk-rows", "500", "--no-progress"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    state = tmp_path / ".big.npy.partial" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if state.is_file() and json.loads(state.read_text() or '{"rows": 0}')["rows"] >= 1000:
            break
        time.sleep(0.005)
    assert child.poll() is None, "the run finished before it could be interrupted"
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted:" in stderr and "of 60,000 rows" in stderr
    assert "run the same command again to resume" in stderr and "--restart" in stderr
    assert str(tmp_path / ".big.npy.partial") in stderr


def test_an_index_that_fails_after_creating_its_collection_takes_it_back(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(b"garbage, not a PDF")
    model = embedlab.load("tfidf").fit(["cats sit on mats", "dogs chase cats"])
    model.save(tmp_path / "tfidf")
    collection = tmp_path / "col"
    failed = invoke_cli("index", docs, "-c", collection, "-m", tmp_path / "tfidf")
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1].startswith("error: ")
    assert not collection.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "tfidf"]
