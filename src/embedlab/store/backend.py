"""What a storage backend provides, and the records it returns.

A backend stores ids, texts, JSON metadata and vectors that the :class:`Collection` has already
checked, embedded and normalised; it searches with vectors and keywords. Keeping embedding and
validation out of backends means a new backend (another database) is only storage and search.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from embedlab.errors import InputError
from embedlab.store.config import CollectionConfig
from embedlab.store.filters import Node

INCLUDE_ALL = ("text", "metadata", "vector")
DEFAULT_INCLUDE = ("text", "metadata")


@dataclass
class Record:
    """One stored item. ``vector`` is filled only when asked for (``include=("vector",)``)."""

    id: str
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "metadata": self.metadata}
        if self.vector is not None:
            out["vector"] = self.vector.tolist()
        return out


@dataclass(slots=True)
class Hit:
    """One search result: ``score`` is a similarity (cosine, dot; higher is better), an L2
    distance (lower is better), or a fused hybrid score (higher is better)."""

    id: str
    score: float
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "score": self.score,
            "text": self.text,
            "metadata": self.metadata,
        }
        if self.vector is not None:
            out["vector"] = self.vector.tolist()
        return out


@dataclass
class SearchOptions:
    """Knobs of one vector search. ``ef`` and ``rescore`` default to the collection's."""

    k: int = 10
    where: Node | None = None
    include: Sequence[str] = DEFAULT_INCLUDE
    ef: int | None = None
    rescore: int | None = None
    exact: bool = False


class StorageBackend(ABC):
    """Storage and search for one collection. Subclasses: local folder, PostgreSQL."""

    kind: ClassVar[str] = ""
    config: CollectionConfig
    location: str

    @classmethod
    @abstractmethod
    def create(cls, location: str, config: CollectionConfig, *, exist_ok: bool) -> StorageBackend:
        """Create the collection (``exist_ok``: open it instead when it exists)."""

    @classmethod
    @abstractmethod
    def open(cls, location: str, name: str | None) -> StorageBackend:
        """Open an existing collection; :class:`UnknownCollectionError` when there is none."""

    @classmethod
    def open_for_repair(cls, location: str, name: str | None) -> StorageBackend:
        """:meth:`open`, fixing first what would stop it opening, where a backend can."""
        return cls.open(location, name)

    @classmethod
    def default_name(cls, location: str) -> str:
        """The collection's name when none is given: only a folder can supply one."""
        raise InputError(
            "a collection name is needed for a database location",
            f"pass name=..., or append #name to the URL ({location}#docs)",
        )

    @classmethod
    @abstractmethod
    def list_names(cls, location: str) -> list[str]:
        """Names of the collections at ``location``."""

    @classmethod
    @abstractmethod
    def drop(cls, location: str, name: str | None) -> None:
        """Delete a whole collection."""

    @abstractmethod
    def write(
        self,
        ids: list[str],
        texts: list[str | None],
        metadatas: list[dict[str, Any]],
        vectors: np.ndarray,
        *,
        upsert: bool,
    ) -> None:
        """Store one batch durably and atomically; when it returns, the batch survives a crash."""

    @abstractmethod
    def delete(self, ids: Sequence[str] | None, where: Node | None) -> int:
        """Delete by ids and/or filter; returns how many items went."""

    @abstractmethod
    def get(self, ids: Sequence[str], include: Sequence[str]) -> list[Record]:
        """The items with these ids, in that order; missing ids are skipped."""

    @abstractmethod
    def count(self, where: Node | None = None) -> int: ...

    @abstractmethod
    def search(self, queries: np.ndarray, options: SearchOptions) -> list[list[Hit]]:
        """Top-k per query row (already normalised as the collection wants)."""

    def search_ids(
        self, queries: np.ndarray, options: SearchOptions
    ) -> tuple[list[list[str]], np.ndarray]:
        """Ids per query and an ``(m, k)`` score array (NaN where fewer): no result objects."""
        found = self.search(queries, options)
        scores = np.full((len(found), options.k), np.nan, dtype=np.float32)
        for i, hits in enumerate(found):
            scores[i, : len(hits)] = [h.score for h in hits]
        return [[h.id for h in hits] for hits in found], scores

    @abstractmethod
    def keyword_search(self, query: str, n: int, where: Node | None) -> list[tuple[str, float]]:
        """Best ``n`` ids for a keyword query with their keyword scores (positive only)."""

    @abstractmethod
    def iter_records(self, batch_size: int, include: Sequence[str]) -> Iterator[list[Record]]:
        """Every item, in batches, for export."""

    @abstractmethod
    def page(
        self, offset: int, limit: int, where: Node | None, include: Sequence[str]
    ) -> list[Record]:
        """Items ``offset`` to ``offset + limit`` (of those matching ``where``) in the order
        :meth:`iter_records` gives, found by the database rather than by reading the items
        before them."""

    @abstractmethod
    def build_index(self, progress: bool = False) -> None:
        """Bring the approximate index up to date now rather than at the next search."""

    @abstractmethod
    def info(self) -> dict[str, Any]: ...

    def verify(self) -> dict[str, Any]:
        """Check that what is stored agrees; :class:`CorruptCollectionError` if not."""
        return {"rows": self.count()}

    def repair(self, embed: Callable[[list[str]], np.ndarray] | None = None) -> dict[str, Any]:
        """Rebuild what can be rebuilt (``embed`` re-embeds stored texts), quarantine the rest."""
        return {"actions": ["nothing to repair: the database keeps its own integrity"],
                "verify": self.verify()}  # fmt: skip

    def finish_write(self) -> None:  # noqa: B027 (optional hook)
        """Called once after a whole ``add``/``upsert`` (all chunks): a place for bulk work."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release files, locks and connections."""
