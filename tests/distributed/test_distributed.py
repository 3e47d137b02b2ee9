"""`embedlab embed --ray` on a real two-node Ray cluster (loopback): exact, once, resumable.

Every run is checked against the single-process ``embedlab embed`` of the same input with the
same runtime: the same ids, each exactly once, and the same vectors.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embedlab
from cli_helpers import assert_one_line_error, invoke_cli
from embedlab.batch import embed_file
from embedlab.distributed import embed_dataset
from embedlab.errors import DataFormatError
from embedlab.store import open_collection

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def shards(out: Path) -> pa.Table:
    return pq.read_table(out)


def vectors_by_id(table: pa.Table) -> dict:
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "an id was written twice"
    column = table.column("vector").combine_chunks()
    vectors = column.flatten().to_numpy().reshape(len(ids), -1)
    return dict(zip(ids, vectors, strict=True))


def single_process(source: Path, out: Path, model, **options) -> pa.Table:
    embed_file(source, out, model, **options)
    return pq.read_table(out)


def journal(out: Path) -> list[dict]:
    path = out / "_journal.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


@pytest.fixture(scope="module")
def sts_file(tmp_path_factory, sts_sentences) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "sts.txt"
    path.write_text("\n".join(sts_sentences[:1500]) + "\n", encoding="utf-8")
    return path


def test_same_vectors_as_one_process_once_each_in_postgres_and_a_rerun_skips(
    ray_cluster, sts_file, pg_dsn, tmp_path, monkeypatch
):
    for key, value in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "shards"
    target = f"{pg_dsn}#sts"
    options = {"address": ray_cluster.address, "shard_rows": 150, "collection": target}
    result = embed_dataset(sts_file, out, "static-minilm", **options)
    expected = single_process(sts_file, tmp_path / "one.parquet", "static-minilm")
    got = shards(out)
    assert got.num_rows == expected.num_rows == 1500 == result.rows
    assert got.schema.field("id").type == pa.int64()  # row numbers, as in `embedlab embed`
    mine, theirs = vectors_by_id(got), vectors_by_id(expected)
    assert sorted(mine) == sorted(theirs) == list(range(1500))
    for key in theirs:
        np.testing.assert_array_equal(mine[key], theirs[key])
    texts = dict(zip(got.column("id").to_pylist(), got.column("text").to_pylist(), strict=True))
    assert texts[7] == expected.column("text")[7].as_py()
    assert sum(n.rows for n in result.nodes) == 1500 and result.nodes[0].rows_per_second > 0
    assert "rows/s" in result.summary() and result.shards == 10
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["rows"] == 1500
    assert [(s["row_start"], s["row_stop"]) for s in manifest["shards"]][:2] == [
        (0, 150),
        (150, 300),
    ]
    assert pg_rows(target) == (1500, 1500)

    # A re-run after a crash: the journal holds 6 shards, the other 4 files are gone; their
    # rows are upserted into PostgreSQL a second time, and nothing is doubled.
    lines = (out / "_journal.jsonl").read_text().splitlines()
    kept = {json.loads(line)["key"] for line in lines[:6]}
    (out / "_journal.jsonl").write_text("\n".join(lines[:6]) + "\n")
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    for path in out.glob("part-*.parquet"):
        if path.stem not in kept:
            path.unlink()
    again = embed_dataset(sts_file, out, "static-minilm", **options)
    assert again.skipped_shards == 6 and again.rows == 600
    for path in out.glob("part-*.parquet"):  # finished shards were not written again
        if path.stem in kept:
            assert path.stat().st_mtime_ns == stamps[path.name]
    again_vectors = vectors_by_id(shards(out))
    assert again_vectors.keys() == theirs.keys()
    np.testing.assert_array_equal(again_vectors[1499], theirs[1499])
    assert pg_rows(target) == (1500, 1500)
    with open_collection(target) as col:
        np.testing.assert_allclose(
            col.get(["7"], include=["vector"])[0].vector,
            theirs[7] / np.linalg.norm(theirs[7]),
            atol=1e-6,
        )
    # A third run has nothing to do at all: it does not even need the cluster.
    options["address"] = "127.0.0.1:1"
    third = embed_dataset(sts_file, out, "static-minilm", **options)
    assert third.rows == 0 and third.skipped_shards == 10 and third.total_rows == 1500

    # A local collection takes the finished shards afterwards.
    imported = invoke_cli("collection", "import", out, tmp_path / "local", "--no-progress")
    assert imported.returncode == 0, imported.stderr
    with open_collection(tmp_path / "local") as col:
        assert col.count() == 1500
        assert col.search(texts[7], k=1)[0].id == "7"


def pg_rows(target: str) -> tuple[int, int]:
    """(distinct ids, rows) of a PostgreSQL collection's table."""
    with open_collection(target) as col:
        row = col.backend._conn.execute(  # type: ignore[attr-defined]
            f"SELECT count(DISTINCT id), count(*) FROM embedlab_{col.name}"
        ).fetchone()
    return int(row[0]), int(row[1])


