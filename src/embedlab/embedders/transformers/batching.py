"""Prepared inputs and how they are cut into model calls: sorted by length, cut where it costs least.

Why: sorting keeps padding small, cutting by cost keeps a long text from padding short ones
beside it, and the budget keeps batches of long texts small enough to stay in cache; shared by
the transformer embedder and the packaged ONNX models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Most padded tokens per batch. With the default batch_size of 32 it binds only for texts over
# 256 tokens, keeping their batches small; for short sentences batches of 16-32 ran fastest here
# (128 were 15% slower), so the row limit, not the budget, decides.
DEFAULT_TOKEN_BUDGET = 8192
# What a model call costs besides its tokens, in tokens. Timed by hand first (OpenVINO bf16 MiniLM,
# AMX CPU: one sentence cost about as much as 32 more tokens), then chosen by the benchmarks: 96
# served more in `bench/serve.py --texts stsb` at concurrency 64 (1,359 requests/s against 1,298
# with 32) and did as well or better in every case of bench/batch_plan.py (both results files
# keep both runs): padding rows and, in a server, taking the GIL back after a call cost too.
CALL_OVERHEAD_TOKENS = 96.0
# A padded token costs 1 + width / (hidden_size * ATTENTION_SHARE) tokens of a short sequence:
# in bench/batch_plan.py's "before" plans, (32, 256) calls cost MiniLM (hidden size 384) about
# 66 us a token, sorted calls of about 11 tokens 37.
ATTENTION_SHARE = 0.6
DEFAULT_HIDDEN_SIZE = 384


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


def batches_by_cost(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    token_budget: int,
    *,
    hidden_size: int | None = None,
) -> list[np.ndarray]:
    """Row indices, longest first, in the model calls that cost least: at most ``batch_size``
    rows and ``token_budget`` padded tokens a call, the rows sorted by length and cut where a new
    call costs less than padding the next rows to the current width.

    Why not simply every ``batch_size`` rows: a call's rows are padded to its longest, so one long
    text among short ones made them all long (31 sentences of 12-19 tokens beside one of 256
    tokens: one (32, 256) call took 598 ms of CPU, a (1, 256) and a (31, 19) call 40 ms;
    bench/batch_plan.py). The cost of a call, in tokens, is :data:`CALL_OVERHEAD_TOKENS` plus
    each padded token weighted by ``1 + width / (hidden_size * ATTENTION_SHARE)`` (attention
    grows with the width); exact minimum over all cuts of the sorted rows (dynamic programming,
    at most ``batch_size`` steps a row).
    """
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    widths = np.maximum(lengths[order], 1).tolist()
    span = (hidden_size or DEFAULT_HIDDEN_SIZE) * ATTENTION_SHARE
    n = len(widths)
    best = [0.0] * (n + 1)  # least cost of the first i sorted rows
    first = [0] * (n + 1)  # where the last call of that plan starts
    for i in range(1, n + 1):
        cost, start = float("inf"), i - 1
        for j in range(i - 1, max(0, i - batch_size) - 1, -1):  # last call = rows j..i-1
            width, rows = widths[j], i - j
            if rows > 1 and rows * width > token_budget:
                break  # going further back only adds rows and width
            here = best[j] + CALL_OVERHEAD_TOKENS + rows * width * (1.0 + width / span)
            if here < cost:
                cost, start = here, j
        best[i], first[i] = cost, start
    calls = []
    i = n
    while i > 0:
        calls.append(order[first[i] : i])
        i = first[i]
    return calls[::-1]
