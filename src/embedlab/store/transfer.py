"""Moving collections: Parquet export/import (between backends and machines), and reading
input files with metadata for ``embedlab collection add``.

An export is one Parquet file with columns ``id``, ``text``, ``metadata`` (JSON text, so any
shape survives) and ``vector`` (fixed-size float32 list), and the collection's binding in the
schema metadata under ``embedlab.collection``. Import recreates the collection from it without
re-embedding anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import DataFormatError, InputError, OutputError
from embedlab.output import parquet_write_options
from embedlab.progress import progress_bar
from embedlab.store.collection import Collection
from embedlab.store.config import CollectionConfig
from embedlab.store.factory import create_collection
from embedlab.text.readers import input_format, iter_rows, read_records

SCHEMA_KEY = b"embedlab.collection"
BATCH_ROWS = 4_096


def export_parquet(
    collection: Collection,
    path: str | os.PathLike[str],
    *,
    batch_size: int = BATCH_ROWS,
    progress: bool = False,
) -> int:
    """Write every item of ``collection`` to ``path`` (atomically: a temporary file renamed
    into place); returns how many items were written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    if out.suffix.lower() != ".parquet":
        raise OutputError(f"cannot export to {out}", "name the export file .parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    dim = collection.dim
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("metadata", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
        ],
        metadata={SCHEMA_KEY: json.dumps(collection.config.to_dict()).encode()},
    )
    tmp = out.with_name(f".{out.name}.tmp")
    rows = 0
    try:
        with (
            pq.ParquetWriter(tmp, schema, **parquet_write_options(schema.names)) as writer,
            progress_bar(
                f"exporting {collection.name}", collection.count(), enabled=progress
            ) as advance,
        ):
            for batch in collection.backend.iter_records(
                batch_size, ("text", "metadata", "vector")
            ):
                vectors = np.stack([r.vector for r in batch]).astype(np.float32)  # type: ignore[misc]
                table = pa.table(
                    {
                        "id": pa.array([r.id for r in batch], pa.string()),
                        "text": pa.array([r.text for r in batch], pa.string()),
                        "metadata": pa.array(
                            [json.dumps(r.metadata, ensure_ascii=False) for r in batch], pa.string()
                        ),
                        "vector": pa.FixedSizeListArray.from_arrays(
                            pa.array(vectors.reshape(-1), pa.float32()), dim
                        ),
                    },
                    schema=schema,
                )
                writer.write_table(table)
                rows += len(batch)
                advance(len(batch))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


def read_export_config(path: str | os.PathLike[str]) -> CollectionConfig:
    """The binding stored in an export file."""
    import pyarrow.parquet as pq

    file = Path(path)
    if not file.is_file():
        raise InputError(f"no file at {file}", "check the path of the exported .parquet")
    try:
        schema = pq.read_schema(file)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise DataFormatError(f"{file} is not a Parquet file ({exc})", "pass an export") from None
    raw = (schema.metadata or {}).get(SCHEMA_KEY)
    missing = {"id", "vector"} - set(schema.names)
    if raw is None or missing:
        raise DataFormatError(
            f"{file} is not an embedlab collection export",
            "export one with `embedlab collection export` (or export_parquet)",
        )
    return CollectionConfig.from_dict(json.loads(raw))


