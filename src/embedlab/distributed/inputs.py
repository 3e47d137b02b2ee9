"""The inputs of a distributed run: files, folders and globs, cut into shards by row range.

A shard is a row range of one input file, together with the byte range that holds it (for
.txt/.jsonl/.csv/.tsv; Parquet is cut by rows), so a worker on any node reads exactly its own
rows, with the same parsing, ids and errors as the single-process ``embedlab embed``, without
reading the file from the start. The driver finds the cuts in one streamed pass per file.
"""

from __future__ import annotations

import codecs
import csv
import glob
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import DataFormatError, InputError
from embedlab.text.readers import DEFAULT_FIELD, FORMATS, check_input_file, input_format

SCAN_BYTES = 1 << 22  # bytes read at once while looking for row boundaries


@dataclass(frozen=True)
class InputFile:
    """One file to embed: its path, a short label (for ids and messages) and reader format."""

    path: Path
    label: str
    fmt: str


@dataclass(frozen=True)
class Shard:
    """Rows ``[row_start, row_stop)`` of ``file``, stored at bytes ``[byte_start, byte_stop)``
    (-1 for Parquet, cut by rows). ``key`` names its output file and its manifest entry."""

    key: str
    file: str
    label: str
    fmt: str
    row_start: int
    row_stop: int
    byte_start: int
    byte_stop: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shard:
        return cls(**{k: _plain(data[k]) for k in cls.__dataclass_fields__})


def _plain(value: Any) -> Any:
    """A numpy scalar from a Ray batch as the Python value it stands for."""
    return value.item() if isinstance(value, np.generic) else value


def expand_inputs(sources: list[str | os.PathLike[str]]) -> list[InputFile]:
    """The files named by ``sources``: files, folders (their readable files, recursively) and
    glob patterns, in a stable order, each once. Anything missing or unreadable is refused."""
    files: list[tuple[Path, Path]] = []  # (file, root its label is relative to)
    if not sources:
        raise InputError("no input given", "name a file, a folder or a glob of input files")
    for source in sources:
        text = str(source)
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS
            )
            found = [p for p in found if not any(part.startswith(".") for part in p.parts)]
            if not found:
                raise InputError(
                    f"the folder {path} holds no input files",
                    f"put {', '.join(sorted(set(FORMATS)))} files in it, or name the files",
                )
            files += [(p, path) for p in found]
        elif glob.has_magic(text) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise InputError(f"no file matches {text}", "check the pattern")
            root = Path(os.path.commonpath([m.parent for m in matches]))
            files += [(m, root) for m in matches]
        else:
            files.append((check_input_file(path), path.parent))
    seen: dict[Path, InputFile] = {}
    for path, root in files:
        check_input_file(path)
        resolved = path.resolve()
        if resolved not in seen:
            label = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
            seen[resolved] = InputFile(resolved, label, input_format(path))
    return list(seen.values())


# -- finding the cuts ------------------------------------------------------------------------------
def plan_shards(files: list[InputFile], shard_rows: int) -> list[Shard]:
    """Every shard of every file: ``shard_rows`` rows each (the last of a file fewer)."""
    shards: list[Shard] = []
    for index, item in enumerate(files):
        if item.fmt == "parquet":
            rows = _parquet_rows(item.path)
            cuts = [(s, min(s + shard_rows, rows), -1, -1) for s in range(0, rows, shard_rows)]
        elif item.fmt in ("csv", "tsv"):
            cuts = _csv_cuts(item.path, shard_rows)
        else:
            cuts = _line_cuts(item.path, shard_rows)
        for row_start, row_stop, byte_start, byte_stop in cuts:
            shards.append(
                Shard(
                    key=f"part-{index:05d}-{row_start:012d}",
                    file=str(item.path),
                    label=item.label,
                    fmt=item.fmt,
                    row_start=row_start,
                    row_stop=row_stop,
                    byte_start=byte_start,
                    byte_stop=byte_stop,
                )
            )
    return shards


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataFormatError(
            f"{path} is not a readable Parquet file ({' '.join(str(exc).split())[:200]})",
            "check that it was written completely, or write it again",
        ) from None


