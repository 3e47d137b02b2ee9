"""BM25 keyword scoring for the local backend, with bm25s (sparse, numpy, well kept).

The index is built over the live texts of a collection and answers full score vectors, so a
metadata filter is a mask and the top-k is one ``argpartition``. bm25s cannot add documents to an
index, so the local backend rebuilds it after writes, lazily, at the next keyword search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STOPWORDS = "en"


def _tokenize(texts: list[str]) -> Any:
    import bm25s

    return bm25s.tokenize(texts, stopwords=STOPWORDS, show_progress=False)


class KeywordIndex:
    """BM25 over ``texts``; ``slots[i]`` is the row slot of ``texts[i]``."""

    def __init__(self, slots: np.ndarray, texts: list[str]) -> None:
        import bm25s

        self.slots = np.asarray(slots, dtype=np.int64)
        self.retriever = bm25s.BM25()
        tokens = _tokenize(texts) if texts else None
        self.vocab: dict[str, int] = tokens.vocab if tokens is not None else {}
        if tokens is not None:
            self.retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.slots)

    def search(
        self, query: str, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Slots and BM25 scores of the best ``n`` texts with a positive score, best first.

        ``allowed`` is a boolean mask over slots (live rows passing the filter).
        """
        import bm25s

        empty = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if len(self.slots) == 0:
            return empty
        words = bm25s.tokenize([query], stopwords=STOPWORDS, return_ids=False, show_progress=False)
        known = [w for w in words[0] if w in self.vocab]
        if not known:
            return empty
        scores = np.asarray(self.retriever.get_scores(known), dtype=np.float32)
        if allowed is not None:
            scores = np.where(allowed[self.slots], scores, 0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > n:
            hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return self.slots[hits], scores[hits]
