"""Batch jobs: a whole file embedded into Parquet or a collection in the background, surviving
restarts.

Why this shape:
- Into Parquet, the work is :func:`embedlab.batch.embed_file`, the same streamed, chunked,
  resumable code as ``embedlab embed``: a job interrupted by a restart (or ``kill -9``) continues
  from its last written chunk when the server comes back, because ``embed_file`` resumes by itself.
- Into a collection, the file is read in chunks; each chunk is embedded outside the collection's
  lock (live searches go on meanwhile), then upserted in one commit, then counted in ``job.json``.
  Ids are the file's ``id_field`` or ``<job id>-<row>``, so replaying the chunk a crash cut off
  between the commit and the count rewrites the same items instead of adding copies.
- Each job is a folder ``JOBS_DIR/<id>/`` with ``job.json`` (written atomically), the uploaded
  input, and the output; the folder is the whole state, so nothing else needs to survive.
- Jobs embed through the model's batcher (:class:`~embedlab.server.core.proxy.BatcherEmbedder`),
  never by calling the model
  directly, so the model is loaded once, its tokenizer is used from one thread, and live requests
  and jobs share the compute thread. A job keeps at most two pieces in the queue and waits for
  room instead of being refused, so it never crowds out live requests.
- One runner thread per jobs folder, elected with an ``flock`` on ``.runner.lock``: with several
  uvicorn worker processes only one runs jobs, and another takes over if it dies.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from embedlab._io import write_json_atomic
from embedlab.batch import embed_file
from embedlab.errors import EmbedlabError
from embedlab.server.core.errors import (
    DataFileNotFoundError,
    InvalidPathError,
    PathNotAllowedError,
    ShuttingDownError,
    scrub_paths,
)
from embedlab.server.core.metrics import Metrics
from embedlab.server.core.proxy import BatcherEmbedder, StoppedError
from embedlab.server.core.served import ServedModel
from embedlab.store.transfer import iter_source
from embedlab.text.readers import count_records, input_format

log = logging.getLogger("embedlab.server")

JOB_FILE = "job.json"
OUTPUT_FILE = "output.parquet"
JOB_ID = re.compile(r"^job-[0-9a-f]{16}$")
STATUSES = ("queued", "running", "succeeded", "failed")


@dataclass
class Job:
    """What ``job.json`` holds; ``public()`` is what the API shows."""

    id: str
    model: str
    source: str
    source_kind: str  # "upload" or "data_dir"
    source_name: str
    field: str | None
    id_field: str | None
    skip_empty: bool
    normalize: bool
    collection: str | None = None  # the target collection; None: a Parquet file
    metadata_fields: list[str] | None = None
    status: str = "queued"
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    rows_total: int | None = None
    rows_done: int = 0
    resumed_from: int = 0
    attempts: int = 0
    error: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def public(self, rows_done: int | None = None) -> dict[str, Any]:
        done = self.rows_done if rows_done is None else rows_done
        total = self.rows_total
        return {
            "id": self.id,
            "object": "embedding_job",
            "status": self.status,
            "model": self.model,
            "input": self.source_name,
            "input_kind": self.source_kind,
            "rows_total": total,
            "rows_done": done,
            "progress": round(done / total, 4)
            if total
            else (1.0 if self.status == "succeeded" else 0.0),
            "resumed_from": self.resumed_from,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "target": "parquet" if self.collection is None else "collection",
            "collection": self.collection,
            "output_url": f"/v1/jobs/{self.id}/output"
            if self.status == "succeeded" and self.collection is None
            else None,
        }


def resolve_data_path(data_dir: str | None, given: str) -> Path:
    """A file inside the operator's data folder; ``..``, other paths and links out are refused."""
    if not data_dir:
        raise PathNotAllowedError(
            "this server takes no file paths (it was started without --data-dir)",
            "upload the file instead",
        )
    if "\x00" in given or not given.strip():
        raise InvalidPathError("path is empty or holds a NUL character", "give a file name")
    if ".." in PurePath(given).parts:
        raise InvalidPathError("path may not contain '..'", "give a path inside the data folder")
    root = Path(data_dir).resolve()
    candidate = Path(given)
    try:
        resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
        is_file = resolved.is_file()
    except OSError as exc:  # a name too long for the file system, and the like
        raise InvalidPathError(
            f"path is not a usable file name ({exc.strerror or type(exc).__name__})",
            "give a shorter path inside the data folder",
        ) from None
    if not resolved.is_relative_to(root):
        raise PathNotAllowedError(
            "path is outside the server's data folder (symbolic links out of it count as outside)",
            "give a path inside the data folder",
        )
    if not is_file:
        raise DataFileNotFoundError(
            f"no file {given!r} in the data folder", "check the name (relative to the data folder)"
        )
    return resolved


