"""``items.sqlite``: ids, texts, JSON metadata, row slots, the state counters, the binding and
the vector file's block checksums, all changed in one fsync'ed transaction per write.

SQLite in WAL mode gives atomic commits, concurrent readers and SQL for metadata filters with
nothing to install. Any error SQLite raises about the file itself (not a database, malformed,
a missing table) becomes one :class:`CorruptCollectionError` line, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from embedlab.store.errors import CollectionLockedError, CorruptCollectionError
from embedlab.store.local.layout import DB_FILE, RESTORE_HINT
from embedlab.store.local.lock import LOCK_TIMEOUT

SQL_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit
BINDING_KEYS = ("name", "dim", "model", "metric", "normalize")  # what vectors depend on

ITEMS_TABLE = """
CREATE TABLE {name} (
    slot INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    text TEXT,
    metadata TEXT NOT NULL
)"""
CHECKSUMS_TABLE = "CREATE TABLE IF NOT EXISTS checksums (block INTEGER PRIMARY KEY, crc INTEGER)"
BINDING_TABLE = "CREATE TABLE IF NOT EXISTS binding (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
SCHEMA = (
    ITEMS_TABLE.format(name="items")
    + f""";
CREATE TABLE dead (seq INTEGER PRIMARY KEY, slot INTEGER NOT NULL);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
{CHECKSUMS_TABLE};
{BINDING_TABLE};
INSERT INTO state VALUES ('gen', 1), ('next_slot', 0), ('version', 0), ('live', 0);
"""
)


@contextlib.contextmanager
def guarded(folder: Path) -> Iterator[None]:
    """Turn SQLite's errors about the file into one clear line (a busy database into a lock
    error): a damaged ``items.sqlite`` must never surface as a raw traceback."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise CollectionLockedError(
                f"{folder / DB_FILE} stayed locked by another process ({text})",
                "wait for the other writer to finish",
            ) from None
        raise CorruptCollectionError(
            f"{folder / DB_FILE} is damaged: {text}", RESTORE_HINT
        ) from None


def create_db(path: Path, binding: dict[str, Any]) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO binding VALUES (?, ?)", [(k, json.dumps(v)) for k, v in binding.items()]
        )
    finally:
        db.close()


