"""The actor of the pool: loads the model once, then reads, embeds and writes whole shards.

Ray Data hands each actor rows that name shards; for each, the actor reads the shard's rows
from the input file, embeds them, writes the shard file (atomically, under a name fixed by
the input file and row range) and, when a collection is given, upserts the rows by id. It
returns one small row per shard (rows, seconds, node) for the driver's journal and figures. A
retried shard rewrites the same file and upserts the same ids: nothing is ever doubled.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.distributed.inputs import Shard
from embedlab.distributed.layout import shard_table, write_shard
from embedlab.distributed.models import ModelSpec
from embedlab.distributed.reading import ReadOptions, read_shard
from embedlab.errors import EmbedlabError
from embedlab.extras import require
from embedlab.store.factory import open_collection

RESULT_COLUMNS = ("key", "rows", "seconds", "node", "address", "error")


@dataclass(frozen=True)
class WorkSettings:
    """Everything an actor needs besides the model; plain values, cheap to ship."""

    out: str
    read: ReadOptions
    batch_size: int
    normalize: bool
    dim: int
    string_ids: bool
    collection: str | None = None  # a postgresql:// DSN with #name
    env: dict[str, str] = field(default_factory=dict)  # EMBEDLAB_THREADS, HF_HUB_OFFLINE, ...


class ShardWorker:
    """A stateful Ray Data UDF: ``__init__`` once per actor, ``__call__`` per batch of shards."""

    def __init__(self, model: ModelSpec, settings: WorkSettings) -> None:
        ray = require("ray", "ray")
        self.settings = settings
        os.environ.update(settings.env)  # this actor's own process: the driver's settings
        self.embedder = model.load()
        context = ray.get_runtime_context()
        self.node = context.get_node_id()
        self.address = ray.util.get_node_ip_address()
        self.collection = open_collection(settings.collection) if settings.collection else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        results: dict[str, list[Any]] = {name: [] for name in RESULT_COLUMNS}
        for index in range(len(batch["key"])):
            shard = Shard.from_dict({name: values[index] for name, values in batch.items()})
            rows, seconds, error = 0, 0.0, ""
            try:
                rows, seconds = self.run(shard)
            except EmbedlabError as exc:  # the input's fault: the driver raises it as it is
                error = describe_error(exc)
            values = (shard.key, rows, seconds, self.node, self.address, error)
            for name, value in zip(RESULT_COLUMNS, values, strict=True):
                results[name].append(value)
        return results

    def run(self, shard: Shard) -> tuple[int, float]:
        started = time.perf_counter()
        s = self.settings
        rows = read_shard(shard, s.read)
        if rows.texts:
            vectors = self.embedder.embed(
                rows.texts, batch_size=s.batch_size, normalize=s.normalize
            )
        else:
            vectors = np.zeros((0, s.dim), np.float32)
        table = shard_table(
            rows.ids, rows.texts, vectors, rows.extra, dim=s.dim, string_ids=s.string_ids
        )
        write_shard(Path(s.out), shard.key, table)
        if self.collection is not None and rows.texts:
            metadatas = [
                {name: values[i] for name, values in rows.extra.items()}
                for i in range(len(rows.texts))
            ]
            self.collection.upsert(
                rows.texts,
                ids=[str(i) for i in rows.ids],
                metadatas=metadatas,
                vectors=vectors,
                model=self.embedder.name,
                commit_every=max(len(rows.texts), 1),
            )
        return len(rows.texts), time.perf_counter() - started


def describe_error(exc: EmbedlabError) -> str:
    """An EmbedlabError as JSON (class, problem, hint, field): no traceback, no pickle."""
    return json.dumps(
        {
            "type": f"{type(exc).__module__}:{type(exc).__qualname__}",
            "problem": exc.problem,
            "hint": exc.hint,
            "field": getattr(exc, "field", None),
        }
    )


def rebuild_error(text: str) -> EmbedlabError:
    """The error :func:`describe_error` described, as an instance of its embedlab class."""
    data = json.loads(text)
    module, _, name = str(data.get("type", "")).partition(":")
    cls: type[EmbedlabError] = EmbedlabError
    if module.startswith("embedlab."):
        found = getattr(importlib.import_module(module), name, None)
        if isinstance(found, type) and issubclass(found, EmbedlabError):
            cls = found
    error = cls.__new__(cls)
    EmbedlabError.__init__(error, data["problem"], data.get("hint"))
    if data.get("field") is not None:
        error.field = data["field"]  # type: ignore[attr-defined]
    return error
