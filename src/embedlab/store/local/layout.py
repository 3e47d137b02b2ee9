"""The files of a collection folder, and the small file-system steps every part shares.

Every name the folder's own files point at (the index pointer's snapshot file) is checked
against these patterns, so a damaged or hostile file can never make us read, replace or delete
anything outside the folder.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from embedlab._io import write_json_atomic as write_json
from embedlab.store.config import FORMAT_NAME, FORMAT_VERSION, CollectionConfig
from embedlab.store.errors import CorruptCollectionError, UnknownCollectionError

MANIFEST = "collection.json"
DB_FILE = "items.sqlite"
LOCK_FILE = "write.lock"
INDEX_POINTER = "index.json"
QUARANTINE = "quarantine"
RESTORE_HINT = "run `embedlab collection repair` (Python: Collection.repair()), or restore a backup"

_VECTORS = re.compile(r"^vectors-(\d{6})\.f32$")
_SNAPSHOT = re.compile(r"^index-\d{6}-[0-9a-f]{8}\.faiss$")
# what write_json_atomic and Snapshots.save write before renaming into place
_TEMPORARY = re.compile(
    r"^\.(?:(?:collection|index)\.json\.[0-9a-f]{8}|index-\d{6}-[0-9a-f]{8}\.faiss)\.tmp$"
)


def vectors_name(gen: int) -> str:
    return f"vectors-{gen:06d}.f32"


def is_vectors_name(name: str) -> bool:
    return bool(_VECTORS.match(name))


def snapshot_name(gen: int) -> str:
    return f"index-{gen:06d}-{uuid.uuid4().hex[:8]}.faiss"


def is_snapshot_name(name: object) -> bool:
    """A plain snapshot file name: no folder part, so it always resolves inside the folder."""
    return isinstance(name, str) and bool(_SNAPSHOT.match(name))


def is_temporary_name(name: str) -> bool:
    """A temporary file embedlab writes in the folder (left behind by a crash)."""
    return bool(_TEMPORARY.match(name))


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    """The shared atomic writer (its temporary names match TEMP_FILE), then the folder synced."""
    write_json(path, data, indent=2)
    fsync_dir(path.parent)


def quarantine(folder: Path, names: list[str], label: str) -> Path | None:
    """Move files of the folder into ``quarantine/<time>-<label>/`` (never deleted), so what
    repair could not trust stays there for a person to inspect."""
    present = [n for n in names if (folder / n).exists()]
    if not present:
        return None
    stamp = f"{uuid.uuid1().time:x}-{label}"
    target = folder / QUARANTINE / stamp
    target.mkdir(parents=True, exist_ok=True)
    for name in present:
        os.replace(folder / name, target / name)
    fsync_dir(target)
    fsync_dir(folder)
    return target


def read_manifest(folder: Path) -> CollectionConfig:
    """The binding recorded in a collection folder; clear errors for a non-collection."""
    path = folder / MANIFEST
    if not path.is_file():
        if folder.exists() and not folder.is_dir():
            raise UnknownCollectionError(
                f"{folder} is a file, not a collection folder",
                "pass the collection's folder, or a new path to create one",
            )
        what = "no such folder" if not folder.exists() else f"no {MANIFEST} in it"
        raise UnknownCollectionError(
            f"no collection at {folder} ({what})",
            "check the path, or create one: embedlab collection create "
            f"{folder} --model minilm (Python: create_collection({str(folder)!r}, model=...))",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCollectionError(f"{path} cannot be read ({exc})", RESTORE_HINT) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise CorruptCollectionError(f"{path} is not an embedlab collection manifest", None)
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise CorruptCollectionError(
            f"{folder} was written by a newer embedlab (format {data['format_version']})",
            "upgrade embedlab to open it",
        )
    try:
        return CollectionConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CorruptCollectionError(
            f"{path} holds an invalid binding ({exc})", RESTORE_HINT
        ) from None