class Rows:
    """The SQLite side of one open collection (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with guarded(folder):
            db = sqlite3.connect(
                folder / DB_FILE,
                isolation_level=None,
                check_same_thread=False,
                timeout=LOCK_TIMEOUT,
            )
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT * 1000)}")
        except sqlite3.DatabaseError:
            pass  # a damaged file: every query says so (guarded), and repair can still run
        self.db: sqlite3.Connection | None = db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self.db is None:
            raise CorruptCollectionError(f"the collection at {self.folder} is closed", "reopen it")
        return self.db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, kind: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        db = self.conn
        db.execute(f"BEGIN {kind}")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # Ctrl-C may land just after COMMIT, or before BEGIN ran
                db.execute("ROLLBACK")
            raise

    # -- state --------------------------------------------------------------------------------
    def version(self) -> int:
        return self.execute("SELECT value FROM state WHERE key = 'version'").fetchone()[0]

    def state(self) -> dict[str, int]:
        state = dict(self.execute("SELECT key, value FROM state").fetchall())
        missing = {"gen", "next_slot", "version", "live"} - set(state)
        if missing:
            raise CorruptCollectionError(
                f"{self.folder / DB_FILE} lacks its state ({', '.join(sorted(missing))})",
                RESTORE_HINT,
            )
        return state

    def bump(self, *, next_slot: int | None = None, live_delta: int = 0) -> None:
        db = self.conn
        if next_slot is not None:
            db.execute("UPDATE state SET value = ? WHERE key = 'next_slot'", (next_slot,))
        db.execute("UPDATE state SET value = value + ? WHERE key = 'live'", (live_delta,))
        db.execute("UPDATE state SET value = value + 1 WHERE key = 'version'")

    def has_table(self, name: str) -> bool:
        row = self.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return row.fetchone() is not None

    def binding(self) -> dict[str, Any] | None:
        """The binding copied here at creation (None for folders made before it was kept)."""
        if not self.has_table("binding"):
            return None
        return {k: json.loads(v) for k, v in self.execute("SELECT key, value FROM binding")}

    def set_binding(self, binding: dict[str, Any]) -> None:
        db = self.conn
        db.execute(BINDING_TABLE)
        db.execute("DELETE FROM binding")
        db.executemany(
            "INSERT INTO binding VALUES (?, ?)", [(k, json.dumps(v)) for k, v in binding.items()]
        )

    # -- checksums ----------------------------------------------------------------------------
    def checksums(self) -> dict[int, int] | None:
        if not self.has_table("checksums"):
            return None
        return dict(self.execute("SELECT block, crc FROM checksums").fetchall())

    def checksum(self, block: int) -> int | None:
        row = self.execute("SELECT crc FROM checksums WHERE block = ?", (block,)).fetchone()
        return row[0] if row else None

    def set_checksums(self, crcs: dict[int, int], *, replace: bool = False) -> None:
        db = self.conn
        db.execute(CHECKSUMS_TABLE)
        if replace:
            db.execute("DELETE FROM checksums")
        db.executemany("INSERT OR REPLACE INTO checksums VALUES (?, ?)", list(crcs.items()))

    # -- rows ---------------------------------------------------------------------------------
    def slots_of(self, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), SQL_CHUNK):
            chunk = list(ids[start : start + SQL_CHUNK])
            marks = ",".join("?" * len(chunk))
            for item_id, slot in self.execute(
                f"SELECT id, slot FROM items WHERE id IN ({marks})", chunk
            ):
                found[item_id] = slot
        return found

    def rows_of(self, ids: Sequence[str]) -> Iterator[tuple[int, str, Any, str]]:
        """``(slot, id, text, metadata)`` of the ids present."""
        for start in range(0, len(ids), SQL_CHUNK):
            chunk = list(ids[start : start + SQL_CHUNK])
            marks = ",".join("?" * len(chunk))
            yield from self.execute(
                f"SELECT slot, id, text, metadata FROM items WHERE id IN ({marks})", chunk
            )

    def details(self, slots: list[int]) -> dict[int, tuple[Any, str]]:
        """``slot -> (text, metadata)`` for the given slots."""
        out: dict[int, tuple[Any, str]] = {}
        for start in range(0, len(slots), SQL_CHUNK):
            chunk = slots[start : start + SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            for slot, text, meta in self.execute(
                f"SELECT slot, text, metadata FROM items WHERE slot IN ({marks})", chunk
            ):
                out[slot] = (text, meta)
        return out

    def insert(
        self,
        start: int,
        ids: Sequence[str],
        texts: Sequence[str | None],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        self.conn.executemany(
            "INSERT INTO items (slot, id, text, metadata) VALUES (?, ?, ?, ?)",
            [
                (start + i, item_id, text, json.dumps(meta, ensure_ascii=False))
                for i, (item_id, text, meta) in enumerate(zip(ids, texts, metadatas, strict=True))
            ],
        )

    def kill(self, slots: Sequence[int]) -> None:
        """Delete these rows and log their slots as dead (the index keeps them as tombstones)."""
        rows = [(s,) for s in slots]
        self.conn.executemany("DELETE FROM items WHERE slot = ?", rows)
        self.conn.executemany("INSERT INTO dead (slot) VALUES (?)", rows)

    def renumber(self, gen: int) -> int:
        """Compaction, inside a transaction: the rows left become slots 0..n-1 of ``gen``."""
        db = self.conn
        db.execute(ITEMS_TABLE.format(name="items_new"))
        db.execute(
            "INSERT INTO items_new (slot, id, text, metadata) "
            "SELECT ROW_NUMBER() OVER (ORDER BY slot) - 1, id, text, metadata "
            "FROM items ORDER BY slot"
        )
        db.execute("DROP TABLE items")
        db.execute("ALTER TABLE items_new RENAME TO items")
        db.execute("DELETE FROM dead")
        n = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        db.execute("UPDATE state SET value = ? WHERE key = 'gen'", (gen,))
        db.execute("UPDATE state SET value = ? WHERE key = 'next_slot'", (n,))
        db.execute("UPDATE state SET value = ? WHERE key = 'live'", (n,))
        return n
