"""The output folder of a distributed run: Parquet shards, a manifest and a journal.

``OUT/part-FFFFF-RRRRRRRRRRRR.parquet`` holds rows ``R...`` of input file ``F`` (columns ``id``,
``text``, ``vector`` and the chosen fields); ``OUT/_manifest.json`` says what the run is (inputs,
model, options) and, once it is complete, lists every shard; ``OUT/_journal.jsonl`` gets one
line per finished shard as it lands, so a re-run skips what is done. The underscore names keep
``pyarrow.parquet.read_table(OUT)`` (and pandas, Ray Data, DuckDB) reading the shards alone.

Every shard is written to a temporary name and renamed into place, so a task that Ray retries
rewrites the same file with the same rows: the output is exact however often a task ran. The
folder must be new, empty or one this writer made; nothing else in it is ever touched.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import write_json_atomic as write_json
from embedlab.errors import DataFormatError, InputError, OutputError
from embedlab.output import parquet_write_options

MANIFEST = "_manifest.json"
JOURNAL = "_journal.jsonl"
FORMAT = "embedlab-shards"
VERSION = 1


def shard_path(out: Path, key: str) -> Path:
    return out / f"{key}.parquet"


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a folder this writer made; None if it has none (or is not one)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def check_out_folder(path: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, an output that is a file, a link, or a folder of other things."""
    out = Path(path)
    if out.suffix.lower() in (".npy", ".parquet"):
        raise OutputError(
            f"with --ray the output is a folder of Parquet shards, not one {out.suffix} file",
            f"name a folder, e.g. --out {out.with_suffix('')}",
        )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(
            f"{out} exists and is not a folder", "name a new folder for the shards (--out)"
        )
    if out.is_dir() and read_manifest(out) is None and next(out.iterdir(), None) is not None:
        raise OutputError(
            f"{out} is a folder embedlab did not write (it has no {MANIFEST})",
            "name a new or empty folder for the shards (--out)",
        )
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot create {out} in {parent}", "pick a folder you can write to")
    return out


def write_json_atomic(path: Path, data: Any) -> None:
    write_json(path, data, indent=1)


class Journal:
    """The finished shards of a run, one JSON line each, appended and flushed as they land."""

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL

    def entries(self) -> dict[str, dict[str, Any]]:
        """Finished shards by key; a line cut short by a crash is ignored (it is redone)."""
        done: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return done
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and "key" in entry:
                    done[entry["key"]] = entry
        return done

    def append(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def remove_run(out: Path) -> None:
    """``--restart``: delete this writer's files (shards, journal, manifest), nothing else."""
    for path in out.glob("part-*.parquet"):
        path.unlink(missing_ok=True)
    for path in out.glob(".part-*.tmp"):
        path.unlink(missing_ok=True)
    (out / JOURNAL).unlink(missing_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)


# -- shards --------------------------------------------------------------------------------------
def shard_table(
    ids: list[Any],
    texts: list[str],
    vectors: np.ndarray,
    extra: dict[str, list[Any]],
    *,
    dim: int,
    string_ids: bool,
) -> Any:
    """The Arrow table of one shard; the same schema in every shard of a run."""
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), dim)
    columns = {
        "id": pa.array([str(i) for i in ids], pa.string())
        if string_ids
        else pa.array(ids, pa.int64()),
        "text": pa.array(texts, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
    }
    for name, values in extra.items():
        columns[name] = pa.array(values, pa.string())
    return pa.table(columns)


def write_shard(out: Path, key: str, table: Any) -> Path:
    """Write a shard under a temporary name, then rename it into place (atomic, repeatable)."""
    import pyarrow.parquet as pq

    final = shard_path(out, key)
    tmp = out / f".{key}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(table, tmp, **parquet_write_options(table.column_names))
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def complete_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a finished run, checked: what ``collection import`` reads."""
    out = Path(path)
    manifest = read_manifest(out)
    if manifest is None:
        raise DataFormatError(
            f"{out} is not a folder of embedlab shards (no {MANIFEST})",
            "pass the --out folder of `embedlab embed --ray`",
        )
    if manifest.get("status") != "complete":
        raise InputError(
            f"the run that writes {out} has not finished",
            "run the same `embedlab embed --ray` command again to complete it",
        )
    return manifest


def iter_shards(out: Path, manifest: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Path]]:
    """Every shard of a complete run with its file; a missing file is an error, not a gap."""
    for entry in manifest["shards"]:
        path = shard_path(out, entry["key"])
        if not path.is_file():
            raise DataFormatError(
                f"shard {path.name} of {out} is missing",
                "run the `embedlab embed --ray` command again with --restart",
            )
        yield entry, path
