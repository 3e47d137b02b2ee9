"""Creating, opening, listing, dropping and repairing collections: the backend factory.

The location says which backend (as txtai picks its ANN backends by name): a folder is the
embedded local backend, a ``postgresql://`` DSN the pgvector one, and :func:`register_backend`
adds others. Backends are imported only when a location needs them, so ``import embedlab.store``
loads neither faiss nor psycopg.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Sequence
from typing import Any

import embedlab
from embedlab import catalogue
from embedlab.embedders.base import Embedder
from embedlab.errors import InputError
from embedlab.store.backend import StorageBackend
from embedlab.store.collection import Collection
from embedlab.store.config import CollectionConfig, check_name
from embedlab.store.errors import DimensionMismatchError, ModelMismatchError

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


def _backend_class(name: str) -> type[StorageBackend]:
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
        coll_name = klass.default_name(where)
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


def repair_collection(
    location: str | os.PathLike[str],
    name: str | None = None,
    *,
    embedder: Embedder | str | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Open a collection and :meth:`Collection.repair` it; returns what was done. Unlike
    :func:`open_collection`, an unreadable manifest is rebuilt from the database's copy."""
    klass, where, coll_name = _resolve(location, name, backend)
    with Collection(klass.open_for_repair(where, coll_name), embedder) as collection:
        return collection.repair()


# ``Collection.create`` / ``Collection.open`` are the factory functions too.
Collection.create = staticmethod(create_collection)  # type: ignore[attr-defined]
Collection.open = staticmethod(open_collection)  # type: ignore[attr-defined]

__all__ = [
    "backend_names",
    "create_collection",
    "drop_collection",
    "list_collections",
    "open_collection",
    "register_backend",
    "repair_collection",
    "split_location",
]
