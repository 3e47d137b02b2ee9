"""A deep averaging network (the Universal Sentence Encoder's DAN), taught by a transformer.

Token and hashed-bigram embeddings are averaged, then feed-forward layers (ReLU) map the mean to
the teacher's space, beside a linear shortcut from the mean (so the network starts as a linear
static model, fitted by least squares, and its layers learn what the mean alone misses).
Inference is numpy and scipy (one sparse product for the means, a few matrix products), faster than torch for
networks this small on one thread; training builds the same network in torch
(:meth:`DANEmbedder.torch_net`) and reads its weights back under the same names.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

from embedlab.checks import threads, whole
from embedlab.embedders.base import TokenEmbeddings
from embedlab.embedders.options import LOAD, Option, declare
from embedlab.embedders.sentence.student import STUDENT_OPTIONS, StudentEmbedder
from embedlab.embedders.sentence.tokens import Flat, weighted_bags
from embedlab.errors import ModelFormatError
from embedlab.extras import require
from embedlab.threads import resolve_threads

BIGRAM_PRIME = 1_000_003


def bag_items(flat: Flat, vocab: int, buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row ids, bag starts, weights) of each text's tokens and hashed bigrams, averaged.

    Bigram ``(a, b)`` of a text is row ``vocab + (a * p + b) % buckets``; each item weighs
    1 / items in its text, so a weighted sum is the mean.
    """
    lengths = flat.lengths
    if buckets:
        first = np.ones(len(flat.ids), dtype=bool)
        first[flat.starts[:-1]] = False  # a bigram ends at every id but a text's first
        ends = np.flatnonzero(first)
        bigrams = vocab + (flat.ids[ends - 1] * BIGRAM_PRIME + flat.ids[ends]) % buckets
        counts = lengths + np.maximum(lengths - 1, 0)
        owner = np.repeat(np.arange(len(flat)), lengths)
        order = np.argsort(np.concatenate([owner, owner[ends]]), kind="stable")
        ids = np.concatenate([flat.ids, bigrams])[order]
    else:
        counts, ids = lengths, flat.ids
    starts = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    weights = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
    return ids, starts, weights


@functools.cache
def _blas() -> Any:
    """threadpoolctl's controller of numpy's BLAS, if threadpoolctl is installed."""
    try:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
    except ImportError:
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """numpy's BLAS on ``count`` threads: its default (every core) is many times slower for
    these small products on a shared machine (measured: 47 ms against 4 ms a batch of 32)."""
    controller = _blas()
    if controller is None:
        yield
        return
    with controller.limit(limits=count, user_api="blas"):
        yield


@functools.cache
def _net_class() -> type:
    torch = require("torch", "train")
    nn = torch.nn

    class DAN(nn.Module):  # type: ignore[name-defined]
        """EmbeddingBag (tokens, then bigram buckets) -> [Linear, ReLU] x layers -> Linear,
        plus a linear shortcut from the mean to the output (the static model's path)."""

        def __init__(self, rows: int, dim: int, hidden: int, layers: int, out: int) -> None:
            super().__init__()
            self.bag = nn.EmbeddingBag(rows, dim, mode="sum")
            sizes = [dim] + [hidden] * layers
            self.hidden = nn.ModuleList(
                nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False)
            )
            self.output = nn.Linear(sizes[-1], out)
            self.shortcut = nn.Linear(dim, out, bias=False)

        def forward(self, ids: Any, starts: Any, weights: Any) -> Any:
            mean = x = self.bag(ids, starts, per_sample_weights=weights)
            for layer in self.hidden:
                x = torch.relu(layer(x))
            return self.output(x) + self.shortcut(mean)

    return DAN


