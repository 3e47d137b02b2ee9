"""``embed_dataset``: one embedding job over a Ray cluster, resumable, with figures at the end.

The driver checks everything that can be wrong before any cluster work (inputs, fields, output
folder, collection, model), cuts the inputs into shards, skips those the journal says are done,
and hands the rest to Ray Data: a dataset of shard descriptions mapped by a pool of
:class:`~embedlab.distributed.worker.ShardWorker` actors (``ActorPoolStrategy``), each holding
the model once. Results stream back as shards finish; each is journalled at once, so a run
stopped anywhere loses at most the shards in flight. Ray restarts a killed actor and retries
its shard (``max_restarts``/``max_task_retries`` -1, Ray Data's default for actor pools).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab._version import __version__
from embedlab.distributed.cluster import cluster_cpus, connect, disconnect, worker_env
from embedlab.distributed.inputs import (
    Shard,
    check_fields,
    expand_inputs,
    plan_shards,
    text_field,
)
from embedlab.distributed.layout import (
    FORMAT,
    VERSION,
    Journal,
    check_out_folder,
    read_manifest,
    remove_run,
    write_json_atomic,
)
from embedlab.distributed.models import ModelSpec, files_identity, resolve_model, saved_files
from embedlab.distributed.reading import ReadOptions
from embedlab.distributed.worker import ShardWorker, WorkSettings, rebuild_error
from embedlab.embedders.base import Embedder
from embedlab.errors import EmbedlabError, InputError, OutputError
from embedlab.extras import require
from embedlab.progress import progress_bar
from embedlab.store.factory import create_collection, split_location
from embedlab.text.readers import read_records

DEFAULT_SHARD_ROWS = 10_000
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class NodeFigures:
    """What one node did: rows embedded and the seconds its actors spent on them."""

    node: str
    address: str
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class DistributedResult:
    out: Path
    rows: int  # embedded by this call
    total_rows: int  # in the whole output, earlier runs included
    shards: int
    skipped_shards: int
    seconds: float
    dim: int
    actors: int
    nodes: list[NodeFigures] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line: rows, rows per second, and what each node did."""
        skipped = f", {self.skipped_shards} already done" if self.skipped_shards else ""
        per_node = "; ".join(
            f"node {n.node[:8]} ({n.address}) {n.rows:,} rows at {n.rows_per_second:,.0f}/s"
            for n in self.nodes
        )
        return (
            f"embedded {self.rows:,} rows in {self.seconds:.1f} s ({self.rows_per_second:,.0f} "
            f"rows/s) with {self.actors} actors: {self.shards} shards{skipped}; "
            f"{self.total_rows:,} rows of {self.dim} dims in {self.out}"
            + (f"; {per_node}" if per_node else "")
        )


