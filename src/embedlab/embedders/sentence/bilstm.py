"""A bidirectional LSTM with max pooling (InferSent's encoder), taught by a transformer.

Token embeddings run through one bidirectional LSTM; the sentence vector is the element-wise
maximum of the hidden states over time, projected to the teacher's dimension. Inference is
torch (an LSTM has no fast numpy form), on ``threads`` intra-op threads (default 1), with each
batch's texts sorted by length and packed so no step is spent on padding.
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
from embedlab.embedders.sentence.tokens import Flat
from embedlab.errors import ModelFormatError
from embedlab.extras import require
from embedlab.threads import resolve_threads


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch on ``count`` intra-op threads for one call, then as it was: an LSTM step is small,
    and on a shared machine two threads wait on each other (one was faster here)."""
    torch = require("torch", "train")
    before = torch.get_num_threads()
    if before != count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if before != count:
            torch.set_num_threads(before)


@functools.cache
def _net_class() -> type:
    torch = require("torch", "train")
    nn = torch.nn
    rnn = nn.utils.rnn

    class BiLSTMMax(nn.Module):  # type: ignore[name-defined]
        """Embedding -> BiLSTM -> max over time -> Linear."""

        def __init__(self, vocab: int, dim: int, hidden: int, out: int) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab, dim)
            self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
            self.output = nn.Linear(2 * hidden, out)

        def states(self, ids: Any, lengths: Any) -> Any:
            """Per-token hidden states ``(batch, longest, 2 * hidden)``, -inf past each end."""
            packed = rnn.pack_padded_sequence(
                self.embedding(ids), lengths, batch_first=True, enforce_sorted=False
            )
            out, _ = self.lstm(packed)
            padded, _ = rnn.pad_packed_sequence(out, batch_first=True, padding_value=-torch.inf)
            return padded

        def forward(self, ids: Any, lengths: Any) -> Any:
            return self.output(self.states(ids, lengths).max(dim=1).values)

    return BiLSTMMax


def padded(flat: Flat) -> tuple[np.ndarray, np.ndarray]:
    """(ids ``(n, longest)`` padded with 0, lengths) of a batch."""
    lengths = flat.lengths
    out = np.zeros((len(flat), int(lengths.max(initial=1))), dtype=np.int64)
    mask = np.arange(out.shape[1]) < lengths[:, None]
    out[mask] = flat.ids
    return out, lengths


class BiLSTMEmbedder(StudentEmbedder):
    """InferSent-style student: BiLSTM over subword embeddings, max pooling, a projection.

    Options (fixed once trained): ``dim`` (embedding size), ``hidden`` (per direction),
    ``output_dim`` (the teacher's), ``max_tokens``; ``normalize`` and ``threads`` may change.
    """

    method = "bilstm"
    options = declare(
        Option("dim", 256, check=whole(1)),
        Option("hidden", 512, check=whole(1)),
        STUDENT_OPTIONS,
        Option("threads", None, when=LOAD, check=threads, omit_default=True),
    )

    def __init__(
        self,
        dim: int = 256,
        hidden: int = 512,
        output_dim: int = 384,
        max_tokens: int = 128,
        normalize: bool = True,
        threads: int | None = None,
    ) -> None:
        super().__init__(
            dim=dim,
            hidden=hidden,
            output_dim=output_dim,
            max_tokens=max_tokens,
            normalize=normalize,
            threads=threads,
        )
        self._net: Any = None

    def _weights_changed(self) -> None:
        self._net = None

    def _check_shapes(self) -> None:
        table = self._weights.get("embedding.weight")
        lstm = self._weights.get("lstm.weight_hh_l0")
        p = self.params
        if (
            table is None
            or table.shape != (self.vocab_size, p["dim"])
            or lstm is None
            or lstm.shape != (4 * p["hidden"], p["hidden"])
        ):
            raise ModelFormatError(
                "the BiLSTM's weights do not match its options (vocabulary, dim, hidden)",
                "re-save the model",
            )

    def _module(self) -> Any:
        if self._net is None:
            self._net = self.torch_net(self.vocab_size).eval()
        return self._net

    def _forward(self, flat: Flat) -> np.ndarray:
        torch = require("torch", "train")
        ids, lengths = padded(flat)
        with torch_threads(resolve_threads(self.params.get("threads"))), torch.inference_mode():
            out = self._module()(torch.from_numpy(ids), torch.from_numpy(lengths))
        return out.numpy().astype(np.float32, copy=False)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Batches of similar length (sorted), so packing wastes little; results in input order."""
        rows = self.ids(texts)
        order = np.argsort([len(r) for r in rows], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(rows), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._forward(Flat.of([rows[i] for i in chosen]))
        return self.finish(out)

    def run(self, prepared: Any, *, batch_size: int = 32, advance: Any = None) -> np.ndarray:
        rows = prepared.rows
        order = np.argsort([len(r) for r in rows], kind="stable")
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for start in range(0, len(rows), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._forward(Flat.of([rows[i] for i in chosen]))
            if advance is not None:
                advance(len(chosen))
        return out

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Tokens, their embedding rows, and each token's BiLSTM hidden state (``contextual``):
        the vector is the projection of the element-wise maximum of those states."""
        torch = require("torch", "train")
        text, tokens, ids, offsets, notes = self._walk(text)
        with torch_threads(resolve_threads(self.params.get("threads"))), torch.inference_mode():
            states = self._module().states(
                torch.tensor([ids], dtype=torch.long), torch.tensor([len(ids)])
            )[0]
        contextual = states.numpy().astype(np.float32)
        winners = np.bincount(contextual.argmax(axis=0), minlength=len(ids))
        notes.append(
            "max pooling: tokens giving the most of the "
            f"{contextual.shape[1]} maxima: "
            + ", ".join(f"{tokens[i]!r} {winners[i]}" for i in np.argsort(-winners)[:3])
        )
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=tokens,
            ids=ids,
            lookup=self._weights["embedding.weight"][ids].copy(),
            vector=self._embed_batch([text])[0],
            pooling="max over BiLSTM states, then a projection"
            + (" + l2-normalise" if self.params["normalize"] else ""),
            offsets=offsets,
            contextual=contextual,
            notes=notes,
        )

    # -- training ------------------------------------------------------------------------------
    def torch_net(self, vocab: int) -> Any:
        torch = require("torch", "train")
        p = self.params
        net = _net_class()(vocab, p["dim"], p["hidden"], p["output_dim"])
        if self._weights:
            net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self._weights.items()})
        return net

    def net_inputs(self, flat: Flat, vocab: int, drop: float = 0.0, rng: Any = None) -> tuple:
        torch = require("torch", "train")
        ids, lengths = padded(flat)
        return (torch.from_numpy(ids), torch.from_numpy(lengths))