class DANEmbedder(StudentEmbedder):
    """Deep averaging network student: mean of token (+ bigram) vectors, then an MLP.

    Options (fixed once trained): ``dim`` (embedding size), ``hidden`` and ``layers`` (the
    feed-forward part), ``bigram_buckets`` (hashed bigram rows; 0: tokens only),
    ``output_dim`` (the teacher's), ``max_tokens``; ``normalize`` (L2, may change).
    """

    method = "dan"
    options = declare(
        Option("dim", 256, check=whole(1)),
        Option("hidden", 512, check=whole(1)),
        Option("layers", 2, check=whole(0)),
        Option("bigram_buckets", 32768, check=whole(0)),
        STUDENT_OPTIONS,
        Option("threads", None, when=LOAD, check=threads, omit_default=True),
    )

    def __init__(
        self,
        dim: int = 256,
        hidden: int = 512,
        layers: int = 2,
        bigram_buckets: int = 32768,
        output_dim: int = 384,
        max_tokens: int = 128,
        normalize: bool = True,
        threads: int | None = None,
    ) -> None:
        super().__init__(
            dim=dim,
            hidden=hidden,
            layers=layers,
            bigram_buckets=bigram_buckets,
            output_dim=output_dim,
            max_tokens=max_tokens,
            normalize=normalize,
            threads=threads,
        )
        self._dense: list[tuple[np.ndarray, np.ndarray]] = []
        self._shortcut: np.ndarray | None = None

    def _weights_changed(self) -> None:
        w = self._weights
        names = [f"hidden.{i}" for i in range(self.params["layers"])] + ["output"]
        self._dense = [
            (np.ascontiguousarray(w[f"{n}.weight"].T), w[f"{n}.bias"])
            for n in names
            if f"{n}.weight" in w
        ]
        shortcut = w.get("shortcut.weight")
        self._shortcut = None if shortcut is None else np.ascontiguousarray(shortcut.T)

    def _check_shapes(self) -> None:
        table = self._weights.get("bag.weight")
        rows = self.vocab_size + self.params["bigram_buckets"]
        if (
            table is None
            or table.shape != (rows, self.params["dim"])
            or len(self._dense) != (self.params["layers"] + 1)
            or self._shortcut is None
        ):
            raise ModelFormatError(
                "the DAN's weights do not match its options (vocabulary, bigram buckets, layers)",
                "re-save the model",
            )

    def _pooled(self, flat: Flat) -> np.ndarray:
        ids, starts, weights = bag_items(flat, self.vocab_size, self.params["bigram_buckets"])
        return weighted_bags(self._weights["bag.weight"], ids, starts, weights)

    def _forward(self, flat: Flat) -> np.ndarray:
        mean = x = self._pooled(flat)
        with blas_threads(resolve_threads(self.params.get("threads"))):
            for i, (weight, bias) in enumerate(self._dense):
                x = x @ weight + bias
                if i < len(self._dense) - 1:
                    np.maximum(x, 0, out=x)
            if self._shortcut is not None:
                x += mean @ self._shortcut
        return x.astype(np.float32, copy=False)

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Tokens and their embedding rows; the vector is the MLP of their (bigram-joined) mean."""
        text, tokens, ids, offsets, notes = self._walk(text)
        buckets = self.params["bigram_buckets"]
        notes.append(
            f"mean of {len(ids)} token rows"
            + (f" and {max(len(ids) - 1, 0)} hashed bigram rows" if buckets else "")
            + f", then {self.params['layers']} ReLU layer(s) and a projection to {self.dim} dims, "
            "plus a linear shortcut from the mean"
        )
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=tokens,
            ids=ids,
            lookup=self._weights["bag.weight"][ids].copy(),
            vector=self._embed_batch([text])[0],
            pooling="mean (deep averaging network)"
            + (" + l2-normalise" if self.params["normalize"] else ""),
            offsets=offsets,
            contextual=None,
            notes=notes,
        )

    # -- training ------------------------------------------------------------------------------
    def torch_net(self, vocab: int) -> Any:
        """The network in torch, with this student's weights if it has any."""
        torch = require("torch", "train")
        p = self.params
        net = _net_class()(
            vocab + p["bigram_buckets"], p["dim"], p["hidden"], p["layers"], p["output_dim"]
        )
        if self._weights:
            net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self._weights.items()})
        return net

    def net_inputs(self, flat: Flat, vocab: int, drop: float = 0.0, rng: Any = None) -> tuple:
        """The torch inputs of a batch; ``drop`` leaves out that share of tokens (word dropout)."""
        torch = require("torch", "train")
        if drop and rng is not None:
            keep = rng.random(len(flat.ids)) >= drop
            keep[flat.starts[:-1]] |= np.add.reduceat(keep.astype(np.int64), flat.starts[:-1]) == 0
            starts = np.zeros(len(flat) + 1, dtype=np.int64)
            np.cumsum(np.add.reduceat(keep.astype(np.int64), flat.starts[:-1]), out=starts[1:])
            flat = Flat(flat.ids[keep], starts)
        ids, starts, weights = bag_items(flat, vocab, self.params["bigram_buckets"])
        return (torch.from_numpy(ids), torch.from_numpy(starts[:-1]), torch.from_numpy(weights))
