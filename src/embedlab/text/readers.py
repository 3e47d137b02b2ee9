"""Streaming readers for the input formats embedlab takes: .txt, .jsonl, .csv, .parquet.

Records are yielded one by one (Parquet in row batches), so a file of any size is read in flat
memory. Every problem names the file, the line or row, and what to do about it.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab.errors import DataFormatError, FieldError, InputError

FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}
DEFAULT_FIELD = "text"
BOM = "\ufeff"


@dataclass(frozen=True)
class Record:
    """One text from an input file, with the id it keeps in outputs."""

    id: int | str
    text: str


def input_format(path: Path) -> str:
    """The reader for ``path``, by extension; an unknown extension is refused."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise DataFormatError(
            f"{path} has the extension {path.suffix or '(none)'!r}, which embedlab cannot read",
            "use .txt (one text a line), .jsonl, .csv, .tsv or .parquet",
        )
    return fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"no file at {path}", "check the path")
    if not path.is_file():
        raise InputError(f"{path} is not a file", "pass a file; for a folder, pass its files")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path} (permission denied)", "check its permissions")


def check_input_file(path: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, an input that is missing, a folder, unreadable or of an
    unknown format; returns it as a Path."""
    path = Path(path)
    input_format(path)
    _check_file(path)
    return path


def _decode(raw: bytes, path: Path, line_no: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"{path} is not UTF-8 text (line {line_no}, byte {exc.start} of that line)",
            f"convert it first, e.g. `iconv -f latin1 -t utf-8 {path} > fixed{path.suffix}`",
        ) from None


def read_records(
    path: str | os.PathLike[str],
    *,
    field: str | None = None,
    id_field: str | None = None,
    skip_empty: bool = False,
) -> Iterator[Record]:
    """Yield the records of ``path``; ``field`` names the text column of .jsonl/.csv/.parquet.

    Ids are the 0-based line or row number unless ``id_field`` names a column. Empty texts are an
    error unless ``skip_empty`` (they would make meaningless vectors silently).
    """
    path = Path(path)
    fmt = input_format(path)
    _check_file(path)
    readers = {
        "txt": _read_txt,
        "jsonl": _read_jsonl,
        "csv": _read_csv,
        "tsv": _read_csv,
        "parquet": _read_parquet,
    }
    count = 0
    for row, (record_id, text) in enumerate(readers[fmt](path, field or DEFAULT_FIELD, id_field)):
        if not text.strip():
            if skip_empty:
                continue
            where = f"line {row + 1}" if fmt in ("txt", "jsonl") else f"row {row + 1}"
            raise DataFormatError(
                f"{where} of {path} is empty",
                "remove empty texts from the file, or pass --skip-empty (skip_empty=True)",
            )
        count += 1
        yield Record(record_id if record_id is not None else row, text)
    if count == 0:
        raise InputError(f"{path} holds no texts", "pass a file with at least one non-empty text")


def read_texts(
    path: str | os.PathLike[str], *, field: str | None = None, skip_empty: bool = False
) -> Iterator[str]:
    """Just the texts of :func:`read_records`, for ``fit(corpus)``."""
    for record in read_records(path, field=field, skip_empty=skip_empty):
        yield record.text


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line, UTF-8, a byte-order mark at the start dropped."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = _decode(raw, path, line_no)
            yield line_no, line.removeprefix(BOM) if line_no == 1 else line


def _read_txt(path: Path, field: str, id_field: str | None) -> Iterator[tuple[None, str]]:
    for _, line in _decoded_lines(path):
        yield None, line.rstrip("\r\n")


def _missing_field(path: Path, where: str, field: str, available: list[str]) -> FieldError:
    return FieldError(
        f"{where} of {path} has no field {field!r} (it has: {', '.join(map(str, available)) or 'none'})",
        "name the text field with --field (field=...)",
        field,
    )


def json_object(line: str, line_no: int, path: object) -> dict[str, Any]:
    """One line of a .jsonl file as its JSON object, or a DataFormatError naming the line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            f"line {line_no} of {path} is not valid JSON ({exc.msg})",
            "each line of a .jsonl file must be one JSON object",
        ) from None
    if not isinstance(obj, dict):
        raise DataFormatError(
            f"line {line_no} of {path} is a JSON {type(obj).__name__}, not an object",
            'write one object a line, e.g. {"text": "..."}',
        )
    return obj


