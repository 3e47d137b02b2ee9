"""The embedded default backend: a collection is a folder, nothing to start.

Layout of a collection folder::

    collection.json        the binding (model, dim, metric, storage, ...), written once, atomically
    items.sqlite           SQLite in WAL mode: ids, texts, JSON metadata, row slots, state
    vectors-000001.f32     full-precision vectors, row ``slot`` at byte ``slot * dim * 4``
    index.json             points at the current index snapshot (a derived cache)
    index-000001-*.faiss   the faiss index over slots ``0..covered-1``
    write.lock             flock'ed by the one process writing at a time

Why SQLite plus a flat vector file: SQLite gives atomic, fsync'ed commits, concurrent readers
(WAL) and SQL for metadata filters, with nothing to install; a flat file of float32 rows can be
memory-mapped, so rescoring reads only the candidate rows and ``get`` costs no copy.

How a write stays durable: under the write lock, the new vectors are appended past the last
committed slot and fsync'ed; only then does one SQLite transaction (``synchronous=FULL``) insert
the rows and advance ``next_slot``. A crash before the commit leaves bytes past ``next_slot``,
which no reader looks at and the next writer truncates; a crash after it loses nothing. Deletes
and upserts remove rows and log the freed slots in ``dead``; the index keeps those slots as
tombstones that the search skips, and :meth:`LocalBackend.compact` rewrites the file and index
once they pile up. Readers notice commits through a ``version`` counter and catch up
incrementally (new slots are added to the in-memory index, dead ones masked).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.progress import progress_bar
from embedlab.store.ann import TRAIN_SAMPLE, AnnIndex, exact_search, rescore
from embedlab.store.backend import Backend, Hit, Record, SearchOptions
from embedlab.store.config import FORMAT_NAME, FORMAT_VERSION, CollectionConfig
from embedlab.store.errors import (
    CollectionExistsError,
    CollectionLockedError,
    CorruptCollectionError,
    DuplicateIdError,
    UnknownCollectionError,
)
from embedlab.store.filters import Node, to_sqlite
from embedlab.store.keyword import KeywordIndex

MANIFEST = "collection.json"
DB_FILE = "items.sqlite"
LOCK_FILE = "write.lock"
INDEX_POINTER = "index.json"
LOCK_TIMEOUT = float(os.environ.get("EMBEDLAB_LOCK_TIMEOUT", "60"))  # seconds a writer waits
SQL_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit
COMPACT_MIN_DEAD = 1_000
COMPACT_DEAD_FRACTION = 0.3
SNAPSHOT_GROWTH = 0.1  # persist the index again once it covers 10% more rows than on disk

_ITEMS_TABLE = """
CREATE TABLE {name} (
    slot INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    text TEXT,
    metadata TEXT NOT NULL
)"""
_SCHEMA = (
    _ITEMS_TABLE.format(name="items")
    + """;
