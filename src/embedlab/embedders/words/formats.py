"""Word-vector files: word2vec text and binary, GloVe ``.txt`` and fastText ``.vec``; no pickle.

These are the formats pretrained vectors are published in. They are parsed here with plain
numpy, streamed, and checked line by line, so a truncated or corrupt file gets an error naming
the line instead of garbage vectors. gensim's native ``.model`` files are pickles (loading one
can run arbitrary code) and are refused with the one-line conversion to a safe format.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from embedlab.errors import DataFormatError, InputError, ModelFormatError

if TYPE_CHECKING:
    from embedlab.embedders.words.vectors import WordVectors

# word2vec: "count dim" header then "word v1 ... vd" (text; fastText's .vec is the same) or
# "word " + dim little-endian float32 (binary). GloVe: like word2vec text, without the header.
FORMATS = ("word2vec", "word2vec-binary", "glove")
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
_PICKLE_SUFFIXES = {".model", ".pkl", ".pickle", ".kv", ".d2v"}
# Names that mean "a word-vector file" to embedlab.load(); the pickle ones only to be refused
# with the conversion hint instead of "unknown model".
WORD_FILE_SUFFIXES = {".bin", ".txt", ".vec", ".gz", ".bz2", *_PICKLE_SUFFIXES}
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")
_CHUNK_LINES = 8192

CONVERT_HINT = (
    "convert it once, in a Python session you trust: `from gensim.models import KeyedVectors; "
    "KeyedVectors.load('{name}').save_word2vec_format('{stem}.bin', binary=True)` (for a full "
    "Word2Vec/FastText/Doc2Vec model: `Word2Vec.load('{name}').wv.save_word2vec_format(...)`), "
    "then load {stem}.bin"
)


def _open(path: Path) -> IO[bytes]:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    return path.open("rb")


def _inner_suffix(path: Path) -> str:
    """The suffix that names the format: ``x.vec.gz`` -> ``.vec``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2"):
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _refuse_unsafe(path: Path, head: bytes) -> None:
    suffix = _inner_suffix(path)
    if suffix in _PICKLE_SUFFIXES or (len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5):
        raise ModelFormatError(
            f"{path} is a gensim native model, i.e. a Python pickle, which embedlab never loads "
            "because unpickling can run arbitrary code",
            CONVERT_HINT.format(name=path.name, stem=path.name.split(".")[0]),
        )
    if suffix == ".npy":
        raise ModelFormatError(
            f"{path} is one array of a gensim native model (its pickle holds the words)",
            CONVERT_HINT.format(name=path.name.split(".")[0] + ".model", stem=path.stem),
        )
    if head[:4] == _FASTTEXT_MAGIC:
        raise ModelFormatError(
            f"{path} is a Facebook fastText binary model, not a word2vec binary file",
            "load the .vec file published beside it, or convert it: `from gensim.models.fasttext "
            "import load_facebook_vectors; load_facebook_vectors(path).save_word2vec_format("
            "'vectors.vec')`",
        )


