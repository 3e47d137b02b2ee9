"""Embedding a whole file: streamed in, written in chunks, resumable after an interruption.

The CLI's ``embedlab embed`` and the server's batch jobs both call :func:`embed_file`, so both get
flat memory on any input size and the same resume behaviour.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import check_output_folder
from embedlab.embedders.base import Embedder
from embedlab.errors import EmbedlabError
from embedlab.loading import load
from embedlab.output import EmbeddingRun, check_output
from embedlab.progress import progress_bar
from embedlab.text.readers import (
    check_input_file,
    count_records,
    input_format,
    read_records,
    read_texts,
)


@dataclass(frozen=True)
class EmbedFileResult:
    out: Path
    rows: int
    resumed_from: int
    dim: int
    seconds: float
    fitted: bool


class EmbeddingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`embed_file`: still an interrupt, carrying where the run stopped.

    ``rows_done`` rows are safe in ``partial``; the same call again resumes after them.
    """

    def __init__(self, out: Path, partial: Path, rows_done: int, total: int | None) -> None:
        super().__init__(f"interrupted after {rows_done} rows")
        self.out, self.partial, self.rows_done, self.total = out, partial, rows_done, total


def _model_identity(model: str | os.PathLike[str] | Embedder) -> str:
    if isinstance(model, Embedder):
        return f"{model.method}:{model.name}:{sorted(model.params.items())!r}"
    path = Path(model)
    return str(path.resolve()) if path.exists() else str(model)


def run_fingerprint(
    source: Path,
    model: str | os.PathLike[str] | Embedder,
    *,
    field: str | None = None,
    id_field: str | None = None,
    skip_empty: bool = False,
    normalize: bool = False,
) -> dict[str, Any]:
    """What identifies a run: the same input file (size, mtime), model and options."""
    input_format(source)
    stat = source.stat() if source.is_file() else None
    return {
        "input": str(source.resolve()),
        "size": stat.st_size if stat else None,
        "mtime_ns": stat.st_mtime_ns if stat else None,
        "field": field,
        "id_field": id_field,
        "skip_empty": skip_empty,
        "normalize": normalize,
        "model": _model_identity(model),
    }


class ChunkWriter:
    """Writes a run's chunks in a background thread while the next chunk is embedded.

    Why: writing a chunk (Parquet encoding, fsync) took a third of a fast model's run in the
    foreground. One chunk at most is in flight, so chunks land in order, a write's error is
    raised at the next chunk or at the end, and leaving the block (Ctrl-C included) first waits
    for the chunk being written, so ``run.rows_done`` is exact when a run is resumed.
    """

    def __init__(self, run: EmbeddingRun) -> None:
        self.run = run
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="embed-writer")
        self._pending: Future[None] | None = None

    def write(self, ids: list[Any], texts: list[str], vectors: np.ndarray) -> None:
        self.wait()
        self._pending = self._pool.submit(self.run.write, ids, texts, vectors)

    def wait(self) -> None:
        """Block until the chunk in flight is written; raise its error, if any."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None  # only once written: an interrupted wait still waits at exit

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                self.wait()  # the last chunk's error is the run's error
            elif self._pending is not None:
                concurrent.futures.wait([self._pending])  # keep the first error, not this one
        finally:
            self._pool.shutdown(wait=True)


def embed_file(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str] | Embedder,
    *,
    field: str | None = None,
    id_field: str | None = None,
    skip_empty: bool = False,
    normalize: bool = False,
    batch_size: int = 32,
    chunk_rows: int = 4096,
    restart: bool = False,
    save_model: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = False,
) -> EmbedFileResult:
    """Embed every text of ``source`` into ``out`` (.npy or .parquet).

    A trainable method that is not fitted yet (``"tfidf"``) is first fitted on ``source`` in one
    streamed pass. An earlier run of the same command that was interrupted is continued from its
    last written chunk instead of starting over. Inputs and outputs are checked before any
    work; ``force`` lets ``save_model`` replace a folder embedlab did not write. Ctrl-C raises
    :class:`EmbeddingInterrupted`, which says how far the run got.
    """
    started = time.perf_counter()
    source = check_input_file(source)
    check_output(out)
    if save_model is not None:
        check_output_folder(save_model, force=force)
    fingerprint = run_fingerprint(
        source, model, field=field, id_field=id_field, skip_empty=skip_empty, normalize=normalize
    )
    reader_options: dict[str, Any] = {"field": field, "skip_empty": skip_empty}
    embedder = load(model) if not isinstance(model, Embedder) else model
    run = EmbeddingRun(out, fingerprint, restart=restart)
    resumed_from = run.rows_done
    fitted = False
    total: int | None = None
    try:
        if embedder.trainable and not embedder.is_fitted:
            if (run.model_folder / "embedlab.json").is_file():
                embedder = Embedder.load(run.model_folder)
            else:
                embedder.fit(read_texts(source, **reader_options))
                embedder.save(run.model_folder)
                fitted = True
        if save_model is not None:
            embedder.save(save_model, force=force)
        total = count_records(source)
        records = read_records(source, field=field, id_field=id_field, skip_empty=skip_empty)
        # The first record is read before the bar is drawn: a missing field is one line, alone.
        first = next(records, None)
        records = itertools.chain([first] if first is not None else [], records)
        with (
            progress_bar(f"embedding {source.name}", total, enabled=progress) as advance,
            ChunkWriter(run) as writer,
        ):
            advance(resumed_from)
            ids: list[Any] = []
            texts: list[str] = []
            for index, record in enumerate(records):
                if index < resumed_from:
                    continue
                ids.append(record.id)
                texts.append(record.text)
                if len(texts) >= chunk_rows:
                    vectors = embedder.embed(texts, batch_size=batch_size, normalize=normalize)
                    writer.write(ids, texts, vectors)
                    advance(len(texts))
                    ids, texts = [], []
            if texts:
                vectors = embedder.embed(texts, batch_size=batch_size, normalize=normalize)
                writer.write(ids, texts, vectors)
                advance(len(texts))
    except EmbedlabError:
        # The input or model is at fault: this partial run can never be finished as it is.
        shutil.rmtree(run.partial, ignore_errors=True)
        raise
    except KeyboardInterrupt as exc:
        raise EmbeddingInterrupted(run.out, run.partial, run.rows_done, total) from exc
    except BaseException:
        # Anything else (a full disk, a stopping server) keeps work worth resuming, if any.
        if run.rows_done == 0 and not run.model_folder.exists():
            shutil.rmtree(run.partial, ignore_errors=True)
        raise
    path = run.finish()
    return EmbedFileResult(
        out=path,
        rows=run.rows_done,
        resumed_from=resumed_from,
        dim=embedder.dim,
        seconds=time.perf_counter() - started,
        fitted=fitted,
    )