def embed_dataset(
    sources: str | os.PathLike[str] | list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str] | Embedder,
    *,
    address: str | None = None,
    field: str | None = None,
    id_field: str | None = None,
    fields: list[str] | None = None,
    skip_empty: bool = False,
    normalize: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    actors: int | None = None,
    cpus_per_actor: float = 1,
    collection: str | None = None,
    runtime: str | None = None,
    restart: bool = False,
    progress: bool = False,
) -> DistributedResult:
    """Embed files, folders or globs of .txt/.jsonl/.csv/.parquet on a Ray cluster into a folder
    of Parquet shards (``id``, ``text``, ``vector`` and ``fields``) with a manifest.

    ``address``: the cluster (``HOST:PORT``, ``ray://...``, or None/``"auto"`` for Ray's own
    choice); ``actors``: how many model copies (default: the cluster's CPUs divided by
    ``cpus_per_actor``); ``shard_rows``: rows per shard, the unit of scheduling, retry and
    resume. ``collection``: a ``postgresql://...#name`` collection every shard is upserted into
    by id. A second call with the same arguments skips the shards already written; ``restart``
    discards them first. Ids are row numbers for one input file, ``"FILE:ROW"`` for several,
    or the ``id_field`` values.
    """
    started = time.perf_counter()
    for value, name in ((batch_size, "batch_size"), (shard_rows, "shard_rows")):
        if value < 1:
            raise InputError(f"{name} must be at least 1, got {value}", f"pass a positive {name}")
    if actors is not None and actors < 1:
        raise InputError(f"actors must be at least 1, got {actors}", "pass a positive count")
    if cpus_per_actor <= 0:
        raise InputError("cpus_per_actor must be positive", "pass e.g. 1")
    paths = list(sources) if isinstance(sources, list | tuple) else [sources]
    files = expand_inputs(paths)
    kept = [f.strip() for f in fields or [] if f.strip()]
    check_fields(files, kept)
    options = ReadOptions(
        field=text_field(field),
        id_field=id_field,
        fields=tuple(kept),
        skip_empty=skip_empty,
        labelled_ids=len(files) > 1,
    )
    for item in files:  # a missing field or unreadable start is one line now, not in an actor
        next(read_records(item.path, field=field, id_field=id_field, skip_empty=skip_empty))
    out_dir = check_out_folder(out)
    require("ray", "ray")
    if collection is not None and split_location(collection)[0] == "local":
        raise InputError(
            f"{collection} is a local collection, which one machine writes, not a cluster",
            "pass a postgresql://...#name collection, or import the shards afterwards with "
            "`embedlab collection import OUT FOLDER`",
        )
    embedder, catalogue_name = resolve_model(model, runtime)
    threads = max(1, int(cpus_per_actor))
    shards = plan_shards(files, shard_rows)
    files_blob = None if catalogue_name is not None else saved_files(embedder)
    identity = (
        f"catalogue:{catalogue_name}:{runtime}"
        if files_blob is None
        else files_identity(files_blob)
    )
    fingerprint = {
        "inputs": [
            {
                "path": str(f.path),
                "size": f.path.stat().st_size,
                "mtime_ns": f.path.stat().st_mtime_ns,
            }
            for f in files
        ],
        "read": {**options.__dict__, "fields": list(options.fields)},
        "normalize": normalize,
        "shard_rows": shard_rows,
        "model": identity,
    }
    journal = _check_run(out_dir, fingerprint, restart)
    done = {} if restart else journal.entries()
    todo = [s for s in shards if s.key not in done]
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "embedlab": __version__,
        "status": "running",
        "fingerprint": fingerprint,
        "model": embedder.name,
        "model_source": None if isinstance(model, Embedder) else str(model),
        "dim": embedder.dim,
        "normalize": normalize,
        "id_type": "string" if (id_field or options.labelled_ids) else "int64",
        "fields": list(kept),
        "collection": _redacted(collection),
    }
    settings = WorkSettings(
        out=str(out_dir.resolve()),
        read=options,
        batch_size=batch_size,
        normalize=normalize,
        dim=embedder.dim,
        string_ids=manifest["id_type"] == "string",
        collection=collection,
        env=worker_env(threads),
    )
    pool = rows = 0
    nodes: dict[str, list[Any]] = defaultdict(lambda: ["", 0, 0.0])
    # Nothing is written anywhere before the cluster is joined and the collection is there.
    joined = connect(address) if todo else False
    try:
        if collection is not None:
            create_collection(
                collection, model=embedder.name, dim=embedder.dim, exist_ok=True
            ).close()
        _start_run(out_dir, restart)
        write_json_atomic(out_dir / "_manifest.json", manifest)
        if todo:
            pool, rows = _run_pool(
                todo,
                settings,
                catalogue_name,
                runtime,
                files_blob,
                identity,
                actors,
                cpus_per_actor,
                journal,
                nodes,
                progress,
            )
    finally:
        if joined:
            disconnect()
    done = journal.entries()
    missing = [s.key for s in shards if s.key not in done]
    if missing:
        raise OutputError(
            f"{len(missing)} shards of {out_dir} were not written (the first: {missing[0]})",
            "run the same command again to finish them",
        )
    entries = [done[s.key] for s in shards]
    manifest.update(
        status="complete",
        rows=sum(int(e["rows"]) for e in entries),
        shards=[{**e, **_where(s)} for e, s in zip(entries, shards, strict=True)],
    )
    write_json_atomic(out_dir / "_manifest.json", manifest)
    return DistributedResult(
        out=out_dir,
        rows=rows,
        total_rows=manifest["rows"],
        shards=len(shards),
        skipped_shards=len(shards) - len(todo),
        seconds=time.perf_counter() - started,
        dim=embedder.dim,
        actors=pool,
        nodes=[
            NodeFigures(node, address_, count, seconds)
            for node, (address_, count, seconds) in sorted(nodes.items())
        ],
    )


