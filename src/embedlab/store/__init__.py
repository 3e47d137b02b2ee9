"""The embeddings database: collections of ids, texts, metadata and vectors, searchable.

A collection is bound to the Embedder that made its vectors. It lives in a folder (the embedded
default backend: SQLite + memory-mapped vectors + a faiss index, nothing to start) or in
PostgreSQL with pgvector (a ``postgresql://`` DSN); the API is the same::

    from embedlab.store import create_collection, open_collection

    docs = create_collection("data/docs", model="minilm", storage="int8")
    docs.add(texts, metadatas=[{"year": 2024, "lang": "en"}, ...])
    docs.search("query", k=10, where={"year": {"$gte": 2020}, "lang": {"$in": ["en", "fr"]}})
    docs.hybrid_search("query", k=10)            # BM25 / full-text fused with dense, RRF

Heavy libraries (faiss, bm25s, psycopg) are imported only when a backend needs them.
"""

from __future__ import annotations

from embedlab.store.backend import Hit, Record
from embedlab.store.collection import Collection
from embedlab.store.config import METRICS, STORAGES, CollectionConfig, bytes_per_vector
from embedlab.store.errors import (
    CollectionExistsError,
    CollectionLockedError,
    CorruptCollectionError,
    DimensionMismatchError,
    DuplicateIdError,
    FilterError,
    ModelMismatchError,
    StoreConnectionError,
    StoreError,
    UnknownCollectionError,
    UnsupportedError,
)
from embedlab.store.factory import (
    create_collection,
    drop_collection,
    list_collections,
    open_collection,
    register_backend,
    repair_collection,
)
from embedlab.store.filters import parse_filter
from embedlab.store.pgserver import postgres_dsn, start_postgres

__all__ = [
    "METRICS",
    "STORAGES",
    "Collection",
    "CollectionConfig",
    "CollectionExistsError",
    "CollectionLockedError",
    "CorruptCollectionError",
    "DimensionMismatchError",
    "DuplicateIdError",
    "FilterError",
    "Hit",
    "ModelMismatchError",
    "Record",
    "StoreConnectionError",
    "StoreError",
    "UnknownCollectionError",
    "UnsupportedError",
    "bytes_per_vector",
    "create_collection",
    "drop_collection",
    "list_collections",
    "open_collection",
    "parse_filter",
    "postgres_dsn",
    "register_backend",
    "repair_collection",
    "start_postgres",
]