@pytest.fixture(scope="module")
def docs(tmp_path_factory, sts_sentences) -> Path:
    """A folder of three formats with a text field ``body``, ids ``uid`` and a ``year``."""
    root = tmp_path_factory.mktemp("docs")
    texts = sts_sentences[1500:1800]
    rows = [{"uid": f"s{i}", "body": t, "year": 2000 + i % 20} for i, t in enumerate(texts)]
    folder = root / "docs"
    folder.mkdir()
    with (folder / "a.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows[:100]:
            handle.write(json.dumps(row) + "\n")
    with (folder / "b.csv").open("w", encoding="utf-8") as handle:
        handle.write("uid,body,year\n")
        for row in rows[100:200]:
            body = row["body"].replace('"', '""')
            handle.write(f'{row["uid"]},"{body}",{row["year"]}\n')
    pq.write_table(pa.Table.from_pylist(rows[200:]), folder / "c.parquet", row_group_size=40)
    embedlab.load("tfidf").fit(texts).save(root / "tfidf-model")
    return root


def test_a_folder_of_three_formats_with_a_fitted_model_and_fields(
    ray_cluster, docs, tmp_path, monkeypatch
):
    for key, value in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "out"
    result = embed_dataset(
        [docs / "docs"],
        out,
        docs / "tfidf-model",  # fitted once, here; shipped to the actors as its saved files
        address=ray_cluster.address,
        field="body",
        id_field="uid",
        fields=["year"],
        shard_rows=30,
    )
    assert result.rows == 300 and result.shards == 4 + 4 + 4
    table = shards(out)
    got = vectors_by_id(table)
    assert sorted(got) == sorted(f"s{i}" for i in range(300))
    years = dict(zip(table.column("id").to_pylist(), table.column("year").to_pylist(), strict=True))
    assert years["s5"] == "2005" and years["s150"] == "2010" and years["s250"] == "2010"
    for name in ("a.jsonl", "b.csv", "c.parquet"):
        expected = single_process(
            docs / "docs" / name,
            tmp_path / f"{name}.parquet",
            docs / "tfidf-model",
            field="body",
            id_field="uid",
        )
        for key, vector in vectors_by_id(expected).items():
            np.testing.assert_array_equal(got[key], vector)


def test_an_error_met_by_an_actor_is_the_one_line_of_one_process(
    ray_cluster, sts_sentences, tmp_path, monkeypatch
):
    """An empty text deep in the file is found by an actor; the caller gets embedlab's own
    error (as `embedlab embed` gives it), not Ray's wrapped traceback."""
    for key, value in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}.items():
        monkeypatch.setenv(key, value)
    source = tmp_path / "gap.txt"
    lines = sts_sentences[:400]
    lines[321] = "   "
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        embed_dataset(source, tmp_path / "out", "static-minilm", address=ray_cluster.address,
                      shard_rows=100)  # fmt: skip
    assert str(caught.value).startswith(f"line 322 of {source} is empty. ")
    assert "\n" not in str(caught.value)
    with pytest.raises(DataFormatError) as single:
        embed_file(source, tmp_path / "one.npy", "static-minilm")
    assert str(single.value) == str(caught.value)


def test_a_killed_worker_is_retried_and_the_output_is_exact(ray_cluster, cluster_env, tmp_path):
    """SIGKILL one actor process mid-run: Ray restarts it and retries its shards; the CLI run
    still ends well, with every row once and the vectors of one process."""
    from embedlab.eval.datasets import sts_benchmark

    seen: dict[str, None] = {}
    for split in ("train", "dev", "test"):
        for a, b, _ in sts_benchmark(split):
            seen.setdefault(a.strip())
            seen.setdefault(b.strip())
    texts = [t for t in seen if t][:12000]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embedlab.cli.main",
            "embed",
            source,
            "-o",
            out,
            "-m",
            "static-minilm",
            "--chunk-rows",
            "500",
            "--batch-size",
            "8",
            "--no-progress",
            "--ray",
            ray_cluster.address,
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **cluster_env},
    )
    killed, done_at_kill = None, 0
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and child.poll() is None:
        actors = ray_cluster.actor_processes()
        if actors and journal(out):
            killed, done_at_kill = actors[0].pid, len(journal(out))
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    _, stderr = child.communicate(timeout=240)
    assert killed is not None, f"no actor to kill before the run ended: {stderr}"
    assert done_at_kill < 24  # killed while shards were still to do
    assert child.returncode == 0, stderr
    summary = stderr.strip().splitlines()[-1]
    assert summary.startswith(f"embedded {len(texts):,} rows") and "rows/s" in summary, stderr
    assert " node " in summary, summary  # per node figures
    got = vectors_by_id(shards(out))
    expected = vectors_by_id(single_process(source, tmp_path / "one.parquet", "static-minilm"))
    assert sorted(got) == sorted(expected) == list(range(len(texts)))
    for key, vector in expected.items():
        np.testing.assert_array_equal(got[key], vector)
    entries = journal(out)
    assert len(entries) == len({e["key"] for e in entries}) == 24
    assert len({e["node"] for e in entries}) == 2  # both nodes embedded shards


@pytest.mark.parametrize(
    ("case", "argv", "fragments"),
    [
        ("bad-address", ["good.txt", "-o", "out", "--ray", "127.0.0.1:1"], ["cannot reach"]),
        ("not-an-address", ["good.txt", "-o", "out", "--ray", "x:y"], ["not a Ray address"]),
        ("missing-input", ["missing.txt", "-o", "out", "--ray", "127.0.0.1:1"], ["no file"]),
        ("unfitted", ["good.txt", "-o", "out", "-m", "tfidf", "--ray", "auto"], ["not fitted"]),
        ("npy-out", ["good.txt", "-o", "out.npy", "--ray", "auto"], ["a folder of Parquet"]),
        (
            "local-collection",
            ["good.txt", "-o", "out", "--collection", "col", "--ray", "auto"],
            ["local collection"],
        ),
        ("ray-only-option", ["good.txt", "-o", "out.npy", "--fields", "a"], ["only with --ray"]),
        ("fields-of-txt", ["good.txt", "-o", "out", "--fields", "a", "--ray", "auto"], ["plain"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, case, argv, fragments):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.txt").write_text("one text\nanother text\n", encoding="utf-8")
    model = [] if "-m" in argv else ["-m", "static-minilm"]
    result = invoke_cli("embed", *argv, *model, "--no-progress")
    assert_one_line_error(result, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt"]
