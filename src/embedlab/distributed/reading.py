"""Reading one shard (a row range of one file) exactly as ``embedlab embed`` reads the file.

The row numbers, ids, empty-text rule and error messages are those of
:func:`embedlab.text.readers.read_records`; only the start differs (a seek to the shard's first
byte, or its Parquet row group), so a shard costs its own rows, not the file before it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab.distributed.inputs import Shard, _ByteLines, _delimiter
from embedlab.errors import DataFormatError
from embedlab.text.readers import BOM, _decode, _missing_field, _pick, json_object


@dataclass
class ShardRows:
    """What a shard holds: ids, texts and the chosen extra fields (one list per field)."""

    ids: list[Any] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    extra: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadOptions:
    """How rows become records: the text and id fields, kept fields, empty-text rule, and
    whether ids carry the file's label (several input files share row numbers)."""

    field: str = "text"
    id_field: str | None = None
    fields: tuple[str, ...] = ()
    skip_empty: bool = False
    labelled_ids: bool = False


def read_shard(shard: Shard, options: ReadOptions) -> ShardRows:
    path = Path(shard.file)
    out = ShardRows(extra={name: [] for name in options.fields})
    where = "row" if shard.fmt in ("csv", "tsv", "parquet") else "line"
    for offset, (record_id, text, extra) in enumerate(_rows(shard, path, options)):
        row = shard.row_start + offset
        if not text.strip():
            if options.skip_empty:
                continue
            raise DataFormatError(
                f"{where} {row + 1} of {path} is empty",
                "remove empty texts from the file, or pass --skip-empty (skip_empty=True)",
            )
        if record_id is None:
            record_id = f"{shard.label}:{row}" if options.labelled_ids else row
        out.ids.append(record_id)
        out.texts.append(text)
        for name in options.fields:
            out.extra[name].append(extra.get(name))
    return out


def _rows(shard: Shard, path: Path, options: ReadOptions) -> Any:
    if shard.fmt == "parquet":
        return _parquet_rows(shard, path, options)
    if shard.fmt in ("csv", "tsv"):
        return _csv_rows(shard, path, options)
    return _line_rows(shard, path, options)


def _kept(row: dict, fields: tuple[str, ...]) -> dict[str, Any]:
    """Chosen fields of a row as text (other values as JSON text), so a column has one type in
    every shard, whatever the format of the file it came from."""
    return {name: as_text(row.get(name)) for name in fields}


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _line_rows(shard: Shard, path: Path, options: ReadOptions) -> Any:
    with path.open("rb") as handle:
        handle.seek(shard.byte_start)
        data = handle.read(shard.byte_stop - shard.byte_start)
    for offset, raw in enumerate(data.splitlines(keepends=True)):
        line_no = shard.row_start + offset + 1
        line = _decode(raw, path, line_no)
        if line_no == 1:
            line = line.removeprefix(BOM)
        if shard.fmt == "txt":
            yield None, line.rstrip("\r\n"), {}
            continue
        stripped = line.strip()
        if not stripped:
            yield None, "", {}
            continue
        obj = json_object(stripped, line_no, path)
        record_id, text = _pick(obj, path, f"line {line_no}", options.field, options.id_field)
        yield record_id, text, _kept(obj, options.fields)


def _csv_rows(shard: Shard, path: Path, options: ReadOptions) -> Any:
    delimiter = _delimiter(path)
    header = next(csv.reader(_ByteLines(path), delimiter=delimiter, strict=True), [])
    for column in [options.field, *([options.id_field] if options.id_field else [])]:
        if column not in header:
            raise _missing_field(path, "the header", column, header)
    lines = _ByteLines(path, shard.byte_start, shard.byte_stop)
    reader = csv.DictReader(lines, fieldnames=header, delimiter=delimiter, strict=True)
    try:
        for offset, row in enumerate(reader):
            where = f"row {shard.row_start + offset + 1}"
            record_id, text = _pick(row, path, where, options.field, options.id_field)
            yield record_id, text, _kept(row, options.fields)
    except csv.Error as exc:
        raise DataFormatError(
            f"{path} is not valid CSV in rows {shard.row_start + 1}-{shard.row_stop} ({exc})",
            'close the quote, or double quotes inside a quoted field ("")',
        ) from None


def _parquet_rows(shard: Shard, path: Path, options: ReadOptions) -> Any:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    columns = [options.field, *([options.id_field] if options.id_field else [])]
    for column in columns:
        if column not in names:
            raise _missing_field(path, "the schema", column, names)
    kept = [f for f in options.fields if f in names]
    groups: list[int] = []
    skip = first = 0
    for index in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(index).num_rows
        if first < shard.row_stop and first + rows > shard.row_start:
            if not groups:
                skip = shard.row_start - first
            groups.append(index)
        first += rows
    wanted = list(dict.fromkeys([*columns, *kept]))
    table = parquet.read_row_groups(groups, columns=wanted).slice(
        skip, shard.row_stop - shard.row_start
    )
    texts = table.column(options.field).to_pylist()
    ids = table.column(options.id_field).to_pylist() if options.id_field else [None] * len(texts)
    extra = {name: table.column(name).to_pylist() for name in kept}
    for i, (record_id, text) in enumerate(zip(ids, texts, strict=True)):
        if text is not None and not isinstance(text, str):
            raise DataFormatError(
                f"column {options.field!r} of {path} is not text", "point --field at strings"
            )
        yield (
            None if record_id is None else str(record_id),
            text or "",
            {name: as_text(values[i]) for name, values in extra.items()},
        )
