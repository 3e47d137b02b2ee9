"""Crashes and concurrency, with real processes: SIGKILL in the middle of a large add loses
nothing acknowledged, and neither do ~30 SIGKILLs at random moments of adds, deletes and
compactions; readers in other processes stay correct while one process writes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embedlab.store import CollectionLockedError, create_collection, open_collection
from store.child import churn_vector  # tests/ is on the path (pyproject's pytest pythonpath)

CHILD = Path(__file__).with_name("child.py")
ROWS = 12_000
COMMIT = 400


@pytest.fixture(scope="module")
def vectors(sentence_vectors, clustered_vectors, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vectors") / "vectors.npy"
    np.save(path, clustered_vectors(sentence_vectors, ROWS, seed=7))
    return path


def _child(*args: object) -> subprocess.Popen:
    env = {**os.environ, "EMBEDLAB_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(CHILD), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_sigkill_during_a_large_add_loses_nothing_acknowledged(backend, location, vectors, reopen):
    where = location("crash")
    col = create_collection(where, dim=384, index="hnsw")
    col.close()
    child = _child("add", where, vectors, 0, ROWS, COMMIT, 3)
    kill_after = random.Random().randint(4, 12)  # commits, then kill mid-way through the next
    acknowledged: list[str] = []
    for line in child.stdout:
        assert not line.startswith("DONE"), "the child finished before it could be killed"
        acknowledged.extend(line.split()[1:])
        if len(acknowledged) >= kill_after * COMMIT:
            time.sleep(random.Random().uniform(0, 0.05))
            break
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, errors
    assert "DONE" not in rest
    for line in rest.splitlines():  # acknowledged before the kill, still in the pipe
        acknowledged.extend(line.split()[1:])

    with reopen(col) as again:
        again.verify()  # rows, vector file and saved index agree
        count = again.count()
        assert count >= len(acknowledged)
        assert count % COMMIT == 0  # commits are all-or-nothing
        assert count <= len(acknowledged) + COMMIT  # at most the chunk in flight
        data = np.load(vectors)
        got = again.get(acknowledged)
        assert [r.id for r in got] == acknowledged
        rows = [int(r.id[1:]) for r in got]
        assert all(r.metadata == {"row": row} for r, row in zip(got, rows, strict=True))
        assert np.allclose(np.stack([r.vector for r in got]), data[rows], atol=1e-6)
        # The index agrees with the rows: every stored vector finds itself, nothing else shows.
        sample = rows[:: max(1, len(rows) // 300)]
        found = again.search_batch(data[sample], k=1, include=())
        hits = [f[0].id if f else None for f in found]
        assert np.mean([h == f"v{row}" for h, row in zip(hits, sample, strict=True)]) >= 0.99
        # Writing goes on after the crash (a half-written tail is cut first).
        again.add(vectors=data[count : count + 10], ids=[f"v{r}" for r in range(count, count + 10)])
        assert again.count() == count + 10
        fresh = again.get([f"v{r}" for r in range(count, count + 10)])
        assert np.allclose(np.stack([r.vector for r in fresh]), data[count : count + 10])
        again.verify()


def test_readers_in_other_processes_during_writes(backend, location, vectors, reopen):
    where = location("busy")
    col = create_collection(where, dim=384, index="hnsw")
    total = 2_000
    col.add(
        vectors=np.load(vectors)[:200],
        ids=[f"v{r}" for r in range(200)],
        metadatas=[{"row": r} for r in range(200)],
    )
    readers = [_child("read", where, total, 90) for _ in range(2)]
    time.sleep(2.0)  # let the readers start while little is there
    writer = _child("add", where, vectors, 200, total, 100, 0)
    out, err = writer.communicate(timeout=180)
    assert writer.returncode == 0, err
    reports = []
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    for report in reports:
        assert report["errors"] == []
        assert report["searches"] > 0
        assert report["counts"][-1] == total
    # at least one reader searched while the collection was growing
    assert any(any(200 < c < total for c in r["counts"]) for r in reports), reports
    col.close()
    with reopen(col) as again:
        assert again.count() == total
        again.verify()


def test_writer_lock_blocks_writers_never_readers(tmp_path, sentence_vectors):
    col = create_collection(tmp_path / "locked", dim=384)
    col.add(vectors=sentence_vectors[:50], ids=[str(i) for i in range(50)])
    col.backend.lock_timeout = 0.3
    other = os.open(tmp_path / "locked" / "write.lock", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)  # another process in the middle of a write
    try:
        with pytest.raises(CollectionLockedError, match="readers are never blocked"):
            col.add(vectors=sentence_vectors[50:51], ids=["new"])
        reader = open_collection(tmp_path / "locked")
        assert reader.search(sentence_vectors[3], k=1)[0].id == "3"
        assert reader.count() == 50
        reader.close()
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    col.add(vectors=sentence_vectors[50:51], ids=["new"])
    assert col.count() == 51
    col.close()


def test_two_writer_processes_take_turns(tmp_path, vectors):
    where = str(tmp_path / "turns")
    create_collection(where, dim=384).close()
    writers = [_child("add", where, vectors, a, a + 1_500, 100, 0) for a in (0, 1_500)]
    for writer in writers:
        out, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
        assert out.strip().endswith("DONE")
    with open_collection(where) as col:
        assert col.count() == 3_000
        col.verify()
        assert col.get("v2999").metadata == {"row": 2999}


def test_a_torn_append_is_cut_off(tmp_path, sentence_vectors):
    """What a crash between appending vectors and committing them leaves: bytes past the last
    committed row. Readers ignore them; the next write starts where the commits end."""
    where = tmp_path / "torn"
    with create_collection(where, dim=384) as col:
        col.add(vectors=sentence_vectors[:20], ids=[str(i) for i in range(20)])
    (vector_file,) = where.glob("vectors-*.f32")
    with vector_file.open("ab") as handle:
        handle.write(np.full((7, 384), 9.0, dtype=np.float32).tobytes() + b"\x01\x02")
    with open_collection(where) as col:
        assert col.count() == 20
        assert col.search(sentence_vectors[5], k=1)[0].id == "5"
        col.add(vectors=sentence_vectors[20:25], ids=[str(i) for i in range(20, 25)])
        assert np.allclose(col.get("22").vector, sentence_vectors[22], atol=1e-6)
        assert col.search(sentence_vectors[24], k=1)[0].id == "24"
        col.verify()
    assert vector_file.stat().st_size == 25 * 384 * 4


def test_crash_loop_keeps_every_acknowledged_write(tmp_path):
    """~30 kill -9s at random moments of adds, deletes and compactions (under a minute): after
    each, the reopened collection verifies (rows, checksums, index) and holds every
    acknowledged add, none of the acknowledged deletes, and the exact vector of every item."""
    where = str(tmp_path / "churn")
    create_collection(where, dim=16, index="hnsw", ef_construction=32).close()
    stored: set[str] = set()  # acknowledged and not acknowledged as deleted
    unsure: set[str] = set()  # in flight at a kill: may or may not have committed
    rng = random.Random()
    kills = compactions = 0
    deadline = time.monotonic() + 120
    while kills < 30 and time.monotonic() < deadline:
        child = _child("churn", where, rng.randrange(1 << 30))
        os.set_blocking(child.stdout.fileno(), False)
        output: list[str] = []
        # The random moment is counted from the child's first line, not from its start: on a
        # loaded machine the interpreter's start alone can outlast the window, and a child
        # killed before it works tests nothing.
        started = time.monotonic() + 30
        stop_at = started
        while time.monotonic() < stop_at and child.poll() is None:
            with contextlib.suppress(BlockingIOError):
                chunk = os.read(child.stdout.fileno(), 1 << 20).decode()
                if chunk and stop_at == started:
                    stop_at = time.monotonic() + rng.uniform(0.05, 0.8)
                output.append(chunk)
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        rest, errors = child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL, errors
        kills += 1
        *lines, _cut = "".join([*output, rest]).split("\n")  # a line cut by the kill: not said
        for line in lines:
            kind, *ids = line.split()
            if kind == "WA":  # about to add: unsure until acknowledged
                unsure.update(ids)
            elif kind == "A":
                stored.update(ids)
                unsure.difference_update(ids)
            elif kind == "WD":  # about to delete: unsure until acknowledged
                stored.difference_update(ids)
                unsure.update(ids)
            elif kind == "D":
                unsure.difference_update(ids)
            else:
                compactions += 1
        with open_collection(where) as col:
            col.verify()  # rows, vector checksums and any saved index agree
            present = {r.id for r in col.iter(include=())}
            assert stored <= present, f"lost acknowledged writes: {sorted(stored - present)[:5]}"
            surprise = present - stored - unsure
            assert not surprise, f"acknowledged deletes came back: {sorted(surprise)[:5]}"
            records = col.get(sorted(present), include=("vector",))
            assert all(np.allclose(r.vector, churn_vector(r.id), atol=1e-6) for r in records)
        stored, unsure = present, set()  # what the killed child had in flight is settled now
    print(f"crash loop: {kills} kills, {compactions} compactions acknowledged")
    assert kills >= 20 and compactions > 0, (kills, compactions)
