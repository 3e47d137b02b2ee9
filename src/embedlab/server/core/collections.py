"""The server's open collections: opened once by name, one lock each, bound to served models.

Texts are embedded through the served model's batcher (:class:`~embedlab.server.core.proxy.
BatcherEmbedder`), so a collection can only embed with a model this server serves. Store calls
are synchronous: callers run them in worker threads, one at a time per collection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from embedlab.data import sample_texts
from embedlab.server.core.errors import ModelMismatchError, ModelNotServedError
from embedlab.server.core.proxy import BatcherEmbedder
from embedlab.server.core.served import ServedModel
from embedlab.store import (
    Collection,
    UnknownCollectionError,
    create_collection,
    drop_collection,
    list_collections,
    open_collection,
)
from embedlab.store.config import check_name

T = TypeVar("T")
DEMO = "demo"


class Collections:
    """Open collections by name, each with a lock, bound to the server's own models."""

    def __init__(
        self, location: str, models: dict[str, ServedModel], submitter: Callable[..., Any]
    ) -> None:
        self.location = location
        self.is_database = "://" in location
        self.models = models
        self.submitter = submitter
        self._open: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        if not self.is_database:
            Path(location).expanduser().mkdir(parents=True, exist_ok=True)

    def _where(self, name: str) -> tuple[str, str | None]:
        if self.is_database:
            return self.location, name
        return str(Path(self.location).expanduser() / name), None

    def _served(self, model_name: str | None) -> ServedModel | None:
        """The served model a collection was made with (by embedder name or id); None if
        unserved."""
        for served in self.models.values():
            if model_name is not None and model_name in (served.embedder.name, served.id):
                return served
        return None

    def _embedder_for(self, served: ServedModel) -> BatcherEmbedder:
        """``served`` through its batcher, under the name the store records."""
        return BatcherEmbedder(served, self.submitter(served), name=served.embedder.name)

    def _refuse_unserved(self, collection: Any) -> None:
        raise ModelNotServedError(
            f"collection {collection.name!r} was made with the model {collection.model!r}, which "
            f"this server does not serve (it serves {', '.join(self.models)})",
            f"restart it with --models {collection.model} to embed texts for this collection",
        )

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def names(self) -> list[str]:
        return list_collections(self.location)

    def create(self, name: str, served: ServedModel, **options: Any) -> Any:
        location, coll_name = self._where(name)
        with self._lock(name):
            collection = create_collection(
                location, coll_name, model=self._embedder_for(served), **options
            )
            old = self._open.pop(name, None)
            if old is not None and old is not collection:
                old.close()
            self._open[name] = collection
            return collection

    def run(self, name: str, action: Callable[[Any], T], *, embeds: bool = False) -> T:
        """``action(collection)`` under the collection's lock, opening it on first use.

        ``embeds``: the action embeds texts, which needs the collection's model to be served
        here (the store would otherwise load a second copy outside the batcher).
        """
        check_name(name)
        with self._lock(name):
            collection = self._open.get(name)
            if collection is None:
                location, coll_name = self._where(name)
                collection = open_collection(location, coll_name)
                served = self._served(collection.model)
                if served is not None:
                    collection = Collection(collection.backend, self._embedder_for(served))
                self._open[name] = collection
            if embeds and collection._embedder is None:
                self._refuse_unserved(collection)
            return action(collection)

    def job_target(self, name: str, requested: ServedModel | None) -> ServedModel:
        """The served model a batch job into collection ``name`` must embed with.

        An existing collection keeps its own model (asking for another is a 409); a missing one
        is created now with ``requested`` (or the first served model), so a bad name or an
        unserved model is refused when the job is submitted, not when it runs.
        """
        try:
            model = self.run(name, lambda c: c.model)
        except UnknownCollectionError:
            served = requested or next(iter(self.models.values()))
            self.create(name, served)
            return served
        found = self._served(model)
        if found is None:
            raise ModelNotServedError(
                f"collection {name!r} was made with "
                + (
                    f"the model {model!r}, which this server does not serve"
                    if model
                    else "no model"
                )
                + "; a job embeds texts with the collection's own model",
                "restart the server with that model (--models) or send the job to another "
                "collection",
                param="collection",
            )
        if requested is not None and requested.id != found.id:
            raise ModelMismatchError(
                f"collection {name!r} holds vectors of the model {model!r}, not {requested.id!r}",
                "leave out 'model' (the job then uses the collection's own) or pick another "
                "collection",
            )
        return found

    def drop(self, name: str) -> None:
        with self._lock(name):
            collection = self._open.pop(name, None)
            if collection is not None:
                collection.close()
            location, coll_name = self._where(name)
            drop_collection(location, coll_name)

    def close(self) -> None:
        with self._guard:
            for collection in self._open.values():
                collection.close()
            self._open.clear()


def build_demo(store: Collections, served: ServedModel) -> None:
    """The ``demo`` collection: the bundled sample sentences, with their topic as metadata."""
    texts = sample_texts()
    collection = store.create(DEMO, served, exist_ok=True)
    ids = [f"s{i:02d}" for i in range(len(texts))]
    collection.upsert(texts, ids=ids, metadatas=[{"n": i} for i in range(len(texts))])