CREATE TABLE dead (seq INTEGER PRIMARY KEY, slot INTEGER NOT NULL);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO state VALUES ('gen', 1), ('next_slot', 0), ('version', 0), ('live', 0);
"""
)


def _vectors_name(gen: int) -> str:
    return f"vectors-{gen:06d}.f32"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=LOCK_TIMEOUT)
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT * 1000)}")
    return db


def read_manifest(folder: Path) -> CollectionConfig:
    """The binding recorded in a collection folder; clear errors for a non-collection."""
    path = folder / MANIFEST
    if not path.is_file():
        what = "no such folder" if not folder.exists() else f"no {MANIFEST} in it"
        raise UnknownCollectionError(
            f"no collection at {folder} ({what})",
            "check the path, or create one: embedlab collection create "
            f"{folder} --model minilm (Python: create_collection({str(folder)!r}, model=...))",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCollectionError(
            f"{path} cannot be read ({exc})", "restore the folder from a backup or an export"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise CorruptCollectionError(f"{path} is not an embedlab collection manifest", None)
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise CorruptCollectionError(
            f"{folder} was written by a newer embedlab (format {data['format_version']})",
            "upgrade embedlab to open it",
        )
    return CollectionConfig.from_dict(data)


class LocalBackend(Backend):
    """A collection stored in a folder (see the module docstring for the layout and protocol)."""

    kind = "local"

    def __init__(self, folder: Path, config: CollectionConfig) -> None:
        self.folder = folder
        self.location = str(folder)
        self.config = config
        self._row_bytes = 4 * config.dim
        self._mutex = threading.RLock()
        self._lock_fd: int | None = None
        self.lock_timeout = LOCK_TIMEOUT
        self._lock_depth = 0
        self._recovered = False
        self._db = _connect(folder / DB_FILE)
        self._reset_cache()

    def _reset_cache(self) -> None:
        self._gen = -1
        self._version = -1
        self._next_slot = 0
        self._n_live = 0
        self._dead_seq = 0
        self._ids: list[str | None] = []
        self._live = np.zeros(0, dtype=bool)
        self._vectors: np.ndarray = np.zeros((0, self.config.dim), dtype=np.float32)
        self._ann: AnnIndex | None = None
        self._snapshot_covered = 0
        self._keyword: Any = None
        self._keyword_version = -1

    # -- creating and opening -------------------------------------------------------------------
    @classmethod
    def create(cls, location: str, config: CollectionConfig, *, exist_ok: bool) -> LocalBackend:
        folder = Path(location).expanduser()
        if (folder / MANIFEST).exists():
            if exist_ok:
                return cls.open(location, None)
            raise CollectionExistsError(
                f"a collection already exists at {folder}",
                "open it with open_collection(), pick another folder, or pass exist_ok=True",
            )
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise CollectionExistsError(
                f"{folder} exists and is not an empty folder",
                "pass a new or empty folder for the collection",
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.creating-{uuid.uuid4().hex[:8]}")
        tmp.mkdir()
        try:
            db = sqlite3.connect(tmp / DB_FILE, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.close()
            (tmp / _vectors_name(1)).touch()
            _write_json_atomic(tmp / MANIFEST, config.to_dict())
            _fsync_dir(tmp)
            os.replace(tmp, folder)  # atomic; replaces an empty folder too
            _fsync_dir(folder.parent)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(folder, config)

    @classmethod
    def open(cls, location: str, name: str | None) -> LocalBackend:
        folder = Path(location).expanduser()
        config = read_manifest(folder)
        if name is not None and name != config.name:
            raise UnknownCollectionError(
                f"the collection at {folder} is named {config.name!r}, not {name!r}",
                "pass the folder alone; a local collection is its folder",
            )
        if not (folder / DB_FILE).is_file():
            raise CorruptCollectionError(
                f"{folder} has no {DB_FILE}", "restore the folder from a backup or an export"
            )
        return cls(folder, config)

    @classmethod
    def list_names(cls, location: str) -> list[str]:
        root = Path(location).expanduser()
        if (root / MANIFEST).is_file():
            return [read_manifest(root).name]
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file())

    @classmethod
    def drop(cls, location: str, name: str | None) -> None:
        import shutil

        backend = cls.open(location, name)
        with backend._write_lock():
            trash = backend.folder.with_name(f".{backend.folder.name}.dropped-{uuid.uuid4().hex}")
            os.replace(backend.folder, trash)  # atomic: the collection is gone at once
        backend.close()
        shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        with self._mutex:
            if self._db is None:
                return
            with contextlib.suppress(Exception):
                self._persist_index(min_growth=SNAPSHOT_GROWTH)
            self._db.close()
            self._db = None  # type: ignore[assignment]
            self._reset_cache()

    # -- locking and state ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _write_lock(self, *, blocking: bool = True) -> Iterator[bool]:
        """The folder's single-writer lock (flock), re-entrant within this object."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield True
            finally:
                self._lock_depth -= 1
            return
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not blocking:
                    os.close(fd)
                    yield False
                    return
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise CollectionLockedError(
                        f"another process has been writing to {self.folder} for over "
                        f"{self.lock_timeout:g} s",
                        "wait for it to finish; readers are never blocked",
                    ) from None
                time.sleep(0.02)
        self._lock_fd, self._lock_depth = fd, 1
        try:
            yield True
        finally:
            self._lock_depth = 0
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """What every change starts with: this object's mutex and the folder's write lock,
        caught up with other writers' commits and repaired after any crash."""
        with self._mutex, self._write_lock():
            self._sync()
            self._recover()
            yield

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _state(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT key, value FROM state").fetchall())

    def _sync(self) -> None:
        """Catch up with commits (ours or another process's): new slots, dead slots, compaction."""
        if self._db is None:
            raise CorruptCollectionError(f"the collection at {self.folder} is closed", "reopen it")
        version = self._db.execute("SELECT value FROM state WHERE key = 'version'").fetchone()[0]
        if version == self._version:
            return  # nothing committed since the last look (one indexed read, ~20 us)
        db = self._db
        db.execute("BEGIN")
        try:
            state = self._state()
            if state["gen"] != self._gen:
                self._reset_cache()
                rows = db.execute("SELECT slot, id FROM items ORDER BY slot").fetchall()
                self._ids = [None] * state["next_slot"]
                self._live = np.zeros(state["next_slot"], dtype=bool)
                for slot, item_id in rows:
                    self._ids[slot] = item_id
                    self._live[slot] = True
                self._dead_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM dead").fetchone()[0]
            else:
                old, new = self._next_slot, state["next_slot"]
                if new > old:
                    self._ids.extend([None] * (new - old))
                    self._live = np.concatenate([self._live, np.zeros(new - old, dtype=bool)])
                    for slot, item_id in db.execute(
                        "SELECT slot, id FROM items WHERE slot >= ? AND slot < ?", (old, new)
                    ):
                        self._ids[slot] = item_id
                        self._live[slot] = True
                for seq, slot in db.execute(
                    "SELECT seq, slot FROM dead WHERE seq > ? ORDER BY seq", (self._dead_seq,)
                ):
                    self._ids[slot] = None
                    self._live[slot] = False
                    self._dead_seq = seq
        finally:
            db.execute("COMMIT")
        self._gen, self._version = state["gen"], state["version"]
        self._next_slot, self._n_live = state["next_slot"], state["live"]
        try:
            self._map_vectors()
        except FileNotFoundError:
            if self._state()["gen"] == self._gen:
                raise CorruptCollectionError(
                    f"the vector file of {self.folder} is missing",
                    "restore the folder from a backup or an export",
                ) from None
            self._version = -1  # compacted meanwhile: start again on the new generation
            self._gen = -1
            self._sync()

    def _map_vectors(self) -> None:
        if len(self._vectors) == self._next_slot:
            return
        path = self.folder / _vectors_name(self._gen)
        if self._next_slot == 0:
            self._vectors = np.zeros((0, self.config.dim), dtype=np.float32)
            return
        size = path.stat().st_size  # FileNotFoundError: see _sync
        if size < self._next_slot * self._row_bytes:
            raise CorruptCollectionError(
                f"{path} holds {size // self._row_bytes} vectors but the collection records "
                f"{self._next_slot}",
                "the file was truncated outside embedlab; restore the folder from a backup",
            )
        self._vectors = np.memmap(
            path, dtype=np.float32, mode="r", shape=(self._next_slot, self.config.dim)
        )

    def _recover(self) -> None:
        """First write of this object: cut a crashed append, remove orphans of crashed work."""
        if self._recovered:
            return
        path = self.folder / _vectors_name(self._gen)
        committed = self._next_slot * self._row_bytes
        if path.exists() and path.stat().st_size > committed:
            os.truncate(path, committed)
        pointer = self._read_pointer()
        keep = {_vectors_name(self._gen), pointer.get("file") if pointer else None}
        for item in self.folder.iterdir():
            stale_vectors = item.name.startswith("vectors-") and item.name not in keep
            stale_index = item.name.startswith("index-") and item.name not in keep
            if stale_vectors or stale_index or item.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    item.unlink()
        self._recovered = True

    # -- writing --------------------------------------------------------------------------------
    def _slots_of(self, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), SQL_CHUNK):
            chunk = list(ids[start : start + SQL_CHUNK])
            marks = ",".join("?" * len(chunk))
            for item_id, slot in self._db.execute(
                f"SELECT id, slot FROM items WHERE id IN ({marks})", chunk
            ):
                found[item_id] = slot
        return found

    def write(
        self,
        ids: list[str],
        texts: list[str | None],
        metadatas: list[dict[str, Any]],
        vectors: np.ndarray,
        *,
        upsert: bool,
    ) -> None:
        with self._writing():
            existing = self._slots_of(ids)
            if existing and not upsert:
                shown = ", ".join(repr(i) for i in list(existing)[:5])
                raise DuplicateIdError(
                    f"{len(existing)} id(s) already in collection {self.config.name!r}: {shown}",
                    "use upsert() (CLI: --upsert) to replace them, or delete them first",
                )
            start = self._next_slot
            self._append_vectors(start, vectors)
            with self._transaction() as db:
                if existing:
                    old = [(slot,) for slot in existing.values()]
                    db.executemany("DELETE FROM items WHERE slot = ?", old)
                    db.executemany("INSERT INTO dead (slot) VALUES (?)", old)
                db.executemany(
                    "INSERT INTO items (slot, id, text, metadata) VALUES (?, ?, ?, ?)",
                    [
                        (start + i, item_id, text, json.dumps(meta, ensure_ascii=False))
                        for i, (item_id, text, meta) in enumerate(
                            zip(ids, texts, metadatas, strict=True)
                        )
                    ],
                )
                self._bump(next_slot=start + len(ids), live_delta=len(ids) - len(existing))
            self._sync()
            self._maybe_compact()

    def _append_vectors(self, start: int, vectors: np.ndarray) -> None:
        data = np.ascontiguousarray(vectors, dtype=np.float32).tobytes()
        fd = os.open(self.folder / _vectors_name(self._gen), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            offset = start * self._row_bytes
            os.ftruncate(fd, offset)  # drop bytes of an append that never committed
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
            os.fsync(fd)
        finally:
            os.close(fd)

    def _bump(self, *, next_slot: int | None = None, live_delta: int = 0) -> None:
        db = self._db
        if next_slot is not None:
            db.execute("UPDATE state SET value = ? WHERE key = 'next_slot'", (next_slot,))
        db.execute("UPDATE state SET value = value + ? WHERE key = 'live'", (live_delta,))
        db.execute("UPDATE state SET value = value + 1 WHERE key = 'version'")

    def delete(self, ids: Sequence[str] | None, where: Node | None) -> int:
        with self._writing():
            if ids is not None:
                slots = list(self._slots_of(ids).values())
                if where is not None and slots:
                    allowed = self._filter_mask(where)
                    slots = [s for s in slots if allowed[s]]
            else:
                slots = np.flatnonzero(self._filter_mask(where)).tolist()
            if not slots:
                return 0
            with self._transaction() as db:
                rows = [(s,) for s in slots]
                db.executemany("DELETE FROM items WHERE slot = ?", rows)
                db.executemany("INSERT INTO dead (slot) VALUES (?)", rows)
                self._bump(live_delta=-len(slots))
            self._sync()
            self._maybe_compact()
            return len(slots)

    def _maybe_compact(self) -> None:
        dead = self._next_slot - self._n_live
        if dead >= COMPACT_MIN_DEAD and dead > COMPACT_DEAD_FRACTION * self._next_slot:
            self.compact()

    def compact(self) -> None:
        """Rewrite the vectors without dead rows, renumber slots, rebuild the index.

        The new vector file is complete and fsync'ed before one transaction switches to it, so a
        crash leaves either the old or the new generation, never a mix. Readers holding the old
        file keep a valid memory map until they notice the new generation.
        """
        with self._writing():
            slots = np.flatnonzero(self._live[: self._next_slot])
            new_gen = self._gen + 1
            path = self.folder / _vectors_name(new_gen)
            with path.open("wb") as handle:
                for start in range(0, len(slots), 65_536):
                    handle.write(np.ascontiguousarray(self._vectors[slots[start : start + 65_536]]))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                with self._transaction() as db:
                    db.execute(_ITEMS_TABLE.format(name="items_new"))
                    db.execute(
                        "INSERT INTO items_new (slot, id, text, metadata) "
                        "SELECT ROW_NUMBER() OVER (ORDER BY slot) - 1, id, text, metadata "
                        "FROM items ORDER BY slot"
                    )
                    db.execute("DROP TABLE items")
                    db.execute("ALTER TABLE items_new RENAME TO items")
                    db.execute("DELETE FROM dead")
                    db.execute("UPDATE state SET value = ? WHERE key = 'gen'", (new_gen,))
                    db.execute("UPDATE state SET value = ? WHERE key = 'next_slot'", (len(slots),))
                    self._bump()
            except BaseException:
                path.unlink(missing_ok=True)  # rolled back: the new vector file is never used
                raise
            had_index = self._ann is not None
            (self.folder / INDEX_POINTER).unlink(missing_ok=True)  # it indexes the old slots
            self._recovered = False
            self._sync()  # a new generation: drops the old map, ids and index
            self._recover()  # removes the old vector file and index snapshot
            if had_index or self._uses_ann(SearchOptions()):
                self.build_index()

    # -- reading --------------------------------------------------------------------------------
    def count(self, where: Node | None = None) -> int:
        with self._mutex:
            self._sync()
            if where is None:
                return self._n_live
            sql, params = to_sqlite(where)
            return self._db.execute(f"SELECT COUNT(*) FROM items WHERE {sql}", params).fetchone()[0]

    def get(self, ids: Sequence[str], include: Sequence[str]) -> list[Record]:
        with self._mutex:
            self._sync()
            by_id: dict[str, Record] = {}
            for start in range(0, len(ids), SQL_CHUNK):
                chunk = list(ids[start : start + SQL_CHUNK])
                marks = ",".join("?" * len(chunk))
                for slot, item_id, text, meta in self._db.execute(
                    f"SELECT slot, id, text, metadata FROM items WHERE id IN ({marks})", chunk
                ):
                    by_id[item_id] = self._record(slot, item_id, text, meta, include)
            return [by_id[i] for i in ids if i in by_id]

    def _record(self, slot: int, item_id: str, text: Any, meta: str, include: Sequence[str]) -> Any:
        vector = None
        if "vector" in include and slot < len(self._vectors):
            vector = np.array(self._vectors[slot])
        return Record(
            item_id,
            text if "text" in include else None,
            json.loads(meta) if "metadata" in include else {},
            vector,
        )

    def iter_records(self, batch_size: int, include: Sequence[str]) -> Iterator[list[Record]]:
        after, gen = -1, None
        while True:
            with self._mutex:
                self._sync()
                if gen is not None and gen != self._gen:
                    raise CorruptCollectionError(
                        f"{self.folder} was compacted while being read", "run the export again"
                    )
                gen = self._gen
                rows = self._db.execute(
                    "SELECT slot, id, text, metadata FROM items WHERE slot > ? "
                    "ORDER BY slot LIMIT ?",
                    (after, batch_size),
                ).fetchall()
                batch = [self._record(*row, include) for row in rows]
            if not rows:
                return
            after = rows[-1][0]
            yield batch

    def _filter_mask(self, where: Node | None) -> np.ndarray:
        """Boolean mask over slots: live rows passing ``where`` (all live rows without one)."""
        if where is None:
            return self._live.copy()
        sql, params = to_sqlite(where)
        slots = [s for (s,) in self._db.execute(f"SELECT slot FROM items WHERE {sql}", params)]
        mask = np.zeros(self._next_slot, dtype=bool)
        mask[[s for s in slots if s < self._next_slot]] = True
        return mask

    # -- search ---------------------------------------------------------------------------------
    def _uses_ann(self, options: SearchOptions) -> bool:
        c = self.config
        if options.exact:
            return False
        if c.index == "flat":
            return c.storage != "float32"
        return c.index == "hnsw" or self._n_live >= c.exact_threshold

    def search(self, queries: np.ndarray, options: SearchOptions) -> list[list[Hit]]:
        with self._mutex:
            slots, keys = self._search_slots(queries, options)
            return self._hits(slots, keys, options.include)

    def search_ids(
        self, queries: np.ndarray, options: SearchOptions
    ) -> tuple[list[list[str]], np.ndarray]:
        with self._mutex:
            slots, keys = self._search_slots(queries, options)
            scores = np.sqrt(np.maximum(-keys, 0)) if self.config.metric == "l2" else keys
            scores = np.where(slots >= 0, scores, np.nan).astype(np.float32)
            ids = self._ids
            return [[ids[s] for s in row if s >= 0] for row in slots.tolist()], scores  # type: ignore[misc]

    def _search_slots(
        self, queries: np.ndarray, options: SearchOptions
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best slots (``-1`` padded) and higher-is-better keys for each query."""
        self._sync()
        k, metric = options.k, self.config.metric
        if options.where is None:
            allowed, n_allowed = None, self._n_live  # every live row
        else:
            allowed = self._filter_mask(options.where)
            n_allowed = int(allowed.sum())
        if n_allowed == 0:
            empty = np.full((len(queries), k), -1, dtype=np.int64)
            return empty, np.full((len(queries), k), -np.inf, dtype=np.float32)
        selective = allowed is not None and (
            n_allowed <= self.config.exact_threshold or n_allowed < 0.02 * self._n_live
        )
        if not self._uses_ann(options) or selective:
            rows = np.flatnonzero(allowed) if allowed is not None else None
            slots, keys = exact_search(
                queries, self._vectors, k, metric, allowed=self._live, rows=rows
            )
        else:
            slots, keys = self._ann_search(queries, options, allowed, n_allowed)
        return slots, keys

    def _ann_search(
        self,
        queries: np.ndarray,
        options: SearchOptions,
        allowed: np.ndarray | None,
        n_allowed: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        self._sync_index()
        ann = self._ann
        assert ann is not None
        k, c = options.k, self.config
        factor = 1 if c.storage == "float32" else (options.rescore or c.rescore_factor)
        n = min(k * factor, self._next_slot)
        ef = options.ef or c.ef_search
        if n_allowed < self._n_live:  # a filter: widen the walk as it gets more selective
            ef = min(int(ef * self._n_live / n_allowed), 4 * ef + 1024)
        mask = allowed if allowed is not None else self._live
        need_mask = n_allowed < ann.ntotal  # deleted rows (tombstones) or a filter
        labels, keys = ann.search(queries, n, ef=ef, allowed=mask if need_mask else None)
        if c.storage != "float32":
            slots, keys = rescore(queries, self._vectors, labels, k, c.metric)
        else:
            slots, keys = labels[:, :k], keys[:, :k]
        wanted = min(k, n_allowed, slots.shape[1])
        short = np.flatnonzero(slots[:, wanted - 1] < 0)  # results are sorted, -1 last
        if len(short):  # the graph walk came back short (a very selective filter): be exact
            rows = np.flatnonzero(mask)
            s2, k2 = exact_search(queries[short], self._vectors, k, c.metric, rows=rows)
            slots, keys = slots.copy(), keys.copy()
            slots[short], keys[short] = s2, k2
        return slots, keys

    def _hits(self, slots: np.ndarray, keys: np.ndarray, include: Sequence[str]) -> list[list[Hit]]:
        l2 = self.config.metric == "l2"
        details: dict[int, tuple[Any, str]] = {}
        if "text" in include or "metadata" in include:
            ordered = np.unique(slots[slots >= 0]).tolist()
            for start in range(0, len(ordered), SQL_CHUNK):
                chunk = ordered[start : start + SQL_CHUNK]
                marks = ",".join("?" * len(chunk))
                for slot, text, meta in self._db.execute(
                    f"SELECT slot, text, metadata FROM items WHERE slot IN ({marks})", chunk
                ):
                    details[slot] = (text, meta)
        scores = np.sqrt(np.maximum(-keys, 0)) if l2 else keys
        ids, vectors = self._ids, self._vectors
        if not include:  # ids and scores only: the fast path for search-heavy callers
            return [
                [Hit(ids[s], c) for s, c in zip(rs, rc, strict=True) if s >= 0]  # type: ignore[arg-type]
                for rs, rc in zip(slots.tolist(), scores.tolist(), strict=True)
            ]
        want_vector = "vector" in include
        out: list[list[Hit]] = []
        for row_slots, row_scores in zip(slots.tolist(), scores.tolist(), strict=True):
            hits = []
            for slot, score in zip(row_slots, row_scores, strict=True):
                if slot < 0 or ids[slot] is None:
                    continue
                hit = Hit(ids[slot], score)  # type: ignore[arg-type]
                if slot in details:
                    text, meta = details[slot]
                    hit.text = text if "text" in include else None
                    hit.metadata = json.loads(meta) if "metadata" in include else {}
                if want_vector:
                    hit.vector = np.array(vectors[slot])
                hits.append(hit)
            out.append(hits)
        return out

    # -- the approximate index ------------------------------------------------------------------
    def _index_kind(self) -> str:
        return "flat" if self.config.index == "flat" else "hnsw"

    def _read_pointer(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.folder / INDEX_POINTER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _load_snapshot(self) -> AnnIndex | None:
        """The saved index, if it matches this generation and configuration; else None."""
        c = self.config
        pointer = self._read_pointer()
        expected = {
            "gen": self._gen,
            "kind": self._index_kind(),
            "storage": c.storage,
            "metric": c.metric,
            "dim": c.dim,
            "m": c.m,
        }
        if not pointer or any(pointer.get(k) != v for k, v in expected.items()):
            return None
        if pointer.get("covered", -1) > self._next_slot:
            return None
        try:
            ann = AnnIndex.load(self.folder / pointer["file"], c, self._index_kind())
        except (OSError, RuntimeError):
            return None
        if ann.ntotal != pointer["covered"]:
            return None
        self._snapshot_covered = ann.ntotal
        return ann

    def _sync_index(self, progress: bool = False) -> None:
        """Load or build the index and add the slots committed since it was saved."""

        if self._ann is None:
            self._ann = self._load_snapshot()
            if self._ann is None:
                self._ann = AnnIndex(self.config, self._index_kind())
                self._snapshot_covered = 0
        ann = self._ann
        start, stop = ann.ntotal, self._next_slot
        if start >= stop:
            return
        if not ann.is_trained:
            rng = np.random.default_rng(0)
            rows = np.sort(rng.choice(stop, size=min(stop, TRAIN_SAMPLE), replace=False))
            ann.train(np.asarray(self._vectors[rows]))
        step = 8_192
        with progress_bar("indexing", stop - start, enabled=progress) as advance:
            for lo in range(start, stop, step):
                hi = min(lo + step, stop)
                ann.add(np.asarray(self._vectors[lo:hi]))
                advance(hi - lo)
        self._persist_index(min_growth=SNAPSHOT_GROWTH)

    def _persist_index(self, *, min_growth: float = 0.0, blocking: bool = False) -> None:
        """Save the in-memory index when it covers enough new rows; skip if a writer is busy."""
        ann = self._ann
        if ann is None or ann.ntotal <= self._snapshot_covered:
            return
        if ann.ntotal - self._snapshot_covered < min_growth * ann.ntotal:
            return
        try:
            with self._write_lock(blocking=blocking) as got:
                if got and self._state()["gen"] == self._gen:
                    self._save_index(ann)
        except OSError:  # a read-only folder or a full disk: the index stays in memory only
            pass

    def _save_index(self, ann: AnnIndex) -> None:
        """Write the snapshot beside the pointer, then switch the pointer atomically."""
        old = self._read_pointer()
        name = f"index-{self._gen:06d}-{uuid.uuid4().hex[:8]}.faiss"
        tmp = self.folder / f".{name}.tmp"
        ann.save(tmp)
        os.replace(tmp, self.folder / name)
        c = self.config
        _write_json_atomic(
            self.folder / INDEX_POINTER,
            {
                "file": name,
                "gen": self._gen,
                "covered": ann.ntotal,
                "kind": self._index_kind(),
                "storage": c.storage,
                "metric": c.metric,
                "dim": c.dim,
                "m": c.m,
                "ef_construction": c.ef_construction,
            },
        )
        self._snapshot_covered = ann.ntotal
        if old and old.get("file") and old["file"] != name:
            with contextlib.suppress(OSError):
                (self.folder / old["file"]).unlink()

    def build_index(self, progress: bool = False) -> None:
        with self._mutex:
            self._sync()
            if not self._uses_ann(SearchOptions()):
                return  # exact search (a small collection, or index="flat") needs no index
            self._sync_index(progress=progress)
            self._persist_index(blocking=True)

    # -- keywords -------------------------------------------------------------------------------
    def keyword_search(self, query: str, n: int, where: Node | None) -> list[tuple[str, float]]:

        with self._mutex:
            self._sync()
            if self._keyword is None or self._keyword_version != self._version:
                rows = self._db.execute(
                    "SELECT slot, text FROM items WHERE text IS NOT NULL ORDER BY slot"
                ).fetchall()
                self._keyword = KeywordIndex(
                    np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]
                )
                self._keyword_version = self._version
            allowed = self._filter_mask(where) if where is not None else None
            slots, scores = self._keyword.search(query, n, allowed)
            return [
                (self._ids[s], float(v))  # type: ignore[misc]
                for s, v in zip(slots.tolist(), scores.tolist(), strict=True)
                if self._ids[s] is not None
            ]

    # -- reports --------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        with self._mutex:
            self._sync()
            pointer = self._read_pointer() or {}
            files = {
                p.name: p.stat().st_size
                for p in self.folder.iterdir()
                if not p.name.startswith(".")
            }
            index: dict[str, Any] = {
                "mode": "approximate" if self._uses_ann(SearchOptions()) else "exact",
                "kind": self._index_kind(),
                "saved_rows": pointer.get("covered", 0) if pointer.get("gen") == self._gen else 0,
            }
            if self._ann is not None:
                index["in_memory_rows"] = self._ann.ntotal
                index["memory_bytes"] = self._ann.memory()
            return {
                "backend": self.kind,
                "location": self.location,
                "count": self._n_live,
                "slots": self._next_slot,
                "dead": self._next_slot - self._n_live,
                "generation": self._gen,
                "index": index,
                "disk_bytes": sum(files.values()),
                "files": files,
            }

    def verify(self) -> dict[str, Any]:
        """Check that storage and index agree; raises :class:`CorruptCollectionError` if not."""
        with self._mutex:
            self._sync()
            problems = []
            db = self._db
            n_items, max_slot = db.execute("SELECT COUNT(*), MAX(slot) FROM items").fetchone()
            if n_items != self._n_live:
                problems.append(f"{n_items} rows but the state records {self._n_live}")
            if max_slot is not None and max_slot >= self._next_slot:
                problems.append(f"slot {max_slot} is past next_slot {self._next_slot}")
            size = (self.folder / _vectors_name(self._gen)).stat().st_size
            if size < self._next_slot * self._row_bytes:
                problems.append("the vector file is shorter than the committed rows")
            if int(self._live.sum()) != n_items:
                problems.append("the in-memory live mask disagrees with the rows")
            snapshot = self._load_snapshot()
            if snapshot is not None and snapshot.ntotal > self._next_slot:
                problems.append("the saved index covers rows that were never committed")
            if problems:
                raise CorruptCollectionError(
                    f"{self.folder} is inconsistent: " + "; ".join(problems),
                    "export what can be read and import it into a new collection",
                )
            return {
                "rows": n_items,
                "slots": self._next_slot,
                "vector_file_rows": size // self._row_bytes,
                "index_rows": snapshot.ntotal if snapshot is not None else 0,
            }