class JobManager:
    """Creates, persists, runs and reports jobs; see the module docstring."""

    def __init__(
        self,
        folder: Path,
        *,
        models: dict[str, ServedModel],
        submitter: Callable[[ServedModel], Callable[[list[str]], np.ndarray]],
        chunk_rows: int,
    ) -> None:
        self.folder = folder
        self.models = models
        self.submitter = submitter
        self.chunk_rows = chunk_rows
        self.folder.mkdir(parents=True, exist_ok=True)
        self.collections: Any = None  # the server's open collections, for collection targets
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: str | None = None

    # -- creating --------------------------------------------------------------------------------
    def create(
        self,
        *,
        model: str,
        source_kind: str,
        source_name: str,
        write_input: Callable[[Path], Path] | None = None,
        source: Path | None = None,
        field: str | None = None,
        id_field: str | None = None,
        skip_empty: bool = False,
        normalize: bool = True,
        collection: str | None = None,
        metadata_fields: list[str] | None = None,
    ) -> Job:
        """Register a job; an upload is written into the job's folder by ``write_input``."""

        job_id = f"job-{secrets.token_hex(8)}"
        folder = self.folder / job_id
        folder.mkdir(parents=True)
        try:
            if write_input is not None:
                source = write_input(folder)
            assert source is not None
            input_format(source)
            job = Job(
                id=job_id,
                model=model,
                source=str(source),
                source_kind=source_kind,
                source_name=source_name,
                field=field,
                id_field=id_field,
                skip_empty=skip_empty,
                normalize=normalize,
                collection=collection,
                metadata_fields=metadata_fields,
                created_at=time.time(),
            )
            self._save(job)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._wake.set()
        return job

    # -- reading ---------------------------------------------------------------------------------
    def _save(self, job: Job) -> None:
        write_json_atomic(self.folder / job.id / JOB_FILE, asdict(job), indent=1)

    def load(self, job_id: str) -> Job | None:
        if not JOB_ID.match(job_id):
            return None
        path = self.folder / job_id / JOB_FILE
        try:
            return Job.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def all(self) -> list[Job]:
        jobs = [self.load(p.name) for p in self.folder.iterdir() if p.is_dir()]
        return sorted((j for j in jobs if j is not None), key=lambda j: j.created_at)

    def output_path(self, job: Job) -> Path:
        return self.folder / job.id / OUTPUT_FILE

    def rows_on_disk(self, job: Job) -> int:
        """Rows safely written so far, from the partial run's own state file."""
        if job.status != "running" or job.collection is not None:
            return job.rows_done
        out = self.output_path(job)
        state = out.with_name(f".{out.name}.partial") / "state.json"
        try:
            return int(json.loads(state.read_text(encoding="utf-8")).get("rows", 0))
        except (FileNotFoundError, json.JSONDecodeError, ValueError, TypeError):
            return job.rows_done

    def describe(self, job: Job) -> dict[str, Any]:
        return job.public(self.rows_on_disk(job))

    def report(self, metrics: Metrics) -> None:
        counts = dict.fromkeys(STATUSES, 0)
        for job in self.all():
            counts[job.status] = counts.get(job.status, 0) + 1
        for status, count in counts.items():
            metrics.jobs.labels(state=status).set(count)

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._runner, name="embedlab-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _runner(self) -> None:
        lock_path = self.folder / ".runner.lock"
        with lock_path.open("a") as lock:
            while not self._stopping.is_set():  # stand by until this process may run jobs
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    self._stopping.wait(2.0)
            while not self._stopping.is_set():
                job = next((j for j in self.all() if j.status in ("queued", "running")), None)
                if job is None:
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
                self._run(job)

    def _run(self, job: Job) -> None:
        model = self.models.get(job.model)
        if model is None:
            self._fail(job, f"the model {job.model!r} is no longer served; restart with it")
            return
        job.status, job.attempts = "running", job.attempts + 1
        job.started_at = job.started_at or time.time()
        self._save(job)
        self._current = job.id
        try:
            job.rows_total = count_records(job.source)
            self._save(job)
            embedder = BatcherEmbedder(model, self.submitter(model), stopping=self._stopping)
            if job.collection is None:
                rows, resumed_from = self._into_parquet(job, embedder)
            else:
                rows, resumed_from = self._into_collection(job, embedder)
        except (StoppedError, ShuttingDownError):
            log.info("job %s interrupted by shutdown; it resumes at the next start", job.id)
            return
        except EmbedlabError as exc:
            self._fail(job, self.public_message(job, str(exc)))
            return
        except Exception as exc:  # a job must never take the runner down with it
            log.exception("job %s failed", job.id)
            self._fail(job, self.public_message(job, f"internal error ({type(exc).__name__})"))
            return
        finally:
            self._current = None
        job.status, job.finished_at = "succeeded", time.time()
        job.rows_done, job.resumed_from, job.rows_total = rows, resumed_from, rows
        self._save(job)
        log.info("job %s done: %d rows (resumed from %d)", job.id, rows, resumed_from)

    def _into_parquet(self, job: Job, embedder: BatcherEmbedder) -> tuple[int, int]:
        result = embed_file(
            job.source,
            self.output_path(job),
            embedder,
            field=job.field,
            id_field=job.id_field,
            skip_empty=job.skip_empty,
            normalize=job.normalize,
            batch_size=max(1, self.chunk_rows),
            chunk_rows=self.chunk_rows,
        )
        return result.rows, result.resumed_from

    def _into_collection(self, job: Job, embedder: BatcherEmbedder) -> tuple[int, int]:
        """Chunk by chunk: embed (outside the lock), upsert (one commit), count in job.json."""

        store, name = self.collections, job.collection
        if store is None or name is None:
            raise EmbedlabError(
                "collections are not available on this server", "start it with --collections"
            )
        model_name = self.models[job.model].embedder.name
        normalize = store.run(name, lambda c: c.config.normalize)
        records = iter_source(
            job.source,
            field=job.field or "text",
            id_field=job.id_field,
            metadata_fields=job.metadata_fields,
            skip_empty=job.skip_empty,
        )
        done = resumed_from = job.rows_done
        records = itertools.islice(records, done, None)  # what a resumed job has already stored
        while chunk := list(itertools.islice(records, max(1, self.chunk_rows))):
            texts = [text for _, text, _ in chunk]
            ids = [
                rid if rid is not None else f"{job.id}-{done + i}"
                for i, (rid, _, _) in enumerate(chunk)
            ]
            metadatas = [meta for _, _, meta in chunk]
            vectors = embedder.embed(texts, batch_size=len(texts), normalize=normalize)

            def write(collection: Any, texts=texts, ids=ids, metas=metadatas, vecs=vectors) -> None:
                collection.upsert(
                    texts,
                    ids=ids,
                    metadatas=metas,
                    vectors=vecs,
                    model=model_name,
                    commit_every=len(texts),
                )

            store.run(name, write)
            done += len(chunk)
            job.rows_done = done
            self._save(job)
        if done == 0:
            raise EmbedlabError(f"{job.source_name} holds no texts", "upload a file with texts")
        store.run(name, lambda c: c.build_index())
        return done, resumed_from

    def public_message(self, job: Job, message: str) -> str:
        """``message`` as callers may see it: the input named as they named it, no server path."""
        message = message.replace(job.source, job.source_name)
        return scrub_paths(message, [self.folder / job.id, self.folder])

    def _fail(self, job: Job, message: str) -> None:
        job.status, job.error, job.finished_at = "failed", message, time.time()
        self._save(job)
