"""Near-duplicates, paraphrases and FAQ matching.

``find_duplicates`` compares vectors tile by tile (``block`` x ``block`` cosine blocks), so memory
is O(block²) whatever the collection size: an n x n similarity matrix is never built.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.errors import InputError


def check_threshold(threshold: float) -> float:
    """A cosine threshold: a number from -1 to 1 (FAQ matching and duplicates alike)."""
    if not isinstance(threshold, (int, float)) or not -1.0 <= threshold <= 1.0:
        raise InputError(
            f"threshold must be a cosine between -1 and 1, got {threshold}", "e.g. 0.9"
        )
    return float(threshold)


def find_duplicates(
    vectors: np.ndarray, threshold: float = 0.9, *, block: int = 2048
) -> Iterator[tuple[int, int, float]]:
    """Yield ``(i, j, cosine)`` with ``i < j`` for every pair at or above ``threshold``."""
    threshold = check_threshold(threshold)
    unit = l2_normalize(np.asarray(vectors, dtype=np.float32))
    n = len(unit)
    for start in range(0, n, block):
        rows = unit[start : start + block]
        for other in range(start, n, block):
            sims = rows @ unit[other : other + block].T
            if other == start:
                sims = np.triu(sims, k=1) + np.tril(np.full_like(sims, -2.0))
            for a, b in zip(*np.nonzero(sims >= threshold), strict=True):
                yield start + int(a), other + int(b), float(sims[a, b])


class FAQMatcher:
    """Maps an incoming question to the closest known question, or to nothing below a threshold."""

    def __init__(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        model: Embedder,
        threshold: float = 0.6,
    ):
        threshold = check_threshold(threshold)
        if len(questions) != len(answers) or not questions:
            raise InputError(
                "an FAQ needs one answer per question, and at least one", "check the FAQ file"
            )
        self.questions, self.answers, self.model, self.threshold = (
            list(questions),
            list(answers),
            model,
            threshold,
        )
        if model.trainable and not model.is_fitted:
            model.fit(self.questions)
        # Question against question is symmetric: both sides are embedded as queries.
        self.vectors = l2_normalize(model.embed_queries(self.questions))

    def match(self, question: str) -> dict[str, object]:
        """The best known question, its answer and score; ``matched`` is False below the threshold."""
        scores = self.vectors @ l2_normalize(self.model.embed_queries([question]))[0]
        best = int(np.argmax(scores))
        return {
            "matched": bool(scores[best] >= self.threshold),
            "question": self.questions[best],
            "answer": self.answers[best] if scores[best] >= self.threshold else None,
            "score": float(scores[best]),
        }
