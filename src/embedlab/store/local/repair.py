"""Repair of a damaged collection folder: rebuild what can be rebuilt, quarantine the rest.

What can be rebuilt is: the manifest (from the binding copy in ``items.sqlite``), vectors (by
re-embedding the stored texts with the bound model) and the index (from the vectors). What
cannot (rows whose vectors are lost and that have no text, a damaged database) is moved into
``quarantine/`` with a JSONL of the rows concerned; nothing is deleted. Every step is reported.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.store.config import CollectionConfig
from embedlab.store.errors import CorruptCollectionError
from embedlab.store.local.layout import (
    DB_FILE,
    INDEX_POINTER,
    MANIFEST,
    QUARANTINE,
    is_snapshot_name,
    is_vectors_name,
    quarantine,
    vectors_name,
    write_json_atomic,
)
from embedlab.store.local.rows import Rows, create_db

if TYPE_CHECKING:
    from embedlab.store.local.backend import LocalBackend

Embed = Callable[[list[str]], np.ndarray]
CHUNK = 4_096


def repair(backend: LocalBackend, embed: Embed | None, binding: Callable[..., Any]) -> list[str]:
    """Repair ``backend``'s folder under its write lock; returns what was done, one line each."""
    actions: list[str] = []
    with backend._mutex, backend._lock.hold():
        _database(backend, binding, actions)
        _manifest(backend, actions)
        _vectors(backend, embed, actions)
        _snapshot(backend, actions)
        backend._reset_cache()
        backend._recovered = False
    return actions


def _database(backend: LocalBackend, binding: Callable[..., Any], actions: list[str]) -> None:
    folder, rows = backend.folder, backend._rows
    try:
        check = [r[0] for r in rows.execute("PRAGMA quick_check").fetchall()]
        problem = None if check == ["ok"] else check[0]
        if problem is None:
            rows.state()
            rows.execute("SELECT slot, id, text, metadata FROM items LIMIT 1").fetchall()
            rows.execute("SELECT seq, slot FROM dead LIMIT 1").fetchall()
    except CorruptCollectionError as exc:
        problem = exc.problem
    except Exception as exc:  # noqa: BLE001 (any SQLite error here means the file is damaged)
        problem = str(exc)
    if problem is None:
        return
    rows.close()
    names = [DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", INDEX_POINTER]
    names += [p.name for p in folder.iterdir() if is_vectors_name(p.name)]
    names += [p.name for p in folder.iterdir() if is_snapshot_name(p.name)]
    moved = quarantine(folder, names, "database")
    create_db(folder / DB_FILE, binding(backend.config, uuid.uuid4().hex))
    (folder / vectors_name(1)).touch()
    backend._rows = Rows(folder)
    actions.append(
        f"{DB_FILE} was damaged ({problem}): moved it and the vector files to {moved}; "
        "the collection is empty now: add its items again or import an export"
    )


def _manifest(backend: LocalBackend, actions: list[str]) -> None:
    rows = backend._rows
    stored = rows.binding()
    if stored is None:
        return
    problem = backend.binding_problem()
    if problem is None:
        return
    data = stored.get("config") or {**backend.config.to_dict(), **stored}
    config = CollectionConfig.from_dict(data)
    moved = quarantine(backend.folder, [MANIFEST], "manifest")
    write_json_atomic(backend.folder / MANIFEST, config.to_dict())
    backend._use_config(config)
    actions.append(f"{problem}: rewrote {MANIFEST} from the database (old one in {moved})")


def _vectors(backend: LocalBackend, embed: Embed | None, actions: list[str]) -> None:
    rows, files, folder = backend._rows, backend._files, backend.folder
    state = rows.state()
    gen, n = state["gen"], state["next_slot"]
    path = files.path(gen)
    stored = rows.checksums()
    if stored is None:  # an older folder: nothing to check against, so trust and record
        with rows.transaction():
            rows.set_checksums(files.compute_crcs(gen, n) if path.exists() else {})
        actions.append("recorded checksums of the vector file (made by an older embedlab)")
        stored = rows.checksums() or {}
    items = rows.execute("SELECT slot, id, text, metadata FROM items ORDER BY slot").fetchall()
    bad = files.bad_rows(gen, n, stored) if path.exists() else np.ones(n, dtype=bool)
    damaged = [row for row in items if bad[row[0]]]
    if not damaged:
        return
    fresh: dict[int, np.ndarray] = {}
    lost = [row for row in damaged if row[2] is None or embed is None]
    redo = [row for row in damaged if row[2] is not None and embed is not None]
    for start in range(0, len(redo), CHUNK):
        batch = redo[start : start + CHUNK]
        vectors = embed([r[2] for r in batch])  # type: ignore[misc]
        fresh.update({r[0]: v for r, v in zip(batch, vectors, strict=True)})
    where = folder / QUARANTINE / f"{uuid.uuid1().time:x}-vectors"
    where.mkdir(parents=True)
    if path.exists():
        shutil.copy2(path, where / path.name)  # the damaged file, kept as it was
    if lost:
        with (where / "rows-without-vectors.jsonl").open("w", encoding="utf-8") as out:
            for _, item_id, text, meta in lost:
                record = {"id": item_id, "text": text, "metadata": json.loads(meta)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    size = path.stat().st_size if path.exists() else 0
    have = min(n, size // files.row_bytes)
    old = np.memmap(path, np.float32, "r", shape=(have, files.dim)) if have else None
    gone = {r[0] for r in lost}
    keep = [row[0] for row in items if row[0] not in gone]

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, len(keep), CHUNK):
            part = keep[start : start + CHUNK]
            yield np.stack([fresh[s] if s in fresh else old[s] for s in part])  # type: ignore[index]

    backend._reset_cache()
    backend._gen, backend._next_slot = gen, n
    backend.switch_generation(chunks(), remove=sorted(gone))
    actions.append(
        f"{len(damaged)} stored vectors were missing or failed their checksum: re-embedded "
        f"{len(fresh)} from their texts, quarantined {len(lost)} rows without a text or model "
        f"(in {where}); wrote generation {gen + 1}"
    )


def _snapshot(backend: LocalBackend, actions: list[str]) -> None:
    backend._reset_cache()
    backend._sync()
    problem = backend._snapshots.problem(
        backend._gen, backend._next_slot, backend._uid, backend._digest
    )
    if problem is None:
        return
    names = [INDEX_POINTER]
    try:
        pointed = json.loads((backend.folder / INDEX_POINTER).read_text(encoding="utf-8"))
        if isinstance(pointed, dict) and is_snapshot_name(pointed.get("file")):
            names.append(pointed["file"])  # a name outside the folder is never touched
    except (OSError, ValueError):
        pass
    moved = quarantine(backend.folder, names, "index")
    actions.append(f"{problem}: moved it to {moved}; the index is rebuilt from the vectors")
