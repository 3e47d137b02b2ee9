"""`embedlab collection ...` as real processes: a folder collection, moved to PostgreSQL and back.

The fast static model keeps the many processes quick; MiniLM is covered in tests/store."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
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
