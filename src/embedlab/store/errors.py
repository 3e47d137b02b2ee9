"""Errors of the embeddings database; each says what is wrong and what to do about it."""

from __future__ import annotations

from embedlab.errors import EmbedlabError, InputError, OutputError


class StoreError(EmbedlabError):
    """Base of the collection errors, so callers can catch the database's problems at once."""


class UnknownCollectionError(StoreError, KeyError):
    """No collection of that name or at that folder (a KeyError too, like a missing key)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class CollectionExistsError(StoreError, OutputError):
    """Creating a collection where one already is."""


class DimensionMismatchError(StoreError, InputError):
    """Vectors whose length is not the collection's dimension."""


class ModelMismatchError(StoreError, InputError):
    """Vectors or an embedder from another model than the one the collection is bound to."""


class DuplicateIdError(StoreError, InputError):
    """``add`` with ids already present (``upsert`` replaces them instead)."""


class FilterError(StoreError, InputError):
    """A metadata filter that does not follow the filter syntax."""


class StoreConnectionError(StoreError):
    """A database server that cannot be reached or used (bad DSN, server down, no pgvector)."""


class CollectionLockedError(StoreError):
    """Another process holds the collection's write lock for longer than we wait."""


class CorruptCollectionError(StoreError):
    """A collection folder whose files are missing or inconsistent beyond automatic repair."""


class UnsupportedError(StoreError, InputError):
    """An option a backend cannot honour (e.g. int8 storage in pgvector)."""
