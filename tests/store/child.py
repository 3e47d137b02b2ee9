"""A separate process working on a collection, for the durability and concurrency tests.

    python child.py add   LOCATION VECTORS.npy START STOP COMMIT_EVERY SEARCH_EVERY
    python child.py read  LOCATION FINAL_COUNT SECONDS
    python child.py churn LOCATION SEED

``churn`` adds, deletes and compacts in a loop until killed, printing ``WA <ids>`` / ``WD <ids>``
before each add / delete, ``A <ids>`` / ``D <ids>`` once it is acknowledged and ``C`` after each
compaction; the
vector of an id is :func:`churn_vector` of it, so the parent can check every stored byte.
``add`` adds rows START..STOP of the .npy file (ids ``v<row>``, metadata ``{"row": row}``) in one
``add`` call and prints ``ACK <ids>`` after every durable commit, then ``DONE``. ``read`` searches
while another process writes and prints one JSON line: what it saw and any broken invariant.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib

import numpy as np

from embedlab.store import open_collection


def _open(location: str):
    base, _, name = location.partition("#")
    return open_collection(base, name) if "://" in base else open_collection(location)


def add(location: str, path: str, start: int, stop: int, commit_every: int, search_every: int):
    vectors = np.load(path)[start:stop]
    col = _open(location)
    commits = 0

    def acknowledged(ids: list[str]) -> None:
        nonlocal commits
        print("ACK " + " ".join(ids), flush=True)
        commits += 1
        if search_every and commits % search_every == 0:
            col.search(vectors[0], k=3)  # brings the index up to date and may save it

    col.add(
        vectors=vectors,
        ids=[f"v{row}" for row in range(start, stop)],
        metadatas=[{"row": row} for row in range(start, stop)],
        commit_every=commit_every,
        on_commit=acknowledged,
    )
    print("DONE", flush=True)
    col.close()


def read(location: str, final: int, seconds: float) -> None:
    col = _open(location)
    deadline = time.monotonic() + seconds
    seen, errors, searches = [], [], 0
    rng = np.random.default_rng(os.getpid())
    while time.monotonic() < deadline:
        n = col.count()
        if seen and n < seen[-1]:
            errors.append(f"count went down from {seen[-1]} to {n}")
        seen.append(n)
        if n:
            # rows are added in order, so the first n ids are committed: each must be found
            row = int(rng.integers(0, n))
            record = col.get(f"v{row}")
            if record is None or record.metadata != {"row": row}:
                errors.append(f"v{row} missing or wrong although {n} rows are committed")
            else:
                hits = col.search(record.vector, k=5, include=("vector",))
                searches += 1
                if not hits or hits[0].score < 0.999:
                    errors.append(f"v{row} is not its own nearest neighbour: {hits[:1]}")
                for hit in hits:
                    if abs(float(hit.vector @ record.vector) - hit.score) > 1e-4:
                        errors.append(f"{hit.id}: score {hit.score} disagrees with its vector")
        if n >= final:
            break
    print(json.dumps({"counts": seen, "errors": errors[:10], "searches": searches}), flush=True)
    col.close()


CHURN_DIM = 16


def churn_vector(item_id: str) -> np.ndarray:
    """The unit vector stored under ``item_id`` in the churn test (made from the id alone)."""
    v = np.random.default_rng(zlib.crc32(item_id.encode())).standard_normal(CHURN_DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def churn(location: str, seed: int) -> None:
    col = open_collection(location)
    rng = np.random.default_rng(seed)
    present = [r.id for r in col.iter(include=())]
    for step in range(1_000_000):
        ids = [f"s{seed}-{step}-{j}" for j in range(int(rng.integers(20, 300)))]
        print("WA " + " ".join(ids), flush=True)
        col.add(vectors=np.stack([churn_vector(i) for i in ids]), ids=ids)
        print("A " + " ".join(ids), flush=True)
        present.extend(ids)
        n_gone = min(len(present) // 3, 250)
        gone = [present[i] for i in rng.choice(len(present), n_gone, replace=False)]
        print("WD " + " ".join(gone), flush=True)
        col.delete(gone)
        print("D " + " ".join(gone), flush=True)
        present = sorted(set(present) - set(gone))
        if rng.random() < 0.3:
            col.search(churn_vector(ids[0]), k=1)  # brings the index up to date and saves it
        if rng.random() < 0.4:
            col.compact()
            print("C", flush=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "add":
        add(args[0], args[1], *map(int, args[2:]))
    elif command == "churn":
        churn(args[0], int(args[1]))
    else:
        read(args[0], int(args[1]), float(args[2]))
