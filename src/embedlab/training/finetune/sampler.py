"""Batches of rows of similar length, with no text twice in a batch (for in-batch negatives).

On a CPU the cost of a step is the padded length of each column times the batch size: with
WordNet's short texts (8-11 tokens on average, some over 60) a random batch is mostly padding
(3,977 padded tokens a step for 1,586 real ones). Rows are shuffled, cut into mega-batches of
``MEGA`` batches, sorted by length inside each, and the batches are shuffled again, so a batch
holds rows of similar length but the order of batches stays random (transformers'
``group_by_length`` idea). Within a mega-batch the batches are filled as sentence-transformers'
no-duplicates sampler fills them: a row whose text is already in the batch waits for the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from embedlab.extras import require

MEGA = 50  # batches per mega-batch: enough to sort, few enough to stay random


def length_grouped_sampler(dataset: Any, batch_size: int, drop_last: bool, **kw: Any) -> Any:
    """The sampler for ``SentenceTransformerTrainingArguments(batch_sampler=...)``: a function
    at module level, since the trainer pickles its arguments into every checkpoint."""
    return _sampler_class()(dataset, batch_size=batch_size, drop_last=drop_last, **kw)


@cache
def _sampler_class() -> Callable[..., Any]:
    require("sentence_transformers", "transformers")
    torch = require("torch", "transformers")
    from sentence_transformers.base.sampler import DefaultBatchSampler

    class LengthGroupedNoDuplicates(DefaultBatchSampler):
        def __init__(self, dataset: Any, batch_size: int, drop_last: bool, **kw: Any) -> None:
            super().__init__(dataset, batch_size=batch_size, drop_last=drop_last, **kw)
            columns = [c for c in dataset.column_names if c not in ("score", "label")]
            rows = zip(*(dataset[c] for c in columns), strict=True)
            self.values = [frozenset(map(str, row)) for row in rows]
            self.lengths = [sum(len(v) for v in row) for row in self.values]

        def __iter__(self) -> Iterator[list[int]]:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(self.values), generator=generator).tolist()
            size = self.batch_size * MEGA
            waiting: list[int] = []
            for start in range(0, len(order), size):
                chunk = waiting + order[start : start + size]
                batches, waiting = group(chunk, self.lengths, self.values, self.batch_size)
                shuffled = torch.randperm(len(batches), generator=generator).tolist()
                yield from (batches[i] for i in shuffled)
            if waiting and not self.drop_last:
                yield waiting[: self.batch_size]

        def __len__(self) -> int:
            n = len(self.values)
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    return LengthGroupedNoDuplicates


def group(
    rows: list[int], lengths: list[int], values: list[frozenset[str]], batch_size: int
) -> tuple[list[list[int]], list[int]]:
    """Full batches of rows sorted by length, no text twice in one; and the rows left over."""
    batches: list[list[int]] = []
    pending = sorted(rows, key=lambda i: lengths[i])
    while len(pending) >= batch_size:
        batch: list[int] = []
        seen: set[str] = set()
        rest: list[int] = []
        for i in pending:
            if len(batch) < batch_size and seen.isdisjoint(values[i]):
                batch.append(i)
                seen |= values[i]
            else:
                rest.append(i)
        if len(batch) < batch_size:
            return batches, pending
        batches.append(batch)
        pending = rest
    return batches, pending
