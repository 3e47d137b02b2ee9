"""Writing embedding runs to .npy or .parquet, atomically and resumably.

Vectors are written in chunks into a hidden ``.NAME.partial`` folder beside the output, with a
``state.json`` that records how many rows are safely on disk. An interrupted run resumes after the
last recorded chunk, and the output file only appears, by an atomic rename, once it is complete:
there is never a half-written output where a user would look for one.

A .npy output is one file from the start: rows are appended after a reserved header that is filled
in with the final shape at the end, so finishing is a rename, not a copy, and memory stays flat
(no memory map, whose pages would count as resident). Parquet chunks are merged at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import write_json_atomic
from embedlab.errors import OutputError

OUTPUT_FORMATS = (".npy", ".parquet")
STATE_FILE = "state.json"
NPY_HEADER_BYTES = 128  # a multiple of 64, as numpy aligns it; fits any 2-D float32 shape
NPY_DATA = "vectors.npy"


def npy_header(rows: int, dim: int) -> bytes:
    """A .npy (format 1.0) header for a C-ordered float32 ``(rows, dim)`` array, padded to size."""
    description = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    body = NPY_HEADER_BYTES - 10
    return (
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", body)
        + (description.ljust(body - 1) + "\n").encode("latin1")
    )


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise OutputError(
            f"cannot write {path}: unknown output extension {suffix or '(none)'!r}",
            "name the output .npy (vectors only) or .parquet (id, text, vector)",
        )
    return suffix


def check_output(path: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, an output that cannot be written: a wrong extension, or a
    folder where the file would go."""
    out = Path(path)
    fmt = output_format(out)
    if out.is_dir():
        raise OutputError(
            f"{out} is a folder; the output is one {fmt} file",
            f"name a file, e.g. {out / ('vectors' + fmt)}",
        )
    return out


class EmbeddingRun:
    """One resumable write of vectors (and, for Parquet, ids and texts) to ``out``.

    ``fingerprint`` describes what is being computed (input file, model, options); a leftover
    partial run is resumed only when its fingerprint matches, so vectors of two different runs
    are never mixed.
    """

    def __init__(
        self, out: str | os.PathLike[str], fingerprint: dict[str, Any], *, restart: bool = False
    ):
        self.out = check_output(out)
        self.format = output_format(self.out)
        self.partial = self.out.with_name(f".{self.out.name}.partial")
        self.fingerprint = fingerprint
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the folder of {self.out} ({exc})", "check the path"
            ) from None
        if restart:
            shutil.rmtree(self.partial, ignore_errors=True)
        self.state = self._open_state()

    def _open_state(self) -> dict[str, Any]:
        state_path = self.partial / STATE_FILE
        if state_path.is_file():
            try:
                state = json.loads(state_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                state = None
            if not state or state.get("fingerprint") != self.fingerprint:
                raise OutputError(
                    f"an unfinished run of a different input or model is in {self.partial}",
                    "pass --restart (restart=True) to discard it, or rerun the original command to finish it",
                )
            return state
        self.partial.mkdir(parents=True, exist_ok=True)
        state = {"fingerprint": self.fingerprint, "rows": 0, "chunks": 0, "dim": None}
        write_json_atomic(state_path, state)
        return state

    @property
    def rows_done(self) -> int:
        """Rows already safely written by this or an earlier, interrupted, attempt."""
        return int(self.state["rows"])

    @property
    def model_folder(self) -> Path:
        """Where a model fitted for this run is kept, so a resume embeds with the same fit."""
        return self.partial / "model"

    def write(self, ids: list[Any], texts: list[str], vectors: np.ndarray) -> None:
        """Append one chunk; it counts as written only once ``state.json`` says so."""
        if len(vectors) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = self.state["dim"]
        if dim is not None and vectors.shape[1] != dim:
            raise OutputError(
                f"a chunk has dimension {vectors.shape[1]}, the run has {dim}", "restart the run"
            )
        if self.format == ".npy":
            self._append_npy(vectors)
        else:
            import pyarrow.parquet as pq

            chunk = self.partial / f"chunk_{self.state['chunks']:06d}.parquet"
            table = _arrow_table(ids, texts, vectors)
            pq.write_table(table, chunk, **parquet_write_options(table.column_names))
        self.state.update(
            rows=self.rows_done + len(vectors),
            chunks=self.state["chunks"] + 1,
            dim=vectors.shape[1],
        )
        write_json_atomic(self.partial / STATE_FILE, self.state)

    def _append_npy(self, vectors: np.ndarray) -> None:
        """Append rows after the last recorded ones; bytes of a crashed append are cut off first."""
        path = self.partial / NPY_DATA
        committed = NPY_HEADER_BYTES + self.rows_done * vectors.shape[1] * 4
        with path.open("r+b" if path.exists() else "w+b") as handle:
            if self.rows_done == 0:
                handle.write(npy_header(0, vectors.shape[1]))
            handle.truncate(committed)
            handle.seek(committed)
            handle.write(vectors.tobytes())
            handle.flush()
            os.fsync(handle.fileno())

    def finish(self) -> Path:
        """Complete the output (.npy: write the real header; Parquet: merge) and rename it in."""
        if self.format == ".npy":
            tmp = self.partial / NPY_DATA
            dim = self.state["dim"] or 0
            with tmp.open("r+b" if tmp.exists() else "w+b") as handle:
                handle.write(npy_header(self.rows_done, dim))
                handle.truncate(NPY_HEADER_BYTES + self.rows_done * dim * 4)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            chunks = [self.partial / f"chunk_{i:06d}.parquet" for i in range(self.state["chunks"])]
            tmp = self.partial / "assembled.parquet"
            import pyarrow.parquet as pq

            writer = None
            for chunk in chunks:
                table = pq.read_table(chunk)
                if writer is None:
                    options = parquet_write_options(table.column_names)
                    writer = pq.ParquetWriter(tmp, table.schema, **options)
                writer.write_table(table)
            if writer is not None:
                writer.close()
        os.replace(tmp, self.out)
        shutil.rmtree(self.partial, ignore_errors=True)
        return self.out


def parquet_write_options(column_names: Iterable[str]) -> dict[str, Any]:
    """pyarrow write options for a table with a float ``vector`` column.

    Why: pyarrow tries dictionary encoding on every column, and float vectors never repeat, so
    the attempt only slows writing; byte stream split stores the floats smaller.
    """
    others = [name for name in column_names if name != "vector"]
    return {
        "use_dictionary": others,
        "column_encoding": {"vector.list.element": "BYTE_STREAM_SPLIT"},
    }


def _arrow_table(ids: list[Any], texts: list[str], vectors: np.ndarray) -> Any:
    import pyarrow as pa

    dim = vectors.shape[1]
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    id_array = (
        pa.array([str(i) for i in ids])
        if any(isinstance(i, str) for i in ids)
        else pa.array(ids, pa.int64())
    )
    return pa.table(
        {
            "id": id_array,
            "text": pa.array(texts, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
        }
    )


def read_vectors(path: str | os.PathLike[str]) -> np.ndarray:
    """Load the vectors of an output file (.npy or the ``vector`` column of .parquet)."""
    path = Path(path)
    if output_format(path) == ".npy":
        return np.load(path, allow_pickle=False)
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["vector"]).column("vector").combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1).astype(np.float32, copy=False)
