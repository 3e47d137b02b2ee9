"""``vectors-<gen>.f32``: the full-precision vectors, row ``slot`` at byte ``slot * dim * 4``,
with a CRC-32 per 64 KiB block kept in ``items.sqlite``.

Appends go past the last committed row and are fsync'ed before the rows commit; the block
checksums are extended in that same commit (CRC-32 continues over appended bytes, so an append
never re-reads the file). A short, missing or changed file is reported, never padded or
recreated: rows whose vectors are gone must not come back as zeros.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from embedlab.store.errors import CorruptCollectionError
from embedlab.store.local.layout import RESTORE_HINT, vectors_name

BLOCK = 1 << 16  # bytes per checksummed block (64 KiB: 42 rows of 384-d)


def _crc_stream(chunks: Iterable[bytes], start: int, crcs: dict[int, int]) -> int:
    """Extend ``crcs`` (block -> CRC) with bytes written from offset ``start``; returns the
    offset after the last byte."""
    offset = start
    for data in chunks:
        view = memoryview(data)
        while view:
            block, inner = divmod(offset, BLOCK)
            take = min(len(view), BLOCK - inner)
            crcs[block] = zlib.crc32(view[:take], crcs.get(block, 0) if inner else 0)
            view, offset = view[take:], offset + take
    return offset


class VectorFile:
    """The vector file of each generation in one folder, for ``dim``-d float32 rows."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder = folder
        self.dim = dim
        self.row_bytes = 4 * dim

    def path(self, gen: int) -> Path:
        return self.folder / vectors_name(gen)

    def check(self, gen: int, rows: int) -> int:
        """Size in bytes; :class:`CorruptCollectionError` if the file is missing or short."""
        path = self.path(gen)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise CorruptCollectionError(
                f"the vector file {path.name} of {self.folder} is missing ({rows} rows recorded)",
                RESTORE_HINT,
            ) from None
        if size < rows * self.row_bytes:
            raise CorruptCollectionError(
                f"{path} holds {size // self.row_bytes} vectors but the collection records {rows}",
                "the file was cut outside embedlab; " + RESTORE_HINT,
            )
        return size

    def map(self, gen: int, rows: int) -> np.ndarray:
        self.check(gen, rows)
        if rows == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.memmap(self.path(gen), dtype=np.float32, mode="r", shape=(rows, self.dim))

    def append(
        self, gen: int, start: int, vectors: np.ndarray, first_crc: int | None
    ) -> dict[int, int]:
        """Write rows from slot ``start`` (cutting any torn tail past it) and fsync; returns
        the new CRCs of the blocks touched, to commit with the rows. ``first_crc``: the stored
        CRC of the block the append starts in (it continues from it)."""
        data = np.ascontiguousarray(vectors, dtype=np.float32).tobytes()
        offset = start * self.row_bytes
        self.check(gen, start)
        fd = os.open(self.path(gen), os.O_RDWR)  # never created here: a missing file is damage
        try:
            os.ftruncate(fd, offset)  # only ever shortens: check() saw at least `offset` bytes
            view = memoryview(data)
            at = offset
            while view:
                written = os.pwrite(fd, view, at)
                view, at = view[written:], at + written
            os.fsync(fd)
        finally:
            os.close(fd)
        first = offset // BLOCK
        touched = {first: first_crc} if offset % BLOCK and first_crc is not None else {}
        _crc_stream([data], offset, touched)
        return touched

    def write_new(self, gen: int, chunks: Iterable[np.ndarray]) -> dict[int, int]:
        """A whole new generation's file, fsync'ed; returns its block CRCs."""
        crcs: dict[int, int] = {}
        offset = 0
        with self.path(gen).open("wb") as handle:
            for chunk in chunks:
                data = np.ascontiguousarray(chunk, dtype=np.float32).tobytes()
                handle.write(data)
                offset = _crc_stream([data], offset, crcs)
            handle.flush()
            os.fsync(handle.fileno())
        return crcs

    def compute_crcs(self, gen: int, rows: int) -> dict[int, int]:
        """CRCs of the committed bytes as the file holds them now."""
        crcs: dict[int, int] = {}
        with self.path(gen).open("rb") as handle:
            _crc_stream(iter(lambda: handle.read(BLOCK), b""), 0, crcs)
        end = rows * self.row_bytes
        if end % BLOCK:  # the file may hold an uncommitted tail: the last block stops at `end`
            with self.path(gen).open("rb") as handle:
                handle.seek(end - end % BLOCK)
                crcs[end // BLOCK] = zlib.crc32(handle.read(end % BLOCK))
        return {b: c for b, c in crcs.items() if b * BLOCK < end}

    def bad_rows(self, gen: int, rows: int, stored: dict[int, int]) -> np.ndarray:
        """Slots whose bytes are missing or disagree with their block's checksum."""
        size = self.path(gen).stat().st_size if self.path(gen).exists() else 0
        end = rows * self.row_bytes
        bad = np.zeros(rows, dtype=bool)
        have = self.compute_crcs(gen, min(rows, size // self.row_bytes)) if size else {}
        for block in range(-(-end // BLOCK)):
            lo, hi = block * BLOCK, min((block + 1) * BLOCK, end)
            if hi > size or stored.get(block) is None or have.get(block) != stored[block]:
                bad[lo // self.row_bytes : -(-hi // self.row_bytes)] = True
        return bad

    def digest(self, gen: int, rows: int, stored: dict[int, int]) -> str:
        """Identity of the first ``rows`` vectors: the stored CRCs of their full blocks and the
        CRC of the partial one (at most one block read), for an index snapshot to record."""
        end = rows * self.row_bytes
        full, tail = divmod(end, BLOCK)
        parts = [str(stored.get(b)) for b in range(full)]
        if tail:
            with self.path(gen).open("rb") as handle:
                handle.seek(full * BLOCK)
                parts.append(str(zlib.crc32(handle.read(tail))))
        return hashlib.sha256(",".join(parts).encode()).hexdigest()[:32]