def _jsonl_objects(path: Path) -> Iterator[tuple[int, dict | None]]:
    """``(line number, object)`` for each line; ``None`` for a blank line. Bad lines raise."""
    for line_no, decoded in _decoded_lines(path):
        line = decoded.strip()
        if not line:
            yield line_no, None
            continue
        yield line_no, json_object(line, line_no, path)


def _read_jsonl(path: Path, field: str, id_field: str | None) -> Iterator[tuple[str | None, str]]:
    for line_no, obj in _jsonl_objects(path):
        yield (None, "") if obj is None else _pick(obj, path, f"line {line_no}", field, id_field)


def _pick(
    row: dict, path: Path, where: str, field: str, id_field: str | None
) -> tuple[str | None, str]:
    if field not in row:
        raise _missing_field(path, where, field, list(row))
    text = row[field]
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise FieldError(
            f"{where} of {path}: field {field!r} is a {type(text).__name__}, not text",
            "point --field at a column of strings",
            field,
        )
    record_id = None
    if id_field is not None:
        if id_field not in row:
            raise _missing_field(path, where, id_field, list(row))
        record_id = str(row[id_field])
    return record_id, text


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> DataFormatError:
    return DataFormatError(
        f"{path} is not UTF-8 text (byte {exc.start} of a read block)",
        f"convert it first, e.g. `iconv -f latin1 -t utf-8 {path} > fixed{path.suffix}`",
    )


def _csv_rows(path: Path) -> Iterator[tuple[list[str], int, dict]]:
    """``(header, row number, row)`` of a .csv/.tsv file, strictly parsed: a quote left open
    is an error naming its line, not rows silently merged into one field."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = None
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter, strict=True)
            header = list(reader.fieldnames or [])
            for row_no, row in enumerate(reader, start=1):
                yield header, row_no, row
            if not header:
                yield header, 0, {}
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 0
        raise DataFormatError(
            f"{path} is not valid CSV near line {line} ({exc}); a quote opened there may never "
            "be closed",
            'close the quote, or double quotes inside a quoted field ("")',
        ) from None


def _read_csv(path: Path, field: str, id_field: str | None) -> Iterator[tuple[str | None, str]]:
    checked = False
    for header, row_no, row in _csv_rows(path):
        if not checked:
            for column in [field] + ([id_field] if id_field else []):
                if column not in header:
                    raise _missing_field(path, "the header", column, header)
            checked = True
        yield _pick(row, path, f"row {row_no}", field, id_field)


def _parquet_file(path: Path) -> Any:
    """``pyarrow.parquet.ParquetFile(path)``; a file that is not Parquet is a one-line error."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError or others on bad files
        raise _bad_parquet(path, exc) from None


def _bad_parquet(path: Path, exc: Exception) -> DataFormatError:
    reason = " ".join(str(exc).split())[:200]
    return DataFormatError(
        f"{path} is not a readable Parquet file ({reason})",
        "check that it was written completely, or write it again",
    )


def _parquet_batches(path: Path, parquet: Any, **options: Any) -> Iterator[Any]:
    """Row batches of ``parquet``; a corrupt page met mid-file is a one-line error too."""
    batches = parquet.iter_batches(**options)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:
            raise _bad_parquet(path, exc) from None
        yield batch


def _read_parquet(path: Path, field: str, id_field: str | None) -> Iterator[tuple[str | None, str]]:
    import pyarrow as pa

    parquet = _parquet_file(path)
    names = parquet.schema_arrow.names
    columns = [field] + ([id_field] if id_field else [])
    for column in columns:
        if column not in names:
            raise _missing_field(path, "the schema", column, names)
    kind = parquet.schema_arrow.field(field).type
    if not pa.types.is_string(kind) and not pa.types.is_large_string(kind):
        raise FieldError(
            f"column {field!r} of {path} is {kind}, not text",
            "point --field at a string column",
            field,
        )
    for batch in _parquet_batches(path, parquet, columns=columns, batch_size=4096):
        texts = batch.column(0).to_pylist()
        ids = batch.column(1).to_pylist() if id_field else [None] * len(texts)
        for record_id, text in zip(ids, texts, strict=True):
            yield (None if record_id is None else str(record_id)), (text or "")


