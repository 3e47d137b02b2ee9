"""``index.json`` and ``index-<gen>-<id>.faiss``: the saved approximate index, a derived cache.

The pointer records what the snapshot was built from: the collection (its uid), the generation,
how many rows it covers and a digest of those rows' vectors, plus the index settings. A pointer
of an older generation or other settings is merely stale (a crash during compaction, a changed
setting) and is ignored; one that claims this generation but names another collection, other
vectors, rows never committed or a file outside the folder is damage, reported until repaired.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embedlab.store.ann import AnnIndex
from embedlab.store.config import CollectionConfig
from embedlab.store.errors import CorruptCollectionError
from embedlab.store.local.layout import (
    INDEX_POINTER,
    is_snapshot_name,
    snapshot_name,
    write_json_atomic,
)

_SETTINGS = ("kind", "storage", "metric", "dim", "m")


class Snapshots:
    """Reads, checks and writes the index snapshot of one folder."""

    def __init__(self, folder: Path, config: CollectionConfig, kind: str) -> None:
        self.folder = folder
        self.config = config
        self.kind = kind

    def _damaged(self, what: str) -> CorruptCollectionError:
        return CorruptCollectionError(
            f"the index snapshot of {self.folder} {what}",
            "run `embedlab collection repair` to rebuild the index from the vectors",
        )

    def pointer(self) -> dict[str, Any] | None:
        path = self.folder / INDEX_POINTER
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise self._damaged(f"pointer {INDEX_POINTER} cannot be read ({exc})") from None
        if not isinstance(data, dict):
            raise self._damaged(f"pointer {INDEX_POINTER} is not a JSON object")
        if "file" in data and not is_snapshot_name(data["file"]):
            raise self._damaged(
                f"pointer names {data['file']!r}, not a snapshot file in the folder"
            )
        return data

    def settings(self, gen: int) -> dict[str, Any]:
        c = self.config
        return {"gen": gen, "kind": self.kind, "storage": c.storage, "metric": c.metric,
                "dim": c.dim, "m": c.m}  # fmt: skip

    def current(self, gen: int) -> dict[str, Any] | None:
        """The pointer when it is for this generation and these settings, else None (stale)."""
        pointer = self.pointer()
        if not pointer or "collection" not in pointer:
            return None  # none, or written before snapshots recorded their identity
        if any(pointer.get(k) != v for k, v in self.settings(gen).items()):
            return None
        return pointer

    def load(
        self, gen: int, rows: int, uid: str | None, digest: Callable[[int], str]
    ) -> AnnIndex | None:
        """The saved index over this generation's first rows, checked against what it claims;
        None when there is none (or only a stale one)."""
        pointer = self.current(gen)
        if pointer is None:
            return None
        if uid is not None and pointer.get("collection") != uid:
            raise self._damaged("belongs to another collection")
        covered = pointer.get("covered")
        if not isinstance(covered, int) or not 0 <= covered <= rows:
            raise self._damaged(f"covers {covered!r} rows but {rows} are committed")
        if pointer.get("digest") != digest(covered):
            raise self._damaged("was built from other vectors than the ones stored")
        try:
            ann = AnnIndex.load(self.folder / pointer["file"], self.config, self.kind)
        except (OSError, RuntimeError) as exc:
            raise self._damaged(f"file {pointer['file']} cannot be read ({exc})") from None
        if ann.ntotal != covered or ann.index.d != self._width():
            raise self._damaged(f"file {pointer['file']} does not hold what the pointer says")
        return ann

    def _width(self) -> int:
        dim = self.config.dim
        return 8 * ((dim + 7) // 8) if self.config.storage == "binary" else dim

    def save(self, ann: AnnIndex, gen: int, uid: str | None, digest: str) -> None:
        """Write the snapshot beside the pointer, then switch the pointer atomically."""
        try:
            old = self.pointer()
        except CorruptCollectionError:
            old = None  # only a writer saves; it replaces a damaged pointer, never follows it
        name = snapshot_name(gen)
        tmp = self.folder / f".{name}.tmp"
        ann.save(tmp)
        os.replace(tmp, self.folder / name)
        c = self.config
        write_json_atomic(
            self.folder / INDEX_POINTER,
            {
                "file": name,
                **self.settings(gen),
                "covered": ann.ntotal,
                "ef_construction": c.ef_construction,
                "collection": uid,
                "digest": digest,
            },
        )
        if old and is_snapshot_name(old.get("file")) and old["file"] != name:
            with contextlib.suppress(OSError):
                (self.folder / old["file"]).unlink()

    def drop_pointer(self) -> None:
        (self.folder / INDEX_POINTER).unlink(missing_ok=True)

    def problem(
        self, gen: int, rows: int, uid: str | None, digest: Callable[[int], str]
    ) -> str | None:
        """What is wrong with the snapshot, or None (for verify and repair)."""
        try:
            self.load(gen, rows, uid, digest)
        except CorruptCollectionError as exc:
            return exc.problem
        return None