def detect_format(path: str | os.PathLike[str]) -> str:
    """``word2vec`` (text, also .vec), ``word2vec-binary`` or ``glove``, from the file itself."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no file at {path}", "check the path of the word-vector file")
    with _open(path) as handle:
        try:
            head = handle.read(4096)
        except (OSError, EOFError) as exc:
            raise DataFormatError(f"{path} cannot be read ({exc})", "check the file") from None
    _refuse_unsafe(path, head)
    if not head.strip():
        raise DataFormatError(f"{path} is empty", "pass a file of word vectors")
    first, _, rest = head.partition(b"\n")
    if _HEADER.match(first):
        if _inner_suffix(path) == ".bin":
            return "word2vec-binary"
        second = rest.split(b"\n", 1)[0]
        try:
            second.decode("utf-8")
        except UnicodeDecodeError:
            return "word2vec-binary"
        return "word2vec" if len(second.split()) > 1 else "word2vec-binary"
    fields = first.split()
    try:
        float(fields[-1])
    except (IndexError, ValueError):
        raise DataFormatError(
            f"{path} is neither a word2vec nor a GloVe file (its first line is not "
            "'count dim' nor 'word value value ...')",
            "pass a word2vec .bin/.txt, a GloVe .txt or a fastText .vec file",
        ) from None
    return "glove"


def read_word_vectors(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
) -> tuple[list[str], np.ndarray]:
    """Read a word-vector file into (words, float32 matrix); ``limit`` keeps the first N words.

    The format is detected from the file (a header line ``count dim`` means word2vec, text or
    binary; no header means GloVe). Duplicate words keep their first vector, as gensim does.
    """

    path = Path(path)
    detected = detect_format(path)
    fmt = format or detected
    if fmt not in FORMATS:
        raise InputError(f"unknown word-vector format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}", "omit it to read every word")
    with _open(path) as handle:
        try:
            if fmt == "word2vec-binary":
                words, vectors = _read_binary(handle, path, limit, unicode_errors)
            else:
                words, vectors = _read_text(handle, path, fmt == "word2vec", limit, unicode_errors)
        except (OSError, EOFError) as exc:
            raise DataFormatError(f"{path} cannot be read ({exc})", "check the file") from None
    if not words:
        raise DataFormatError(f"{path} holds no word vectors", "pass a non-empty file")
    return words, vectors


def _decode(raw: bytes, path: Path, where: str, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        raise DataFormatError(
            f"{where} of {path} is not UTF-8",
            "pass unicode_errors='replace' to read it anyway (some published files cut "
            "multi-byte characters)",
        ) from None


def _header(line: bytes, path: Path) -> tuple[int, int]:
    match = _HEADER.match(line)
    if not match:
        raise DataFormatError(f"the first line of {path} is not 'count dim'", "check the file")
    count, dim = int(match.group(1)), int(match.group(2))
    if dim < 1:
        raise DataFormatError(f"{path} says its vectors have {dim} dimensions", "check the file")
    return count, dim


class _Collector:
    """Collects words and vectors, skipping duplicate words (first one wins)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.words: list[str] = []
        self.seen: set[str] = set()
        self.blocks: list[np.ndarray] = []

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.words) >= self.limit

    def add(self, words: list[str], block: np.ndarray) -> None:
        keep = []
        for i, word in enumerate(words):
            if word not in self.seen and not self.full:
                self.seen.add(word)
                self.words.append(word)
                keep.append(i)
        self.blocks.append(block[keep] if len(keep) != len(words) else block)

    def result(self, dim: int) -> tuple[list[str], np.ndarray]:
        if not self.blocks:
            return [], np.zeros((0, dim), dtype=np.float32)
        return self.words, np.ascontiguousarray(np.concatenate(self.blocks), dtype=np.float32)


def _read_text(
    handle: IO[bytes], path: Path, has_header: bool, limit: int | None, errors: str
) -> tuple[list[str], np.ndarray]:
    count = None
    dim = 0
    line_no = 0
    if has_header:
        count, dim = _header(handle.readline(), path)
        line_no = 1
    out = _Collector(limit)
    words: list[str] = []
    values: list[str] = []
    first_line = line_no + 1
    read = 0
    for raw in handle:
        line_no += 1
        line = _decode(raw, path, f"line {line_no}", errors).rstrip()
        if not line:
            continue
        parts = line.split(" ")
        if dim == 0:  # GloVe: the first line tells the dimension
            dim = len(parts) - 1
            if dim < 1:
                raise DataFormatError(f"line {line_no} of {path} has no vector", "check the file")
        if len(parts) < dim + 1:
            raise DataFormatError(
                f"line {line_no} of {path} has {len(parts) - 1} values, expected {dim}",
                "the file is truncated or corrupt",
            )
        words.append(" ".join(parts[:-dim]))  # a few published files have words with spaces
        values.extend(parts[-dim:])
        read += 1
        if len(words) >= _CHUNK_LINES:
            out.add(words, _parse_block(values, dim, path, first_line))
            words, values, first_line = [], [], line_no + 1
            if out.full:
                break
    if words:
        out.add(words, _parse_block(values, dim, path, first_line))
    if count is not None and read < count and not out.full:
        raise DataFormatError(
            f"{path} says it holds {count} words but has only {read}",
            "the file is truncated; download or write it again",
        )
    return out.result(max(dim, 1))


