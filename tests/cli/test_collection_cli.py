"""`embedlab collection ...` as real processes: a folder collection, moved to PostgreSQL and back.

The fast static model keeps the many processes quick; MiniLM is covered in tests/store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from cli_helpers import run_cli

DOCS = [
    {"id": "rates", "text": "The central bank raised interest rates again.", "year": 2024},
    {"id": "mortgage", "text": "Mortgage costs went up for many homeowners.", "year": 2022},
    {"id": "cat", "text": "A cat slept on the warm windowsill all day.", "year": 2019},
    {"id": "code", "text": "Error E1234 means the configuration file is missing.", "year": 2023},
]


def cli(*args: object) -> subprocess.CompletedProcess:
    return run_cli("collection", *args, env={"EMBEDLAB_THREADS": "1"})


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = " ".join(line for line in result.stderr.splitlines() if line.strip())
    assert message.startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture(scope="module")
def dsn():
    from embedlab.store import start_postgres

    folder = Path(tempfile.mkdtemp(prefix="embedlab-cli-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = start_postgres(folder / "data")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def test_collection_lifecycle_across_backends(tmp_path, dsn):
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    folder = tmp_path / "docs"

    ok(cli("create", folder, "--model", "static-minilm"))
    ok(cli("add", folder, source, "--id-field", "id", "--no-progress"))

    hits = json.loads(
        ok(cli("search", folder, "borrowing got more expensive", "-k", "2", "--json"))
    )
    assert {h["id"] for h in hits} == {"rates", "mortgage"}
    assert hits[0]["metadata"]["year"] in (2022, 2024)

    hybrid = json.loads(ok(cli("search", folder, "E1234", "--hybrid", "-k", "1", "--json")))
    assert hybrid[0]["id"] == "code"
    recent = ok(cli("search", folder, "money", "--where", '{"year": {"$gte": 2023}}', "-k", "5"))
    assert "rates" in recent and "mortgage" not in recent and "cat" not in recent

    info = json.loads(ok(cli("info", folder, "--verify", "--json")))
    assert info["count"] == 4 and info["model"] == "static" and info["verify"]["rows"] == 4
    assert info["bytes_per_vector_by_storage"] == {
        "float32": 1024,
        "float16": 512,
        "int8": 256,
        "binary": 32,
    }

    export = tmp_path / "docs.parquet"
    ok(cli("export", folder, export, "--no-progress"))
    ok(cli("import", export, dsn, "--name", "docs", "--storage", "binary", "--no-progress"))
    assert "docs" in ok(cli("list", dsn)).split()
    keyword = json.loads(
        ok(cli("search", f"{dsn}#docs", "configuration file", "--keyword", "--json"))
    )
    assert keyword[0]["id"] == "code"
    dense = json.loads(
        ok(cli("search", dsn, "a sleepy pet", "--name", "docs", "-k", "1", "--json"))
    )
    assert dense[0]["id"] == "cat"

    assert "deleted 1 items" in cli("delete", f"{dsn}#docs", "cat").stderr
    assert "deleted 2 items" in cli("delete", folder, "--where", '{"year": {"$lt": 2023}}').stderr
    pg_info = json.loads(ok(cli("info", f"{dsn}#docs", "--json")))
    assert pg_info["count"] == 3 and pg_info["storage"] == "binary"

    ok(cli("delete", f"{dsn}#docs", "--drop", "--yes"))
    assert "docs" not in ok(cli("list", dsn)).split()


def test_cli_errors_are_one_line(tmp_path, dsn):
    one_line_error(cli("search", tmp_path / "missing", "query"), "no collection at", "create")
    one_line_error(cli("info", "postgresql://nobody@/x?host=/nonexistent#x"), "cannot connect")
    one_line_error(cli("info", dsn, "--name", "nope"), "no collection named 'nope'")
    ok(cli("create", tmp_path / "c", "--no-model", "--dim", "3"))
    one_line_error(
        cli("search", tmp_path / "c", "q", "--where", '{"year": {"$gte": [1]}}'),
        "takes a number or a string",
    )
    one_line_error(cli("search", tmp_path / "c", "q"), "has no model")
    one_line_error(cli("create", tmp_path / "c", "--no-model", "--dim", "3"), "already exists")
    one_line_error(cli("delete", tmp_path / "c", "--drop"), "--yes")


def test_add_again_after_an_interrupt(tmp_path):
    """A re-run of `collection add` over a file whose first part is stored (what Ctrl-C after
    some commits leaves): --resume adds only the rest, with generated ids and with --id-field;
    without it the re-run is refused instead of storing every row twice."""
    lines = [f"Sentence number {i} about topic {i % 7}." for i in range(30)] + ["Repeated."] * 2
    full = tmp_path / "all.txt"
    full.write_text("\n".join(lines) + "\n", encoding="utf-8")
    part = tmp_path / "part.txt"
    part.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    folder = tmp_path / "gen"
    ok(cli("create", folder, "--model", "static-minilm"))
    ok(cli("add", folder, part, "--no-progress", "--commit-every", "5"))
    one_line_error(cli("add", folder, full, "--no-progress"), "already in collection", "--resume")
    resumed = cli("add", folder, full, "--resume", "--no-progress")
    assert "added 20 items" in ok(resumed) + resumed.stderr
    assert "skipped 12 already stored" in resumed.stderr
    info = json.loads(ok(cli("info", folder, "--verify", "--json")))
    assert info["count"] == 32  # both "Repeated." lines, nothing twice
    assert "skipped 32" in cli("add", folder, full, "--resume", "--no-progress").stderr

    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps(DOCS[0]) + "\n", encoding="utf-8")
    ided = tmp_path / "ided"
    ok(cli("create", ided, "--model", "static-minilm"))
    ok(cli("add", ided, first, "--id-field", "id", "--no-progress"))
    one_line_error(cli("add", ided, source, "--id-field", "id", "--no-progress"), "'rates'")
    ok(cli("add", ided, source, "--id-field", "id", "--resume", "--no-progress"))
    assert json.loads(ok(cli("info", ided, "--json")))["count"] == 4
    changed = tmp_path / "changed.jsonl"
    changed.write_text(json.dumps({**DOCS[1], "text": "Other words."}) + "\n", encoding="utf-8")
    one_line_error(
        cli("add", ided, changed, "--id-field", "id", "--resume", "--no-progress"),
        "'mortgage' is already stored with another text",
        "--upsert",
    )


def test_damage_is_one_line_and_repair_fixes_it(tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    folder = tmp_path / "docs"
    ok(cli("create", folder, "--model", "static-minilm"))
    ok(cli("add", folder, source, "--id-field", "id", "--no-progress"))
    (vectors,) = folder.glob("vectors-*.f32")
    vectors.write_bytes(vectors.read_bytes()[: 2 * 256 * 4])  # two of four rows left
    one_line_error(cli("search", folder, "a sleepy pet"), "holds 2 vectors", "repair")
    one_line_error(cli("info", folder, "--verify"), "repair")
    repaired = ok(cli("repair", folder))
    assert "re-embedded 4 from their texts" in repaired and "verify ok" in repaired
    hits = json.loads(ok(cli("search", folder, "a sleepy pet", "-k", "1", "--json")))
    assert hits[0]["id"] == "cat"

    (folder / "items.sqlite").write_bytes(b"garbage, not a database" * 100)
    one_line_error(cli("info", folder), "items.sqlite is damaged")
    assert "items.sqlite was damaged" in ok(cli("repair", folder))
    assert json.loads(ok(cli("info", folder, "--json")))["count"] == 0
    assert list((folder / "quarantine").glob("*/items.sqlite"))


def test_create_on_a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    one_line_error(cli("create", path, "--model", "static-minilm"), "is a file, not a folder")
    assert path.read_text() == "mine"


def _count(folder: Path) -> int:
    return json.loads(ok(cli("info", folder, "--json")))["count"]


def test_list_refuses_a_missing_folder(tmp_path):
    one_line_error(cli("list", tmp_path / "missing"), "is not there")
    (tmp_path / "notes.txt").write_text("mine")
    one_line_error(cli("list", tmp_path / "notes.txt"), "is a file, not a folder")
    ok(cli("create", tmp_path / "all" / "docs", "--no-model", "--dim", "3"))
    assert ok(cli("list", tmp_path / "all")).split() == ["docs"]
    (tmp_path / "none-yet").mkdir()
    assert ok(cli("list", tmp_path / "none-yet")) == ""  # a folder with none: nothing to list


def test_add_refuses_a_file_with_no_texts(tmp_path):
    folder = tmp_path / "docs"
    ok(cli("create", folder, "--model", "static-minilm"))
    for name, content in {
        "empty.csv": "",
        "header-only.csv": "text,year\n",
        "empty.jsonl": "",
        "blank.jsonl": "\n\n",
        "empty.txt": "",
    }.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        one_line_error(cli("add", folder, tmp_path / name, "--no-progress"), "holds no texts")
    all_empty = tmp_path / "all-empty.csv"
    all_empty.write_text('text\n""\n" "\n', encoding="utf-8")
    one_line_error(cli("add", folder, all_empty, "--skip-empty", "--no-progress"), "holds no texts")
    assert _count(folder) == 0


def test_add_skip_empty(tmp_path):
    """The empty-text hint names --skip-empty; `collection add` takes it, as `embed` does."""
    folder = tmp_path / "docs"
    ok(cli("create", folder, "--model", "static-minilm"))
    gap = tmp_path / "gap.txt"
    gap.write_text("hello there\n\nworld\n", encoding="utf-8")
    one_line_error(cli("add", folder, gap, "--no-progress"), "--skip-empty")
    assert _count(folder) == 0
    added = cli("add", folder, gap, "--skip-empty", "--no-progress")
    assert "added 2 items" in added.stderr, added.stderr
    rows = tmp_path / "rows.csv"
    rows.write_text('text,year\nfirst,2020\n"",2021\nthird,2022\n', encoding="utf-8")
    one_line_error(cli("add", folder, rows, "--no-progress"), "record 2", "--skip-empty")
    ok(cli("add", folder, rows, "--skip-empty", "--no-progress"))
    assert _count(folder) == 4
    hits = json.loads(ok(cli("search", folder, "third", "--keyword", "--json")))
    assert hits[0]["text"] == "third" and hits[0]["metadata"] == {"year": "2022"}


def test_add_create_leaves_nothing_when_nothing_was_added(tmp_path):
    """--create makes the collection only for input that reads, and takes it back when the add
    stores nothing; a collection that was there before is never dropped, and one that got some
    items keeps them (so --resume can finish)."""
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)) * 8)
    new = tmp_path / "new"
    one_line_error(cli("add", new, binary, "--create", "static-minilm", "--no-progress"))
    assert not new.exists()
    # Input that reads, but whose first write fails (an id twice): created, then taken back.
    twice = tmp_path / "twice.jsonl"
    twice.write_text(json.dumps(DOCS[0]) + "\n" + json.dumps(DOCS[0]) + "\n", encoding="utf-8")
    one_line_error(
        cli("add", new, twice, "--id-field", "id", "--create", "static-minilm", "--no-progress"),
        "rates",
    )
    assert not new.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "binary.txt",
        "twice.jsonl",
    ]
    # An empty folder the user made is where it was after the failed add takes its collection back.
    mine = tmp_path / "mine"
    mine.mkdir()
    one_line_error(
        cli("add", mine, twice, "--id-field", "id", "--create", "static-minilm", "--no-progress"),
        "rates",
    )
    assert mine.is_dir() and list(mine.iterdir()) == []
    # An existing empty collection stays, even with --create.
    old = tmp_path / "old"
    ok(cli("create", old, "--model", "static-minilm"))
    one_line_error(cli("add", old, twice, "--id-field", "id", "--create", "m", "--no-progress"))
    assert _count(old) == 0
    # A failure after the first commit keeps what was stored.
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        "".join(json.dumps(d) + "\n" for d in DOCS[:2]) + '{"text": broken\n', encoding="utf-8"
    )
    kept = tmp_path / "kept"
    one_line_error(
        cli(
            "add", kept, broken, "--create", "static-minilm", "--commit-every", "2", "--no-progress"
        ),
        "broken.jsonl",
    )
    assert _count(kept) == 2


def test_ctrl_c_during_add_says_what_is_stored_and_resume_finishes(tmp_path):
    """Ctrl-C in a long `collection add`: exit 130 and one line with what is stored and how to
    go on; --resume then adds exactly the rest."""
    lines = [
        f"Line {i}: the {('cat', 'bank', 'river', 'stock')[i % 4]} number {i}."
        for i in range(60_000)
    ]
    source = tmp_path / "big.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = tmp_path / "big"
    argv = ["add", folder, source, "--create", "static-minilm", "--commit-every", "100"]
    process = subprocess.Popen(
        [sys.executable, "-m", "embedlab.cli.main", "collection", *map(str, argv), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EMBEDLAB_THREADS": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    deadline = time.monotonic() + 120
    while not (folder / "items.sqlite").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the add never started"
        time.sleep(0.05)
    time.sleep(0.5)  # some commits in
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines_out = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines_out) == 1 and lines_out[0].startswith("interrupted: "), stderr
    assert "--resume" in lines_out[0]
    stored = _count(folder)
    assert 0 < stored < len(lines), "interrupted before any commit or after the end: retime"
    assert f"'big' holds {stored:,} items" in lines_out[0]
    resumed = cli(*argv, "--resume", "--no-progress")
    assert f"skipped {stored:,} already stored" in resumed.stderr, resumed.stderr
    assert _count(folder) == len(lines)
