"""Prepared inputs and how they are cut into model calls: sorted by length, within a token budget.

Why: sorting keeps padding small, and the budget keeps batches of long texts small enough to
stay in cache; shared by the transformer embedder and the packaged ONNX models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Most padded tokens per batch. With the default batch_size of 32 it binds only for texts over
# 256 tokens, keeping their batches small; for short sentences batches of 16-32 ran fastest here
# (128 were 15% slower), so the row limit, not the budget, decides.
DEFAULT_TOKEN_BUDGET = 8192


@dataclass(frozen=True)
class Encoded:
    """Texts after :meth:`TransformerEmbedder.prepare`: the model's inputs, unpadded, and lengths.

    The hand-over between the stages of :meth:`~TransformerEmbedder.embed`, public so that a
    server can run them apart (as infinity does): tokenise requests as they arrive while the
    model runs the last batch, then merge requests (:meth:`concat`) and batch them by length.
    """

    features: dict[str, list[list[int]]]  # model input name -> one id list per input
    lengths: list[int]  # tokens per input, special tokens included

    def __len__(self) -> int:
        return len(self.lengths)

    def slice(self, start: int, stop: int) -> Encoded:
        """Inputs ``start:stop``, e.g. to split a request too large for one batch."""
        features = {name: rows[start:stop] for name, rows in self.features.items()}
        return Encoded(features, self.lengths[start:stop])

    @staticmethod
    def concat(parts: Sequence[Encoded]) -> Encoded:
        """Several prepared requests as one, in order (one part is returned as it is)."""
        if len(parts) == 1:
            return parts[0]
        features = {
            name: [row for part in parts for row in part.features[name]]
            for name in parts[0].features
        }
        return Encoded(features, [n for part in parts for n in part.lengths])


def batches_by_budget(
    lengths: Sequence[int] | np.ndarray, batch_size: int, token_budget: int
) -> list[np.ndarray]:
    """Row indices, longest first, in batches of at most ``batch_size`` rows and ``token_budget``
    padded tokens: sorting keeps padding small, the budget keeps long-text batches in cache."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    out = []
    start = 0
    while start < len(order):
        width = max(int(lengths[order[start]]), 1)
        rows = max(1, min(batch_size, token_budget // width))
        out.append(order[start : start + rows])
        start += rows
    return out
