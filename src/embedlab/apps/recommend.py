"""Recommendations from embeddings: "more like this" and user profiles, never re-recommending seen items.

A profile is the weighted mean of the unit vectors of liked items minus ``dislike_weight`` times
the mean of disliked ones, so disliked directions are pushed away rather than ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.errors import InputError


class Recommender:
    """Items (ids + vectors); ``similar`` for item-to-item, ``for_profile`` for a user."""

    def __init__(
        self, ids: Sequence[Any], vectors: np.ndarray, texts: Sequence[str] | None = None
    ) -> None:
        if len(ids) != len(vectors):
            raise InputError(f"{len(ids)} ids but {len(vectors)} vectors", "give one id per vector")
        if len(set(ids)) != len(ids):
            raise InputError("item ids must be unique", "deduplicate the ids")
        self.ids = list(ids)
        self.texts = list(texts) if texts is not None else None
        self.vectors = l2_normalize(np.asarray(vectors, dtype=np.float32))
        self._row = {item: i for i, item in enumerate(self.ids)}

    @classmethod
    def from_texts(cls, ids: Sequence[Any], texts: Sequence[str], model: Embedder) -> Recommender:
        if model.trainable and not model.is_fitted:
            model.fit(list(texts))
        return cls(ids, model.embed(list(texts)), texts)

    def _rows(self, items: Iterable[Any]) -> list[int]:
        rows = []
        for item in items:
            if item not in self._row:
                raise InputError(f"unknown item {item!r}", "use an id given to the recommender")
            rows.append(self._row[item])
        return rows

    def _rank(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[Any, float]]:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a whole number of at least 1, got {k!r}", "e.g. k=5")
        scores = self.vectors @ l2_normalize(query[None])[0]
        if exclude:
            scores[list(exclude)] = -np.inf
        order = np.argsort(-scores, kind="stable")[: min(k, len(self.ids) - len(exclude))]
        return [(self.ids[i], float(scores[i])) for i in order]

    def similar(
        self, item: Any, k: int = 5, *, exclude: Iterable[Any] = ()
    ) -> list[tuple[Any, float]]:
        """Items most like ``item`` (never the item itself, nor ``exclude``)."""
        rows = set(self._rows([item, *exclude]))
        return self._rank(self.vectors[self._row[item]], k, rows)

    def for_profile(
        self,
        liked: Mapping[Any, float] | Sequence[Any],
        disliked: Sequence[Any] = (),
        k: int = 5,
        *,
        dislike_weight: float = 0.5,
        exclude_seen: bool = True,
        seen: Iterable[Any] = (),
    ) -> list[tuple[Any, float]]:
        """Items for a user who liked (optionally weighted) and disliked the given items."""
        weights = dict(liked) if isinstance(liked, Mapping) else {item: 1.0 for item in liked}
        if not weights:
            raise InputError("a profile needs at least one liked item", "pass liked=[item id, ...]")
        liked_rows = self._rows(weights)
        w = np.array([weights[self.ids[r]] for r in liked_rows], dtype=np.float32)
        profile = (self.vectors[liked_rows] * w[:, None]).sum(axis=0) / w.sum()
        disliked_rows = self._rows(disliked)
        if disliked_rows:
            profile = profile - dislike_weight * self.vectors[disliked_rows].mean(axis=0)
        exclude = (
            set(liked_rows) | set(disliked_rows) | set(self._rows(seen)) if exclude_seen else set()
        )
        return self._rank(profile, k, exclude)