def import_parquet(
    path: str | os.PathLike[str],
    location: str | os.PathLike[str],
    name: str | None = None,
    *,
    storage: str | None = None,
    index: str | None = None,
    exist_ok: bool = False,
    upsert: bool = False,
    batch_size: int = BATCH_ROWS,
    progress: bool = False,
) -> Collection:
    """Create a collection at ``location`` from an export (same binding; ``storage`` and
    ``index`` may change) and load every item into it, vectors as they were."""
    import pyarrow.parquet as pq

    config = read_export_config(path)
    options = {
        k: v
        for k, v in config.to_dict().items()
        if k in ("m", "ef_construction", "ef_search", "exact_threshold", "rescore", "language")
    }
    if config.extra:
        options["extra"] = dict(config.extra)
    target_name = name if name is not None else (None if _is_folder(location) else config.name)
    collection = create_collection(
        location,
        target_name,
        model=config.model,
        dim=config.dim,
        metric=config.metric,
        storage=storage or config.storage,
        normalize=config.normalize,
        index=index or config.index,
        exist_ok=exist_ok,
        **options,
    )
    file = pq.ParquetFile(path)
    write = collection.upsert if upsert else collection.add
    with progress_bar(
        f"importing into {collection.name}", file.metadata.num_rows, enabled=progress
    ) as advance:
        for batch in file.iter_batches(batch_size=batch_size):
            data = batch.to_pydict()
            column = batch.column(batch.schema.get_field_index("vector"))
            vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(len(batch), -1)
            metas = [json.loads(m) if m else {} for m in data.get("metadata", [None] * len(batch))]
            write(
                data.get("text"),
                ids=data["id"],
                metadatas=metas,
                vectors=vectors,
                commit_every=batch_size,
            )
            advance(len(batch))
    return collection


def _is_folder(location: str | os.PathLike[str]) -> bool:
    return "://" not in str(location)


# -- input files with metadata ---------------------------------------------------------------------
def iter_source(
    path: str | os.PathLike[str],
    *,
    field: str = "text",
    id_field: str | None = None,
    metadata_fields: list[str] | None = None,
    skip_empty: bool = False,
) -> Iterator[tuple[str | None, str, dict[str, Any]]]:
    """``(id, text, metadata)`` per record of a .txt/.jsonl/.csv/.tsv/.parquet file.

    Metadata are the record's other fields (or only ``metadata_fields``); a .txt file has none.
    Ids come from ``id_field``, else they are generated by the collection. An empty text is an
    error unless ``skip_empty`` (it would make a meaningless vector silently), and so is a file
    with no text at all (adding nothing is never what was meant), as for ``embed``.
    """
    file = Path(path)
    fmt = input_format(file)
    if fmt == "txt":
        for record in read_records(file, skip_empty=skip_empty):
            yield None, record.text, {}
        return
    yielded = False
    for item in _iter_row_records(file, field, id_field, metadata_fields, skip_empty):
        yielded = True
        yield item
    if not yielded:
        raise InputError(f"{file} holds no texts", "pass a file with at least one non-empty text")


def _iter_row_records(
    file: Path,
    field: str,
    id_field: str | None,
    metadata_fields: list[str] | None,
    skip_empty: bool,
) -> Iterator[tuple[str | None, str, dict[str, Any]]]:
    """The records of a .jsonl/.csv/.tsv/.parquet file, checked field by field."""
    for n, row in enumerate(iter_rows(file), start=1):
        if field not in row:
            raise DataFormatError(
                f"record {n} of {file} has no field {field!r} (it has: {', '.join(row)})",
                "name the text field with --field",
            )
        text = row[field]
        if text is None or (isinstance(text, str) and not text.strip()):
            if skip_empty:
                continue
            raise DataFormatError(
                f"record {n} of {file} has an empty text",
                "remove empty texts from the file, or pass --skip-empty (skip_empty=True)",
            )
        if not isinstance(text, str):
            raise DataFormatError(
                f"record {n} of {file}: field {field!r} is a {type(text).__name__}, not text",
                "point --field at a column of strings",
            )
        item_id = None
        if id_field is not None:
            if row.get(id_field) is None:
                raise DataFormatError(
                    f"record {n} of {file} has no id field {id_field!r}", "check --id-field"
                )
            item_id = str(row[id_field])
        skip = {field, id_field}
        keys = metadata_fields if metadata_fields is not None else [k for k in row if k not in skip]
        yield item_id, text, {k: row[k] for k in keys if k in row}
