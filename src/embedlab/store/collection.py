"""``Collection``: ids, texts, metadata and vectors bound to the Embedder that made them.

The collection checks and embeds; a backend (chosen by a small factory, as txtai picks its ANN
backends) stores and searches. The location says which backend: a folder is the embedded local
backend, a ``postgresql://`` DSN the pgvector one::

    from embedlab.store import create_collection, open_collection

    docs = create_collection("data/docs", model="minilm")               # a folder on disk
    docs.add(["The bank raised rates.", "A cat sat."], metadatas=[{"year": 2024}, {}])
    docs.search("interest rates", k=5, where={"year": {"$gte": 2020}})
    docs.hybrid_search("bank rates", k=5)                                # BM25 + dense, fused

    pg = open_collection("postgresql://user@host/db", "docs")          # same API on PostgreSQL
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import embedlab
from embedlab import catalogue
from embedlab.embedders.base import Embedder
from embedlab.errors import InputError, UnknownModelError
from embedlab.progress import progress_bar
from embedlab.store.backend import DEFAULT_INCLUDE, INCLUDE_ALL, Backend, Hit, Record, SearchOptions
from embedlab.store.config import STORAGES, CollectionConfig, bytes_per_vector, check_name
from embedlab.store.errors import (
    DimensionMismatchError,
    DuplicateIdError,
    ModelMismatchError,
    UnknownCollectionError,
)
from embedlab.store.filters import parse_filter
from embedlab.store.fusion import FUSIONS, rrf, top, weighted

_BACKENDS: dict[str, str] = {
    "local": "embedlab.store.local:LocalBackend",
    "postgres": "embedlab.store.postgres:PostgresBackend",
}
_SCHEMES: dict[str, str] = {"postgresql": "postgres", "postgres": "postgres"}


def register_backend(name: str, target: str, schemes: Sequence[str] = ()) -> None:
    """Register a backend class ``"package.module:Class"``; URLs with ``schemes`` pick it."""
    _BACKENDS[name] = target
    for scheme in schemes:
        _SCHEMES[scheme] = name


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def split_location(location: str | os.PathLike[str]) -> tuple[str, str, str | None]:
    """``(backend, location, name)``: a URL's scheme picks the backend, a ``#name`` fragment
    may name the collection; anything else is a folder for the local backend."""
    text = str(location)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme:
        if scheme not in _SCHEMES:
            raise InputError(
                f"no collection backend for {scheme}:// URLs",
                f"use a folder or one of: {', '.join(s + '://' for s in sorted(_SCHEMES))}",
            )
        base, _, fragment = text.partition("#")
        return _SCHEMES[scheme], base, fragment or None
    return "local", text, None


def _backend_class(name: str) -> type[Backend]:
    target = _BACKENDS.get(name)
    if target is None:
        raise InputError(f"unknown backend {name!r}", f"use one of {', '.join(backend_names())}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def _resolve(location: str | os.PathLike[str], name: str | None, backend: str | None) -> Any:
    kind, where, fragment = split_location(location)
    if backend is not None and backend != kind:
        if kind != "local":
            raise InputError(
                f"{where} is a {kind} location but backend={backend!r} was asked for",
                "leave backend out; the location picks it",
            )
        kind = backend
    return _backend_class(kind), where, name or fragment


def create_collection(
    location: str | os.PathLike[str],
    name: str | None = None,
    *,
    model: str | Embedder | None = None,
    dim: int | None = None,
    metric: str = "cosine",
    storage: str = "float32",
    normalize: bool | None = None,
    index: str = "auto",
    exist_ok: bool = False,
    backend: str | None = None,
    **options: Any,
) -> Collection:
    """Create a collection and return it open.

    ``location``: a folder (local backend; the name defaults to the folder's) or a
    ``postgresql://`` DSN (``name`` required, or given as ``#name``). ``model``: a model name or
    an Embedder (its dimension is used; texts are embedded with it; a name given with ``dim`` is
    only recorded, and loaded when texts first need embedding); leave it out and pass ``dim``
    for a collection fed only precomputed vectors. ``metric``: cosine, dot or l2.
    ``storage``: float32, float16, int8 or binary (the in-memory search index; full precision is
    always kept on disk for rescoring). ``index``: auto (exact search below
    ``exact_threshold`` items, HNSW above), hnsw or flat. Other ``options`` (``m``,
    ``ef_construction``, ``ef_search``, ``exact_threshold``, ``rescore``, ``language``) go to
    :class:`CollectionConfig`.
    """
    klass, where, coll_name = _resolve(location, name, backend)
    if coll_name is None:
        if klass.kind != "local":
            raise InputError(
                "a collection name is needed for a database location",
                f"pass name=..., or append #name to the URL ({where}#docs)",
            )
        coll_name = Path(where).expanduser().resolve().name
    check_name(coll_name)
    embedder = None
    model_name = None
    if isinstance(model, Embedder):
        embedder = model
    elif model is not None and dim is not None:
        model_name = _canonical_model_name(str(model))  # loaded on first use, not now
    elif model is not None:
        embedder = embedlab.load(model)
    if embedder is not None:
        model_name = embedder.name
        if dim is not None and dim != embedder.dim:
            raise DimensionMismatchError(
                f"dim={dim} was given but the model {model_name!r} makes {embedder.dim}-d vectors",
                "leave dim out when a model is given",
            )
        dim = embedder.dim
        if isinstance(model, str | os.PathLike):
            options.setdefault("extra", {})["model_source"] = str(model)
    if dim is None:
        raise InputError(
            "a collection needs a model or a dimension",
            "pass model='minilm' (texts are embedded for you) or dim=384 (precomputed vectors)",
        )
    if normalize is None:
        normalize = metric == "cosine"
    known = {f.name for f in dataclasses.fields(CollectionConfig)} - {"name", "dim", "model"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(
            f"unknown collection option(s): {', '.join(unknown)}",
            f"use any of: {', '.join(sorted(known))}",
        )
    config = CollectionConfig(
        name=coll_name,
        dim=int(dim),
        model=model_name,
        metric=metric,
        normalize=normalize,
        storage=storage,
        index=index,
        **options,
    )
    store = klass.create(where, config, exist_ok=exist_ok)
    if exist_ok:
        _check_compatible(store.config, config)
    return Collection(store, embedder)


def _canonical_model_name(name: str) -> str:
    """The name ``embedlab.load(name).name`` would give a catalogue model, without loading it."""

    entry = catalogue.find(name)
    if entry is None:
        return name
    return entry.aliases[0] if entry.aliases else entry.name


def _check_compatible(have: CollectionConfig, want: CollectionConfig) -> None:
    for key in ("dim", "model", "metric"):
        if getattr(have, key) != getattr(want, key):
            raise ModelMismatchError(
                f"collection {have.name!r} exists with {key}={getattr(have, key)!r}, "
                f"not {getattr(want, key)!r}",
                "open it as it is, or create a new collection",
            )


def open_collection(
    location: str | os.PathLike[str],
    name: str | None = None,
    *,
    embedder: Embedder | str | None = None,
    backend: str | None = None,
) -> Collection:
    """Open an existing collection (:class:`UnknownCollectionError` if there is none).

    ``embedder`` overrides how texts are embedded (a model saved elsewhere, say); it must be the
    model the collection was made with. Without it, the model is loaded by name on first use.
    """
    klass, where, coll_name = _resolve(location, name, backend)
    if coll_name is None and klass.kind != "local":
        raise InputError(
            "a collection name is needed for a database location",
            f"pass name=..., or append #name to the URL ({where}#docs)",
        )
    store = klass.open(where, coll_name)
    return Collection(store, embedder)


def list_collections(location: str | os.PathLike[str], *, backend: str | None = None) -> list[str]:
    """Names of the collections in a database, or in a folder of collection folders."""
    klass, where, _ = _resolve(location, None, backend)
    return klass.list_names(where)


def drop_collection(
    location: str | os.PathLike[str], name: str | None = None, *, backend: str | None = None
) -> None:
    """Delete a whole collection: its folder, or its table and registry row."""
    klass, where, coll_name = _resolve(location, name, backend)
    klass.drop(where, coll_name)


class Collection:
    """A named set of items (id, text, JSON metadata, vector) bound to one Embedder.

    Get one from :func:`create_collection` / :func:`open_collection` (also
    ``Collection.create`` / ``Collection.open``). Use it as a context manager, or call
    :meth:`close`, so the local backend can save its index.
    """

    create = staticmethod(create_collection)
    open = staticmethod(open_collection)

    def __init__(self, backend: Backend, embedder: Embedder | str | None = None) -> None:
        self._backend = backend
        self.config = backend.config
        self._embedder: Embedder | None = None
        if embedder is not None:
            self._embedder = self._check_embedder(embedder)

    # -- what it is ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def model(self) -> str | None:
        return self.config.model

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def location(self) -> str:
        return self._backend.location

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Collection({c.name!r}, backend={self._backend.kind!r}, model={c.model!r}, "
            f"dim={c.dim}, metric={c.metric!r}, storage={c.storage!r})"
        )

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()

    # -- the embedder ----------------------------------------------------------------------------
    def _check_embedder(self, embedder: Embedder | str) -> Embedder:
        if isinstance(embedder, str):
            embedder = embedlab.load(embedder)
        c = self.config
        if c.model is not None and embedder.name != c.model:
            raise ModelMismatchError(
                f"collection {c.name!r} holds vectors of {c.model!r}, not {embedder.name!r}",
                f"embed with {c.model!r}, or put these vectors in another collection",
            )
        if embedder.dim != c.dim:
            raise DimensionMismatchError(
                f"the embedder {embedder.name!r} makes {embedder.dim}-d vectors; "
                f"collection {c.name!r} holds {c.dim}-d ones",
                "use the model the collection was made with",
            )
        return embedder

    @property
    def embedder(self) -> Embedder:
        """The collection's Embedder, loaded by its recorded name on first use."""
        if self._embedder is None:
            c = self.config
            if c.model is None:
                raise InputError(
                    f"collection {c.name!r} has no model, so it cannot embed texts",
                    "pass vectors= (and search with a vector), or create it with model=...",
                )

            source = c.extra.get("model_source", c.model)
            try:
                embedder = embedlab.load(source)
            except UnknownModelError:
                raise UnknownModelError(
                    f"collection {c.name!r} was made with the model {c.model!r}, "
                    "which cannot be loaded here",
                    "pass embedder=<the same model> to open_collection()",
                ) from None
            self._embedder = self._check_embedder(embedder)
        return self._embedder

    def _embed(self, texts: list[str], batch_size: int, *, queries: bool = False) -> np.ndarray:
        verb = self.embedder.embed_queries if queries else self.embedder.embed_documents
        return verb(texts, batch_size=batch_size, normalize=self.config.normalize)

    def _check_vectors(self, vectors: Any, model: str | None, count: int | None) -> np.ndarray:
        c = self.config
        if model is not None and c.model is not None and model != c.model:
            raise ModelMismatchError(
                f"these vectors come from {model!r}; collection {c.name!r} holds {c.model!r} ones",
                f"embed with {c.model!r}, or use a collection made for {model!r}",
            )
        try:
            array = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(
                "vectors must be a 2-D array of numbers", "pass a numpy array (n, dim)"
            ) from None
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != c.dim:
            got = array.shape[-1] if array.ndim else "scalar"
            raise DimensionMismatchError(
                f"vectors of dimension {got} do not fit collection {c.name!r} ({c.dim}-d, "
                f"model {c.model or 'none'})",
                "embed with the collection's model, or create a collection with that dimension",
            )
        if count is not None and len(array) != count:
            raise InputError(f"{len(array)} vectors for {count} items", "pass one vector per item")
        norms = np.sqrt(np.einsum("ij,ij->i", array, array))
        if not np.isfinite(norms).all():  # one NaN or infinity makes its row's norm one
            raise InputError("vectors contain NaN or infinity", "fix or drop those rows")
        if not c.normalize:
            return array
        return array / np.where(norms == 0, 1, norms)[:, None]

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        texts: Sequence[str] | str | None = None,
        *,
        ids: Sequence[str | int] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        vectors: Any = None,
        model: str | None = None,
        batch_size: int = 32,
        commit_every: int = 1_024,
        progress: bool = False,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Add new items; an id already present is an error (see :meth:`upsert`).

        Give ``texts`` (embedded here, in batches of ``batch_size``) and/or precomputed
        ``vectors`` (``model`` may name what made them, to be checked). Items are committed in
        chunks of ``commit_every``: each chunk is durable once written (``on_commit`` is then
        called with its ids, so a long ingest can record its progress), and when ``add``
        returns all are. Returns the ids (generated when not given).
        """
        return self._write(
            texts,
            ids,
            metadatas,
            vectors,
            model,
            batch_size,
            commit_every,
            progress,
            False,
            on_commit,
        )

    def upsert(
        self,
        texts: Sequence[str] | str | None = None,
        *,
        ids: Sequence[str | int] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        vectors: Any = None,
        model: str | None = None,
        batch_size: int = 32,
        commit_every: int = 1_024,
        progress: bool = False,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Add items, replacing (text, metadata and vector) any with the same id."""
        if ids is None:
            raise InputError("upsert needs ids", "pass ids=[...]; add() can generate them")
        return self._write(
            texts,
            ids,
            metadatas,
            vectors,
            model,
            batch_size,
            commit_every,
            progress,
            True,
            on_commit,
        )

    def _write(
        self,
        texts: Sequence[str] | str | None,
        ids: Sequence[str | int] | None,
        metadatas: Sequence[dict[str, Any] | None] | None,
        vectors: Any,
        model: str | None,
        batch_size: int,
        commit_every: int,
        progress: bool,
        upsert: bool,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> list[str]:

        if isinstance(texts, str):
            texts = [texts]
        if texts is None and vectors is None:
            raise InputError("nothing to add", "pass texts, vectors, or both")
        count = len(texts) if texts is not None else len(np.atleast_2d(vectors))
        if count == 0:
            return []
        if vectors is not None:
            vectors = self._check_vectors(vectors, model, count)
        elif model is not None and self.config.model is not None and model != self.config.model:
            self._check_vectors(np.zeros((1, self.dim)), model, None)
        text_list = _check_texts(texts, count, embedding=vectors is None)
        id_list = _check_ids(ids, count)
        meta_list = _check_metadatas(metadatas, count)
        if vectors is None:
            self.embedder  # noqa: B018 (fails early, before any write, when it cannot embed)
        if commit_every < 1:
            raise InputError(f"commit_every must be at least 1, got {commit_every}", "use 1024")
        label = f"adding to {self.name}"
        with progress_bar(label, count, enabled=progress) as advance:
            for start in range(0, count, commit_every):
                stop = min(start + commit_every, count)
                chunk = (
                    vectors[start:stop]
                    if vectors is not None
                    else self._embed(text_list[start:stop], batch_size)  # type: ignore[arg-type]
                )
                self._backend.write(
                    id_list[start:stop],
                    text_list[start:stop],
                    meta_list[start:stop],
                    chunk,
                    upsert=upsert,
                )
                advance(stop - start)
                if on_commit is not None:
                    on_commit(id_list[start:stop])
        self._backend.finish_write()
        return id_list

    def delete(self, ids: Sequence[str | int] | str | None = None, *, where: Any = None) -> int:
        """Delete items by id and/or metadata filter (both: ids that match); returns how many."""
        if isinstance(ids, str | int):
            ids = [ids]
        node = parse_filter(where)
        if ids is None and node is None:
            raise InputError(
                "delete needs ids or a filter",
                "pass ids=[...] or where={...}; to drop the whole collection use drop_collection()",
            )
        id_list = [str(i) for i in ids] if ids is not None else None
        return self._backend.delete(id_list, node)

    # -- reading ---------------------------------------------------------------------------------
    def count(self, where: Any = None) -> int:
        """How many items (matching ``where``, if given)."""
        return self._backend.count(parse_filter(where))

    def get(
        self, ids: Sequence[str | int] | str | int, *, include: Sequence[str] = INCLUDE_ALL
    ) -> Any:
        """Items by id: a list in the order asked (missing ids skipped), or for a single id the
        :class:`Record` or ``None``."""
        include = _check_include(include)
        if isinstance(ids, str | int):
            found = self._backend.get([str(ids)], include)
            return found[0] if found else None
        return self._backend.get([str(i) for i in ids], include)

    def __contains__(self, item_id: object) -> bool:
        return self.get(str(item_id), include=()) is not None

    def iter(
        self, batch_size: int = 1_000, include: Sequence[str] = INCLUDE_ALL
    ) -> Iterator[Record]:
        """Every item, streamed in batches (an export reads a collection this way)."""
        for batch in self._backend.iter_records(batch_size, _check_include(include)):
            yield from batch

    def __iter__(self) -> Iterator[Record]:
        return self.iter()

    # -- searching -------------------------------------------------------------------------------
    def _query_vectors(self, queries: Any, model: str | None, batch_size: int) -> np.ndarray:
        if isinstance(queries, str):
            queries = [queries]
        if len(queries) == 0:
            raise InputError("no queries to search with", "pass at least one text or vector")
        if isinstance(queries, list | tuple) and queries and isinstance(queries[0], str):
            texts = _check_texts(queries, len(queries), embedding=True)
            return self._embed(texts, batch_size, queries=True)  # type: ignore[arg-type]
        return self._check_vectors(queries, model, None)

    def _options(
        self,
        k: int,
        where: Any,
        include: Sequence[str],
        ef: int | None,
        rescore: int | None,
        exact: bool,
    ) -> SearchOptions:
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}", "use e.g. k=10")
        for value, what in ((ef, "ef"), (rescore, "rescore")):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"{what} must be a positive integer, got {value!r}", None)
        return SearchOptions(
            k=k,
            where=parse_filter(where),
            include=_check_include(include),
            ef=ef,
            rescore=rescore,
            exact=exact,
        )

    def search(
        self,
        query: str | Any,
        k: int = 10,
        *,
        where: Any = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        ef: int | None = None,
        rescore: int | None = None,
        exact: bool = False,
        model: str | None = None,
    ) -> list[Hit]:
        """The ``k`` nearest items to one query (a text, or a vector), best first.

        ``where`` is a metadata filter (see :mod:`embedlab.store.filters`); ``ef`` widens the
        HNSW walk (recall for speed), ``rescore`` sets how many candidates per result quantized
        storage rescores exactly, ``exact`` skips the approximate index.
        """
        if not isinstance(query, str):
            array = np.asarray(query, dtype=np.float32)
            if array.ndim != 1:
                raise InputError(
                    "search takes one query (a text or a 1-D vector)",
                    "use search_batch for several",
                )
        return self.search_batch(
            [query] if isinstance(query, str) else np.asarray(query)[None, :],
            k,
            where=where,
            include=include,
            ef=ef,
            rescore=rescore,
            exact=exact,
            model=model,
        )[0]

    def search_batch(
        self,
        queries: Sequence[str] | Any,
        k: int = 10,
        *,
        where: Any = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        ef: int | None = None,
        rescore: int | None = None,
        exact: bool = False,
        model: str | None = None,
        batch_size: int = 32,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries at once (texts or an ``(n, dim)`` array)."""
        options = self._options(k, where, include, ef, rescore, exact)
        vectors = self._query_vectors(queries, model, batch_size)
        return self._backend.search(vectors, options)

    def search_ids(
        self,
        queries: Sequence[str] | Any,
        k: int = 10,
        *,
        where: Any = None,
        ef: int | None = None,
        rescore: int | None = None,
        exact: bool = False,
        model: str | None = None,
        batch_size: int = 32,
    ) -> tuple[list[list[str]], np.ndarray]:
        """Ids (a list per query, best first) and scores (an ``(n, k)`` array, NaN where a
        query has fewer results): :meth:`search_batch` without building a :class:`Hit` per
        result, which is most of the cost around the index for bulk retrieval and evaluation."""
        options = self._options(k, where, (), ef, rescore, exact)
        return self._backend.search_ids(self._query_vectors(queries, model, batch_size), options)

    def keyword_search(
        self,
        query: str,
        k: int = 10,
        *,
        where: Any = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
    ) -> list[Hit]:
        """Keyword-only search: BM25 (local) or ts_rank full-text search (PostgreSQL)."""
        _check_texts([query], 1, embedding=True)
        ranked = self._backend.keyword_search(query, k, parse_filter(where))
        return self._with_details(ranked, _check_include(include))

    def hybrid_search(
        self,
        query: str,
        k: int = 10,
        *,
        where: Any = None,
        fusion: str = "rrf",
        weight: float = 0.5,
        candidates: int | None = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        ef: int | None = None,
    ) -> list[Hit]:
        """Keyword and dense search fused: ``fusion="rrf"`` (reciprocal rank fusion, the
        default: robust, needs no tuning) or ``"weighted"`` (``weight`` on the dense side of
        min-max scaled scores). Each side contributes its best ``candidates`` (default
        ``max(50, 5k)``). Scores are fused scores, higher is better."""
        if fusion not in FUSIONS:
            raise InputError(f"unknown fusion {fusion!r}", f"use one of {', '.join(FUSIONS)}")
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"weight must be between 0 and 1, got {weight}", "e.g. 0.5")
        n = candidates or max(50, 5 * k)
        options = self._options(n, where, (), ef, None, False)
        options.k = n
        dense_hits = self._backend.search(self._query_vectors(query, None, 32), options)[0]
        keyword = self._backend.keyword_search(query, n, options.where)
        if fusion == "rrf":
            fused = rrf([[h.id for h in dense_hits], [item for item, _ in keyword]])
        else:
            sign = 1.0 if self.config.higher_is_better else -1.0
            fused = weighted(
                {h.id: sign * h.score for h in dense_hits}, dict(keyword), weight=weight
            )
        return self._with_details(top(fused, k), _check_include(include))

    def _with_details(self, ranked: list[tuple[str, float]], include: Sequence[str]) -> list[Hit]:
        if not ranked:
            return []
        records = {}
        if include:
            records = {r.id: r for r in self._backend.get([i for i, _ in ranked], include)}
        hits = []
        for item_id, score in ranked:
            record = records.get(item_id)
            if include and record is None:
                continue  # deleted between the two steps
            hit = Hit(item_id, float(score))
            if record is not None:
                hit.text, hit.metadata, hit.vector = record.text, record.metadata, record.vector
            hits.append(hit)
        return hits

    # -- upkeep ----------------------------------------------------------------------------------
    def build_index(self, progress: bool = False) -> None:
        """Bring the approximate index up to date now (else the next search does it)."""
        self._backend.build_index(progress=progress)

    def compact(self) -> None:
        """Reclaim the space of deleted and replaced items (local backend; a no-op elsewhere)."""
        compact = getattr(self._backend, "compact", None)
        if compact is not None:
            compact()

    def verify(self) -> dict[str, Any]:
        """Check that stored rows, vectors and index agree (raises if they do not)."""
        verify = getattr(self._backend, "verify", None)
        return verify() if verify is not None else {"rows": self.count()}

    def info(self) -> dict[str, Any]:
        """Binding, counts, index state and memory per vector for every storage type."""

        c = self.config
        out = {
            "name": c.name,
            "model": c.model,
            "dim": c.dim,
            "metric": c.metric,
            "normalize": c.normalize,
            "storage": c.storage,
            "index_setting": c.index,
            "hnsw": {"m": c.m, "ef_construction": c.ef_construction, "ef_search": c.ef_search},
            "rescore": c.rescore_factor,
            "bytes_per_vector": bytes_per_vector(c.storage, c.dim),
            "bytes_per_vector_by_storage": {s: bytes_per_vector(s, c.dim) for s in STORAGES},
            "full_precision_on_disk_bytes_per_vector": 4 * c.dim,
        }
        out.update(self._backend.info())
        return out


# -- argument checks -------------------------------------------------------------------------------
def _check_texts(texts: Any, count: int, *, embedding: bool) -> list[str | None]:
    if texts is None:
        return [None] * count
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    texts = list(texts)
    if len(texts) != count:
        raise InputError(f"{len(texts)} texts for {count} vectors", "pass one text per vector")
    for i, text in enumerate(texts):
        if text is None and not embedding:
            continue
        if not isinstance(text, str):
            raise InputError(
                f"text {i} is a {type(text).__name__}, not a string", "convert it to str"
            )
        if embedding and not text.strip():
            raise InputError(f"text {i} is empty", "remove empty texts, or pass its vector")
    return texts


def _check_ids(ids: Iterable[str | int] | None, count: int) -> list[str]:
    if ids is None:
        return [uuid.uuid4().hex for _ in range(count)]
    if isinstance(ids, str | int):
        ids = [ids]
    out = []
    for i, item in enumerate(ids):
        if isinstance(item, bool) or not isinstance(item, str | int | np.integer):
            raise InputError(
                f"id {i} is a {type(item).__name__}", "ids are strings (integers are converted)"
            )
        text = str(item)
        if not text:
            raise InputError(f"id {i} is empty", "give every item a non-empty id")
        out.append(text)
    if len(out) != count:
        raise InputError(f"{len(out)} ids for {count} items", "pass one id per item")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dupes = [i for i in out if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        raise DuplicateIdError(
            f"the id {dupes[0]!r} appears more than once in this batch",
            "give every item its own id",
        )
    return out


def _check_metadatas(metadatas: Sequence[dict[str, Any] | None] | None, count: int) -> list[dict]:
    if metadatas is None:
        return [{} for _ in range(count)]
    if isinstance(metadatas, dict):
        metadatas = [metadatas]
    metadatas = list(metadatas)
    if len(metadatas) != count:
        raise InputError(f"{len(metadatas)} metadata dicts for {count} items", "pass one per item")
    out = []
    for i, meta in enumerate(metadatas):
        meta = {} if meta is None else meta
        if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
            raise InputError(
                f"metadata {i} is not a dict with string keys", 'pass e.g. {"year": 2024}'
            )
        meta = _plain_json(meta)
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"metadata {i} is not JSON ({exc})",
                "use strings, numbers, booleans, null, lists and dicts (no NaN)",
            ) from None
        out.append(meta)
    return out


def _plain_json(value: Any) -> Any:
    """numpy scalars and tuples become plain JSON types, so every backend stores the same."""
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("metadata contains NaN or infinity", "JSON cannot hold them")
    return value


def _check_include(include: Sequence[str]) -> tuple[str, ...]:
    if isinstance(include, str):
        include = (include,)
    bad = [i for i in include if i not in INCLUDE_ALL]
    if bad:
        raise InputError(
            f"cannot include {', '.join(map(repr, bad))}",
            f"include any of {', '.join(INCLUDE_ALL)}",
        )
    return tuple(include)


__all__ = [
    "Collection",
    "DuplicateIdError",
    "UnknownCollectionError",
    "create_collection",
    "drop_collection",
    "list_collections",
    "open_collection",
    "register_backend",
]