def _parse_block(values: list[str], dim: int, path: Path, first_line: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            block = np.fromstring(" ".join(values), dtype=np.float32, sep=" ")
    except ValueError:  # numpy 2.4+ raises where older versions stopped early with a warning
        block = np.zeros(0, dtype=np.float32)
    rows = len(values) // dim
    if block.size != len(values) or not np.isfinite(block).all():
        for row in range(rows):  # find the offending line for the message
            try:
                parsed = np.array(values[row * dim : (row + 1) * dim], dtype=np.float32)
            except ValueError:
                parsed = np.array([np.nan])
            if not np.isfinite(parsed).all():
                raise DataFormatError(
                    f"line {first_line + row} of {path} has a value that is not a finite number",
                    "the file is corrupt",
                )
    return block.reshape(rows, dim)


def _read_binary(
    handle: IO[bytes], path: Path, limit: int | None, errors: str
) -> tuple[list[str], np.ndarray]:
    count, dim = _header(handle.readline(), path)
    wanted = count if limit is None else min(count, limit)
    width = dim * 4
    out = _Collector(limit)
    buffer = b""
    pos = 0
    words: list[str] = []
    block = np.empty((min(_CHUNK_LINES, max(wanted, 1)), dim), dtype=np.float32)
    for i in range(count):
        if out.full:
            break
        while True:  # the word runs up to a space; vectors may be followed by a newline
            space = buffer.find(b" ", pos)
            if space >= 0 and len(buffer) - space - 1 >= width:
                break
            more = handle.read(1 << 20)
            if not more:
                raise DataFormatError(
                    f"{path} says it holds {count} words but ends inside word {i + 1}",
                    "the file is truncated; download or write it again",
                )
            buffer, pos = buffer[pos:] + more, 0
        word = _decode(buffer[pos:space].lstrip(b"\n"), path, f"word {i + 1}", errors)
        block[len(words)] = np.frombuffer(buffer, dtype="<f4", count=dim, offset=space + 1)
        words.append(word)
        pos = space + 1 + width
        if len(words) == len(block):
            out.add(words, block.copy())
            words = []
    if words:
        out.add(words, block[: len(words)].copy())
    if out.blocks and not all(np.isfinite(b).all() for b in out.blocks):
        raise DataFormatError(f"{path} holds vectors that are not finite", "the file is corrupt")
    return out.result(dim)


# -- writing ------------------------------------------------------------------------------------
def format_for_path(path: Path) -> str:
    """The format a file name asks for: .bin binary, .txt/.vec word2vec text (with header)."""
    suffix = _inner_suffix(path)
    if suffix == ".bin":
        return "word2vec-binary"
    if suffix in (".txt", ".vec"):
        return "word2vec"
    raise InputError(
        f"cannot tell a word-vector format from the name {path.name}",
        "use .bin (word2vec binary), .txt or .vec (word2vec text), or pass format='glove'",
    )


def save_word_vectors(
    kv: WordVectors, path: str | os.PathLike[str], *, format: str | None = None
) -> Path:
    """Write ``kv`` as word2vec text/binary or GloVe text; atomically (temp file, then rename).

    Text files use 9 significant digits, which round-trips float32 exactly.
    """
    path = Path(path)
    fmt = format or format_for_path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown word-vector format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    if _inner_suffix(path) in _PICKLE_SUFFIXES:
        raise InputError(f"{path.name} is a pickle file name", "use .bin, .txt or .vec")
    bad = next((w for w in kv.words if not w or any(c.isspace() for c in w)), None)
    if bad is not None:
        raise InputError(
            f"the word {bad!r} is empty or holds whitespace, which these formats cannot store",
            "rename or drop it before saving",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as raw:
            out: io.BufferedIOBase = (
                gzip.GzipFile(fileobj=raw, mode="wb") if path.suffix == ".gz" else raw
            )
            for chunk in _encode(kv, fmt):
                out.write(chunk)
            if out is not raw:
                out.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _encode(kv: WordVectors, fmt: str) -> Iterator[bytes]:
    if fmt != "glove":
        yield f"{len(kv)} {kv.dim}\n".encode()
    line_format = " ".join(["%.9g"] * kv.dim)
    for start in range(0, len(kv), _CHUNK_LINES):
        rows = np.asarray(kv.vectors[start : start + _CHUNK_LINES], dtype=np.float32)
        words = kv.words[start : start + _CHUNK_LINES]
        if fmt == "word2vec-binary":
            little = rows.astype("<f4")
            yield b"".join(
                w.encode("utf-8") + b" " + little[i].tobytes() + b"\n" for i, w in enumerate(words)
            )
        else:
            yield "".join(
                f"{w} {line_format % tuple(row)}\n"
                for w, row in zip(words, rows.tolist(), strict=True)
            ).encode("utf-8")