def _where(shard: Shard) -> dict[str, Any]:
    return {"file": shard.file, "row_start": shard.row_start, "row_stop": shard.row_stop}


def _redacted(collection: str | None) -> str | None:
    if collection is None:
        return None
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", collection)


def _check_run(out: Path, fingerprint: dict[str, Any], restart: bool) -> Journal:
    """The journal of the run in ``out``: the same run resumes, another one is refused."""
    existing = read_manifest(out)
    if existing is not None and not restart and existing.get("fingerprint") != fingerprint:
        raise OutputError(
            f"{out} holds shards of another input, model or options",
            "pass --restart (restart=True) to replace them, or pick another --out",
        )
    return Journal(out)


def _start_run(out: Path, restart: bool) -> None:
    """Create the folder; ``restart`` first removes this writer's files from it."""
    if restart and read_manifest(out) is not None:
        remove_run(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out} ({exc.strerror})", "check the path") from None


def _run_pool(
    todo: list[Shard],
    settings: WorkSettings,
    catalogue_name: str | None,
    runtime: str | None,
    files_blob: dict[str, bytes] | None,
    identity: str,
    actors: int | None,
    cpus_per_actor: float,
    journal: Journal,
    nodes: dict[str, list[Any]],
    progress: bool,
) -> tuple[int, int]:
    """Run the actor pool over ``todo``; returns (actors, rows embedded)."""
    ray = require("ray", "ray")
    data = require("ray.data", "ray")
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our bar and summary say it all
    context = data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    files = None if files_blob is None else [ray.put(files_blob)]
    spec = ModelSpec(catalogue_name, runtime, files, identity)
    fitting = max(1, int(cluster_cpus() // cpus_per_actor))
    pool = min(actors or fitting, len(todo))
    strategy = (
        data.ActorPoolStrategy(size=pool)
        if pool <= fitting
        else data.ActorPoolStrategy(min_size=1, max_size=pool)
    )
    dataset = data.from_items([s.to_dict() for s in todo], override_num_blocks=len(todo))
    results = dataset.map_batches(
        ShardWorker,
        fn_constructor_args=(spec, settings),
        batch_size=1,
        compute=strategy,
        num_cpus=cpus_per_actor,
    )
    planned = sum(s.row_stop - s.row_start for s in todo)
    by_key = {s.key: s for s in todo}
    rows = 0
    try:
        with progress_bar(
            f"embedding on Ray ({pool} actors)", planned, enabled=progress
        ) as advance:
            for row in results.iter_rows():
                if row["error"]:
                    raise rebuild_error(str(row["error"]))
                shard = by_key[str(row["key"])]
                count, seconds = int(row["rows"]), round(float(row["seconds"]), 4)
                node, where = str(row["node"]), str(row["address"])
                journal.append(
                    {"key": shard.key, "rows": count, "seconds": seconds, "node": node,
                     "address": where}
                )  # fmt: skip
                rows += count
                figures = nodes[node]
                figures[0] = where
                figures[1] += count
                figures[2] += seconds
                advance(shard.row_stop - shard.row_start)
    except EmbedlabError:
        raise
    except Exception as exc:
        cause = _embedlab_cause(exc)
        if cause is not None:
            raise cause from None
        raise
    return pool, rows


def _embedlab_cause(exc: BaseException) -> EmbedlabError | None:
    """The EmbedlabError an actor raised, out of Ray's wrappers (its message is the one line)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, EmbedlabError) and type(current).__module__.startswith("embedlab"):
            return current
        stack += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return None
