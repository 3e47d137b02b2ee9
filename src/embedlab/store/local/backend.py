"""The embedded default backend: a collection is a folder, nothing to start.

Layout of a collection folder::

    collection.json        the binding (model, dim, metric, storage, ...), written once, atomically
    items.sqlite           SQLite in WAL mode: ids, texts, JSON metadata, row slots, state, a copy
                           of the binding and the vector file's block checksums (rows.py)
    vectors-000001.f32     full-precision vectors, row ``slot`` at byte ``slot * dim * 4``
    index.json             points at the current index snapshot (a derived cache; snapshot.py)
    index-000001-*.faiss   the faiss index over slots ``0..covered-1``
    write.lock             flock'ed by the one process writing at a time (lock.py)
    quarantine/            what ``repair`` could not trust, moved aside, never deleted

How a write stays durable: under the write lock, the new vectors are appended past the last
committed slot and fsync'ed; only then does one SQLite transaction (``synchronous=FULL``) insert
the rows, extend the block checksums and advance ``next_slot``. A crash before the commit leaves
bytes past ``next_slot``, which no reader looks at and the next writer truncates; a crash after
it loses nothing. Deletes and upserts remove rows and log the freed slots in ``dead``; the index
keeps those slots as tombstones that the search skips, and :meth:`LocalBackend.compact` rewrites
the file and index once they pile up. Readers notice commits through a ``version`` counter and
catch up incrementally (new slots are added to the in-memory index, dead ones masked).

The class is composed of one part per job: :class:`~.lock.WriteLock` (the writer lock),
:class:`~.rows.Rows` (SQLite), :class:`~.vectors.VectorFile` (vectors and their checksums),
:class:`~.snapshot.Snapshots` (the saved index); :mod:`.search`, :mod:`.verify` and
:mod:`.repair` hold the search, the consistency checks and the repair.

Damage (a cut or missing vector file, a changed binding, a foreign or mismatched index
snapshot, a broken database) raises :class:`CorruptCollectionError` on every call until
:meth:`LocalBackend.repair` fixes it; nothing on the read or write path pads, recreates or
rebuilds around it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from embedlab.progress import progress_bar
from embedlab.store.ann import TRAIN_SAMPLE, AnnIndex
from embedlab.store.backend import Hit, Record, SearchOptions, StorageBackend
from embedlab.store.config import CollectionConfig
from embedlab.store.errors import (
    CollectionExistsError,
    CorruptCollectionError,
    DuplicateIdError,
    UnknownCollectionError,
)
from embedlab.store.filters import Node, to_sqlite
from embedlab.store.keyword import KeywordIndex
from embedlab.store.local.layout import (
    DB_FILE,
    MANIFEST,
    RESTORE_HINT,
    fsync_dir,
    is_snapshot_name,
    is_temporary_name,
    is_vectors_name,
    quarantine,
    read_manifest,
    vectors_name,
    write_json_atomic,
)
from embedlab.store.local.lock import WriteLock
from embedlab.store.local.repair import Embed, repair
from embedlab.store.local.rows import BINDING_KEYS, Rows, create_db, guarded
from embedlab.store.local.search import search_slots, to_hits
from embedlab.store.local.snapshot import Snapshots
from embedlab.store.local.vectors import BLOCK, VectorFile
from embedlab.store.local.verify import find_problems

COMPACT_MIN_DEAD = 1_000
COMPACT_DEAD_FRACTION = 0.3
SNAPSHOT_GROWTH = 0.1  # persist the index again once it covers 10% more rows than on disk

F = TypeVar("F", bound=Callable[..., Any])


def _guard(method: F) -> F:
    """This object's mutex, and SQLite's errors as one clear line."""

    @functools.wraps(method)
    def wrapper(self: LocalBackend, *args: Any, **kwargs: Any) -> Any:
        with self._mutex, guarded(self.folder):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def binding_of(config: CollectionConfig, uid: str) -> dict[str, Any]:
    """What ``items.sqlite`` keeps of the binding: the fields vectors depend on (checked against
    the manifest on open), the whole config (to rebuild a lost manifest) and a uid."""
    return {**{k: getattr(config, k) for k in BINDING_KEYS}, "uid": uid, "config": config.to_dict()}


class LocalBackend(StorageBackend):
    """A collection stored in a folder (see the module docstring for the layout and protocol)."""

    kind = "local"

    def __init__(self, folder: Path, config: CollectionConfig) -> None:
        self.folder = folder
        self.location = str(folder)
        self._mutex = threading.RLock()
        self._lock = WriteLock(folder)
        self._rows = Rows(folder)
        self._recovered = False
        self._repairs: list[str] = []  # done before repair() ran (open_for_repair)
        self._use_config(config)

    def _use_config(self, config: CollectionConfig) -> None:
        self.config = config
        self._files = VectorFile(self.folder, config.dim)
        self._snapshots = Snapshots(self.folder, config, self._index_kind())
        self._uid: str | None = None
        self._bound = False
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

    @property
    def lock_timeout(self) -> float:
        return self._lock.timeout

    @lock_timeout.setter
    def lock_timeout(self, seconds: float) -> None:
        self._lock.timeout = seconds

    # -- creating and opening -------------------------------------------------------------------
    @classmethod
    def default_name(cls, location: str) -> str:
        folder = Path(location).expanduser()
        if folder.exists() and not folder.is_dir():
            raise CollectionExistsError(
                f"{folder} is a file, not a folder",
                "pass a new or empty folder for the collection (a collection is a folder)",
            )
        return folder.resolve().name

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
            what = "is a file" if not folder.is_dir() else "exists and is not an empty folder"
            raise CollectionExistsError(
                f"{folder} {what}", "pass a new or empty folder for the collection"
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.creating-{uuid.uuid4().hex[:8]}")
        tmp.mkdir()
        try:
            create_db(tmp / DB_FILE, binding_of(config, uuid.uuid4().hex))
            (tmp / vectors_name(1)).touch()
            write_json_atomic(tmp / MANIFEST, config.to_dict())
            fsync_dir(tmp)
            os.replace(tmp, folder)  # atomic; replaces an empty folder too
            fsync_dir(folder.parent)
        except BaseException:
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
            raise CorruptCollectionError(f"{folder} has no {DB_FILE}", RESTORE_HINT)
        return cls(folder, config)

    @classmethod
    def open_for_repair(cls, location: str, name: str | None) -> LocalBackend:
        """:meth:`open`, rewriting an unreadable or damaged manifest from the binding kept in
        ``items.sqlite`` first (the old one quarantined)."""
        folder = Path(location).expanduser()
        try:
            return cls.open(location, name)
        except CorruptCollectionError as exc:
            if not (folder / DB_FILE).is_file():
                raise
            problem = exc.problem
        with WriteLock(folder).hold():
            rows = Rows(folder)
            try:
                with guarded(folder):
                    stored = rows.binding()
            except CorruptCollectionError:
                stored = None
            finally:
                rows.close()
            if not stored or "config" not in stored:
                raise CorruptCollectionError(
                    f"{problem}, and {DB_FILE} keeps no copy of the binding to rebuild it from",
                    "restore collection.json from a backup",
                )
            config = CollectionConfig.from_dict(stored["config"])
            moved = quarantine(folder, [MANIFEST], "manifest")
            write_json_atomic(folder / MANIFEST, config.to_dict())
        backend = cls.open(location, name)
        backend._repairs.append(f"{problem}: rewrote {MANIFEST} from the database (old in {moved})")
        return backend

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
        backend = cls.open(location, name)
        with backend._lock.hold():
            trash = backend.folder.with_name(f".{backend.folder.name}.dropped-{uuid.uuid4().hex}")
            os.replace(backend.folder, trash)  # atomic: the collection is gone at once
        backend.close()
        shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        with self._mutex:
            if self._rows.db is None:
                return
            with contextlib.suppress(Exception):
                self._persist_index(min_growth=SNAPSHOT_GROWTH)
            self._rows.close()
            self._reset_cache()

    # -- state ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """What every change starts with: this object's mutex and the folder's write lock,
        caught up with other writers' commits and cleaned up after any crash."""
        with self._mutex, guarded(self.folder), self._lock.hold():
            self._sync()
            self._recover()
            yield

    def binding_problem(self) -> str | None:
        """How the manifest's binding differs from the copy in the database, or None."""
        stored = self._rows.binding()
        if stored is None:
            return None  # a folder made before the copy was kept
        self._uid = stored.get("uid")
        diff = [
            f"{k}={getattr(self.config, k)!r} (the data was made with {stored[k]!r})"
            for k in BINDING_KEYS
            if k in stored and getattr(self.config, k) != stored[k]
        ]
        return f"{MANIFEST} records " + ", ".join(diff) if diff else None

    def _check_binding(self) -> None:
        if self._bound:
            return
        problem = self.binding_problem()
        if problem:
            raise CorruptCollectionError(f"{self.folder}: {problem}", RESTORE_HINT)
        self._bound = True

    def _sync(self) -> None:
        """Catch up with commits (ours or another process's): new slots, dead slots, compaction.

        Nothing is cached until every check passed, so damage is reported on every call."""
        rows = self._rows
        version = rows.version()
        if version == self._version:
            return  # nothing committed since the last look (one indexed read, ~20 us)
        self._check_binding()
        with rows.transaction("DEFERRED") as db:
            state = rows.state()
            full = state["gen"] != self._gen
            lo = 0 if full else self._next_slot
            added = db.execute(
                "SELECT slot, id FROM items WHERE slot >= ? AND slot < ? ORDER BY slot",
                (lo, state["next_slot"]),
            ).fetchall()
            dead_after = 0 if full else self._dead_seq
            dead = db.execute(
                "SELECT seq, slot FROM dead WHERE seq > ? ORDER BY seq", (dead_after,)
            ).fetchall()
        try:
            vectors = self._vectors
            if full or len(vectors) != state["next_slot"]:
                vectors = self._files.map(state["gen"], state["next_slot"])
        except CorruptCollectionError:
            if rows.state()["gen"] == state["gen"]:
                raise
            self._sync()  # compacted meanwhile: start again on the new generation
            return
        # Every check passed: only now does this object take the new state in.
        if full:
            self._reset_cache()
            ids: list[str | None] = [None] * state["next_slot"]
            live = np.zeros(state["next_slot"], dtype=bool)
        else:
            grow = state["next_slot"] - len(self._ids)
            ids = self._ids
            ids.extend([None] * grow)
            live = np.concatenate([self._live, np.zeros(grow, dtype=bool)])
        for slot, item_id in added:
            ids[slot], live[slot] = item_id, True
        if not full:
            for _, slot in dead:
                ids[slot], live[slot] = None, False
        self._ids, self._live, self._vectors = ids, live, vectors
        self._dead_seq = dead[-1][0] if dead else self._dead_seq
        self._gen, self._version = state["gen"], state["version"]
        self._next_slot, self._n_live = state["next_slot"], state["live"]

    def _recover(self) -> None:
        """First write of this object: cut a crashed append, add what older folders lack,
        remove orphans of crashed work (only files named as embedlab names them)."""
        if self._recovered:
            return
        path = self._files.path(self._gen)
        committed = self._next_slot * self._files.row_bytes
        if self._files.check(self._gen, self._next_slot) > committed:
            os.truncate(path, committed)
        rows = self._rows
        no_binding, no_checksums = not rows.has_table("binding"), not rows.has_table("checksums")
        if no_binding or no_checksums:  # made by an older embedlab
            with rows.transaction():
                if no_binding:
                    rows.set_binding(binding_of(self.config, uuid.uuid4().hex))
                    self._snapshots.drop_pointer()  # it names no collection: rebuilt later
                if no_checksums:
                    rows.set_checksums(self._files.compute_crcs(self._gen, self._next_slot))
            self.binding_problem()
        pointer = self._snapshots.pointer()
        keep = {vectors_name(self._gen), pointer.get("file") if pointer else None}
        for item in self.folder.iterdir():
            stale_vectors = is_vectors_name(item.name) and item.name not in keep
            stale_index = is_snapshot_name(item.name) and item.name not in keep
            if (stale_vectors or stale_index or is_temporary_name(item.name)) and item.is_file():
                with contextlib.suppress(OSError):
                    item.unlink()
        self._recovered = True

    def _digest(self, rows: int) -> str:
        return self._files.digest(self._gen, rows, self._rows.checksums() or {})

    # -- writing --------------------------------------------------------------------------------
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
            rows = self._rows
            existing = rows.slots_of(ids)
            if existing and not upsert:
                shown = ", ".join(repr(i) for i in list(existing)[:5])
                raise DuplicateIdError(
                    f"{len(existing)} id(s) already in collection {self.config.name!r}: {shown}",
                    "use upsert() (CLI: --upsert) to replace them, delete them first, or "
                    "(CLI) add --resume to skip items already stored",
                )
            start = self._next_slot
            first_block = start * self._files.row_bytes // BLOCK
            crcs = self._files.append(self._gen, start, vectors, rows.checksum(first_block))
            with rows.transaction():
                if existing:
                    rows.kill(list(existing.values()))
                rows.insert(start, ids, texts, metadatas)
                rows.set_checksums(crcs)
                rows.bump(next_slot=start + len(ids), live_delta=len(ids) - len(existing))
            self._sync()
            self._maybe_compact()

    def delete(self, ids: Sequence[str] | None, where: Node | None) -> int:
        with self._writing():
            if ids is not None:
                slots = list(self._rows.slots_of(ids).values())
                if where is not None and slots:
                    allowed = self._filter_mask(where)
                    slots = [s for s in slots if allowed[s]]
            else:
                slots = np.flatnonzero(self._filter_mask(where)).tolist()
            if not slots:
                return 0
            with self._rows.transaction():
                self._rows.kill(slots)
                self._rows.bump(live_delta=-len(slots))
            self._sync()
            self._maybe_compact()
            return len(slots)

    def _maybe_compact(self) -> None:
        dead = self._next_slot - self._n_live
        if dead >= COMPACT_MIN_DEAD and dead > COMPACT_DEAD_FRACTION * self._next_slot:
            self.compact()

    def compact(self) -> None:
        """Rewrite the vectors without dead rows, renumber slots, rebuild the index.

        The rows copied are checked against their checksums first (compaction must not give
        damaged vectors fresh checksums). The new vector file is complete and fsync'ed before
        one transaction switches to it, so a crash leaves either the old or the new generation,
        never a mix. Readers holding the old file keep a valid memory map until they notice.
        """
        with self._writing():
            slots = np.flatnonzero(self._live[: self._next_slot])
            bad = self._files.bad_rows(self._gen, self._next_slot, self._rows.checksums() or {})
            if bad[slots].any():
                raise CorruptCollectionError(
                    f"{int(bad[slots].sum())} vectors of {self.folder} fail their checksum, "
                    "so it cannot be compacted",
                    RESTORE_HINT,
                )
            chunks = (self._vectors[slots[s : s + 65_536]] for s in range(0, len(slots), 65_536))
            self.switch_generation(chunks, remove=())

    def switch_generation(self, chunks: Iterable[np.ndarray], remove: Sequence[int]) -> None:
        """Write ``chunks`` (the live rows in slot order, less the slots ``remove``) as the next
        generation and switch to it in one transaction (compaction and repair)."""
        had_index = self._ann is not None
        new_gen = self._gen + 1
        crcs = self._files.write_new(new_gen, chunks)
        try:
            with self._rows.transaction() as db:
                if remove:
                    db.executemany("DELETE FROM items WHERE slot = ?", [(s,) for s in remove])
                self._rows.renumber(new_gen)
                self._rows.set_checksums(crcs, replace=True)
                self._rows.bump()
        except BaseException:
            self._files.path(new_gen).unlink(missing_ok=True)  # rolled back: never used
            raise
        self._snapshots.drop_pointer()  # it indexes the old slots
        self._recovered = False
        self._sync()  # a new generation: drops the old map, ids and index
        self._recover()  # removes the old vector file and index snapshot
        if had_index or self._uses_ann(SearchOptions()):
            self.build_index()

    # -- reading --------------------------------------------------------------------------------
    @_guard
    def count(self, where: Node | None = None) -> int:
        self._sync()
        if where is None:
            return self._n_live
        sql, params = to_sqlite(where)
        return self._rows.execute(f"SELECT COUNT(*) FROM items WHERE {sql}", params).fetchone()[0]

    @_guard
    def get(self, ids: Sequence[str], include: Sequence[str]) -> list[Record]:
        self._sync()
        by_id = {row[1]: self._record(*row, include) for row in self._rows.rows_of(ids)}
        return [by_id[i] for i in ids if i in by_id]

    def _record(self, slot: int, item_id: str, text: Any, meta: str, include: Sequence[str]) -> Any:
        vector = np.array(self._vectors[slot]) if "vector" in include else None
        return Record(
            item_id,
            text if "text" in include else None,
            json.loads(meta) if "metadata" in include else {},
            vector,
        )

    @_guard
    def page(
        self, offset: int, limit: int, where: Node | None, include: Sequence[str]
    ) -> list[Record]:
        self._sync()
        clause, params = to_sqlite(where)
        rows = self._rows.execute(
            f"SELECT slot, id, text, metadata FROM items WHERE {clause} "
            "ORDER BY slot LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [self._record(s, i, t, m, include) for s, i, t, m in rows]

    def iter_records(self, batch_size: int, include: Sequence[str]) -> Iterator[list[Record]]:
        after, gen = -1, None
        while True:
            with self._mutex, guarded(self.folder):
                self._sync()
                if gen is not None and gen != self._gen:
                    raise CorruptCollectionError(
                        f"{self.folder} was compacted while being read", "run the export again"
                    )
                gen = self._gen
                rows = self._rows.execute(
                    "SELECT slot, id, text, metadata FROM items WHERE slot > ? "
                    "ORDER BY slot LIMIT ?",
                    (after, batch_size),
                ).fetchall()
                batch = [self._record(s, i, t, m, include) for s, i, t, m in rows]
            if not rows:
                return
            after = rows[-1][0]
            yield batch

    def _filter_mask(self, where: Node | None) -> np.ndarray:
        """Boolean mask over slots: live rows passing ``where`` (all live rows without one)."""
        if where is None:
            return self._live.copy()
        sql, params = to_sqlite(where)
        slots = [s for (s,) in self._rows.execute(f"SELECT slot FROM items WHERE {sql}", params)]
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

    @_guard
    def search(self, queries: np.ndarray, options: SearchOptions) -> list[list[Hit]]:
        slots, keys = search_slots(self, queries, options)
        return to_hits(self, slots, keys, options.include)

    @_guard
    def search_ids(
        self, queries: np.ndarray, options: SearchOptions
    ) -> tuple[list[list[str]], np.ndarray]:
        slots, keys = search_slots(self, queries, options)
        scores = np.sqrt(np.maximum(-keys, 0)) if self.config.metric == "l2" else keys
        scores = np.where(slots >= 0, scores, np.nan).astype(np.float32)
        ids = self._ids
        return [[ids[s] for s in row if s >= 0] for row in slots.tolist()], scores

    # -- the approximate index ------------------------------------------------------------------
    def _index_kind(self) -> str:
        return "flat" if self.config.index == "flat" else "hnsw"

    def _sync_index(self, progress: bool = False) -> None:
        """Load or build the index and add the slots committed since it was saved."""
        if self._ann is None:
            self._ann = self._snapshots.load(self._gen, self._next_slot, self._uid, self._digest)
            self._snapshot_covered = self._ann.ntotal if self._ann is not None else 0
            if self._ann is None:
                self._ann = AnnIndex(self.config, self._index_kind())
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
            with self._lock.hold(blocking=blocking) as got:
                if got and self._rows.state()["gen"] == self._gen:
                    self.binding_problem()  # the uid, in case another process just added one
                    self._snapshots.save(ann, self._gen, self._uid, self._digest(ann.ntotal))
                    self._snapshot_covered = ann.ntotal
        except OSError:  # a read-only folder or a full disk: the index stays in memory only
            pass

    @_guard
    def build_index(self, progress: bool = False) -> None:
        self._sync()
        if not self._uses_ann(SearchOptions()):
            return  # exact search (a small collection, or index="flat") needs no index
        self._sync_index(progress=progress)
        self._persist_index(blocking=True)

    # -- keywords -------------------------------------------------------------------------------
    @_guard
    def keyword_search(self, query: str, n: int, where: Node | None) -> list[tuple[str, float]]:
        self._sync()
        if self._keyword is None or self._keyword_version != self._version:
            rows = self._rows.execute(
                "SELECT slot, text FROM items WHERE text IS NOT NULL ORDER BY slot"
            ).fetchall()
            self._keyword = KeywordIndex(
                np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]
            )
            self._keyword_version = self._version
        allowed = self._filter_mask(where) if where is not None else None
        slots, scores = self._keyword.search(query, n, allowed)
        return [
            (self._ids[s], float(v))
            for s, v in zip(slots.tolist(), scores.tolist(), strict=True)
            if self._ids[s] is not None
        ]

    # -- reports --------------------------------------------------------------------------------
    @_guard
    def info(self) -> dict[str, Any]:
        self._sync()
        pointer = self._snapshots.current(self._gen) or {}
        files = {p.name: p.stat().st_size for p in self.folder.iterdir() if p.is_file()}
        files = {k: v for k, v in files.items() if not k.startswith(".")}
        index: dict[str, Any] = {
            "mode": "approximate" if self._uses_ann(SearchOptions()) else "exact",
            "kind": self._index_kind(),
            "saved_rows": pointer.get("covered", 0),
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

    @_guard
    def repair(self, embed: Embed | None = None) -> dict[str, Any]:
        """Rebuild what can be rebuilt, quarantine what cannot (see :mod:`.repair`); returns
        what was done and the verify report of the result."""
        actions = [*self._repairs, *repair(self, embed, binding_of)]
        self._repairs = []
        if self._uses_ann(SearchOptions()) or self._snapshots.current(self._gen):
            self.build_index()
        return {"actions": actions or ["nothing to repair"], "verify": self.verify()}

    @_guard
    def verify(self) -> dict[str, Any]:
        """Check the binding, rows, vector checksums and index snapshot agree; raises
        :class:`CorruptCollectionError` naming every problem if not."""
        problems, facts = find_problems(self)
        if problems:
            raise CorruptCollectionError(
                f"{self.folder} is inconsistent: " + "; ".join(problems), RESTORE_HINT
            )
        return facts