def _line_cuts(path: Path, shard_rows: int) -> list[tuple[int, int, int, int]]:
    """Cuts of a file whose rows are its lines (.txt, .jsonl): found with numpy, 4 MiB a time."""
    cuts: list[tuple[int, int, int, int]] = []
    rows = 0  # lines ended so far
    offset = 0
    start_row, start_byte = 0, 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(SCAN_BYTES):
            ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10) + offset + 1
            # the line ending at ends[i] is row rows + i; a shard ends after every shard_rows-th
            numbers = rows + 1 + np.arange(len(ends))
            for end, number in zip(
                ends[numbers % shard_rows == 0], numbers[numbers % shard_rows == 0], strict=True
            ):
                cuts.append((start_row, int(number), start_byte, int(end)))
                start_row, start_byte = int(number), int(end)
            rows += len(ends)
            offset += len(chunk)
            last = chunk[-1:]
    total = rows + (last != b"\n")  # a last line without a newline is a row too
    if total > start_row:
        cuts.append((start_row, total, start_byte, offset))
    return cuts


def _csv_cuts(path: Path, shard_rows: int) -> list[tuple[int, int, int, int]]:
    """Cuts of a .csv/.tsv file by records, parsed by the csv module itself (a quoted field may
    span lines), blank lines skipped as ``csv.DictReader`` skips them; the header row is not
    counted. The byte offset of each record's end comes from the lines the parser took."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    lines = _ByteLines(path)
    reader = csv.reader(lines, delimiter=_delimiter(path), strict=True)
    cuts: list[tuple[int, int, int, int]] = []
    try:
        header = next(reader, None)
        start_row, start_byte, rows = 0, lines.offset, 0
        for row in reader:
            if not row:
                continue
            rows += 1
            if rows % shard_rows == 0:
                cuts.append((start_row, rows, start_byte, lines.offset))
                start_row, start_byte = rows, lines.offset
    except csv.Error as exc:
        raise DataFormatError(
            f"{path} is not valid CSV near line {reader.line_num} ({exc}); a quote opened there "
            "may never be closed",
            'close the quote, or double quotes inside a quoted field ("")',
        ) from None
    if header is not None and rows > start_row:
        cuts.append((start_row, rows, start_byte, lines.offset))
    return cuts


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


class _ByteLines:
    """The lines of a UTF-8 file as text, for ``csv.reader``, counting the bytes handed out."""

    def __init__(self, path: Path, start: int = 0, stop: int | None = None) -> None:
        self.path, self.offset, self.stop = path, start, stop
        self._handle = path.open("rb")
        self._handle.seek(start)
        self._first = start == 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.stop is not None and self.offset >= self.stop:
            self._handle.close()
            raise StopIteration
        raw = self._handle.readline()
        if not raw:
            self._handle.close()
            raise StopIteration
        self.offset += len(raw)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"{self.path} is not UTF-8 text (byte {exc.start} of a read block)",
                f"convert it first, e.g. `iconv -f latin1 -t utf-8 {self.path} > "
                f"fixed{self.path.suffix}`",
            ) from None
        if self._first:
            self._first = False
            line = line.removeprefix(codecs.BOM_UTF8.decode("utf-8"))
        return line


def check_fields(files: list[InputFile], fields: list[str]) -> None:
    """Chosen extra fields need files with named fields (not plain text)."""
    if not fields:
        return
    for item in files:
        if item.fmt == "txt":
            raise DataFormatError(
                f"{item.path} is plain text, which has no field {fields[0]!r}",
                "leave --fields out for .txt input, or use .jsonl, .csv or .parquet",
            )


def text_field(field: str | None) -> str:
    return field or DEFAULT_FIELD