def count_records(path: str | os.PathLike[str]) -> int | None:
    """A quick upper bound of the records in ``path`` for progress bars (lines or rows)."""
    path = Path(path)
    fmt = input_format(path)
    if fmt == "parquet":
        return _parquet_file(path).metadata.num_rows
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    return max(lines - 1, 0) if fmt in ("csv", "tsv") else lines


def read_columns(path: str | os.PathLike[str], fields: list[str]) -> dict[str, list[object]]:
    """Named columns of a .jsonl/.csv/.tsv/.parquet file, for labelled data (text + label).

    Reads the whole file: labelled evaluation sets are small. Missing fields name what exists.
    """
    path = Path(path)
    fmt = input_format(path)
    _check_file(path)
    if fmt == "txt":
        raise DataFormatError(
            f"{path} is plain text, which has no named columns",
            "use a .csv, .jsonl or .parquet file with a text and a label column",
        )
    columns: dict[str, list[object]] = {f: [] for f in fields}
    if fmt == "parquet":
        parquet = _parquet_file(path)
        names = parquet.schema_arrow.names
        for name in fields:
            if name not in names:
                raise _missing_field(path, "the schema", name, names)
        for batch in _parquet_batches(path, parquet, columns=fields, batch_size=4096):
            for name in fields:
                columns[name].extend(batch.column(name).to_pylist())
        return columns
    rows = _read_jsonl_rows(path) if fmt == "jsonl" else _read_csv_rows(path)
    for where, row in rows:
        for name in fields:
            if name not in row:
                raise _missing_field(path, where, name, list(row))
            columns[name].append(row[name])
    return columns


def iter_rows(path: str | os.PathLike[str]) -> Iterator[dict]:
    """Every record of a .jsonl/.csv/.tsv/.parquet file as a dict, streamed (Parquet in row
    batches), for callers that keep more than the text (ids and metadata)."""
    path = Path(path)
    fmt = input_format(path)
    _check_file(path)
    if fmt == "txt":
        raise DataFormatError(
            f"{path} is plain text, which has no named fields",
            "use a .jsonl, .csv or .parquet file for records with fields",
        )
    if fmt == "parquet":
        for batch in _parquet_batches(path, _parquet_file(path), batch_size=4096):
            yield from batch.to_pylist()
        return
    rows = _read_jsonl_rows(path) if fmt == "jsonl" else _read_csv_rows(path)
    for _, row in rows:
        yield row


def _read_jsonl_rows(path: Path) -> Iterator[tuple[str, dict]]:
    for line_no, obj in _jsonl_objects(path):
        if obj is not None:
            yield f"line {line_no}", obj


def _read_csv_rows(path: Path) -> Iterator[tuple[str, dict]]:
    for _, row_no, row in _csv_rows(path):
        if row_no:
            yield f"row {row_no}", row


def read_dataset(
    path: str | os.PathLike[str], *, field: str | None = None, columns: list[str] | None = None
) -> tuple[list[str], dict[str, list[object]]]:
    """Texts of a whole file (any format) plus named extra columns, for the applications.

    A .txt file has no columns: asking it for one is an error that says so.
    """
    path = Path(path)
    field = field or DEFAULT_FIELD
    columns = [c for c in (columns or []) if c]
    if input_format(path) == "txt":
        if columns:
            raise DataFormatError(
                f"{path} is plain text and has no column {columns[0]!r}",
                "use a .csv, .jsonl or .parquet file for labelled data",
            )
        return [r.text for r in read_records(path, skip_empty=True)], {}
    table = read_columns(path, [field, *columns])
    texts = [str(t) for t in table[field] if isinstance(t, str) and t.strip()]
    if len(texts) != len(table[field]):
        raise DataFormatError(f"{path} has empty texts in {field!r}", "remove the empty rows")
    if not texts:
        raise InputError(f"{path} holds no texts", "pass a file with at least one text")
    return texts, {c: table[c] for c in columns}
