"""``MediaEmbedder``: the Embedder of audio and images, with the text embedders' verbs.

What changes against a text model is only the input: ``embed`` takes files, bytes or arrays
(see :mod:`embedlab.media.inputs`), decodes each once with :meth:`decode` (which checks kind,
format and length, with one-line errors), and hands decoded items to ``_embed_batch``. Batching,
normalisation, progress bars, saving and the staged path for servers (``prepare`` decodes,
``run`` computes) are the text models' own. A text handed to such a model is refused with what
it takes, so text checks are never loosened for text models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, PreparedItems, TokenEmbeddings, l2_normalize
from embedlab.errors import EmbedlabError, InputError
from embedlab.extras import require
from embedlab.media.errors import WrongInputKindError
from embedlab.media.inputs import TAKES, as_items
from embedlab.progress import progress_bar
from embedlab.threads import resolve_threads


@contextmanager
def torch_threads(threads: int | None, extra: str = "audio") -> Iterator[Any]:
    """torch with ``threads`` intra-op threads (else ``$EMBEDLAB_THREADS``, else one) for the
    block, restored after: small LSTM and CNN ops on a busy 2-core machine run several times
    faster on one thread (training image-cnn on digits: 2.9 s against 144 s measured here)."""
    torch = require("torch", extra)
    before = torch.get_num_threads()
    torch.set_num_threads(resolve_threads(threads))
    try:
        yield torch
    finally:
        torch.set_num_threads(before)


class NoWalkthroughError(EmbedlabError):
    """The model has no per-window or per-token view of its input."""


class PreparedMedia(PreparedItems[Any]):
    """Decoded items (the server's stage 1); lengths are 1 per item: media has no tokens."""


class MediaEmbedder(Embedder):
    """Base of audio and image embedders: ``input_kind`` says which; see the module docstring."""

    input_kind = "audio"

    # -- what subclasses provide -----------------------------------------------------------
    def decode(self, item: Any, index: int = 0) -> Any:
        """One raw item (path, bytes, array) to what ``_embed_batch`` takes; errors name it."""
        raise NotImplementedError

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        """Embed decoded items into ``(len(items), dim)``."""
        raise NotImplementedError

    # -- embedding -------------------------------------------------------------------------
    def embed(
        self,
        inputs: Any,
        *,
        batch_size: int = 32,
        normalize: bool = False,
        progress: bool = False,
    ) -> np.ndarray:
        """Embed one item (gives ``(dim,)``) or a list of them (``(n, dim)``), float32."""
        items, single = as_items(inputs, self.input_kind, self.name)
        self._require_fitted()
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}", "use e.g. 32")
        matrix = self._embed_all(items, batch_size, progress)
        if normalize:
            matrix = l2_normalize(matrix)
        return matrix[0] if single else matrix

    def _embed_all(self, items: list[Any], batch_size: int, progress: bool) -> np.ndarray:
        """Decode and embed one batch at a time, so a long list of files is never all in
        memory at once."""
        out = np.empty((len(items), self.dim), dtype=np.float32)
        with progress_bar(f"embedding with {self.name}", len(items), enabled=progress) as advance:
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                decoded = [self.decode(item, start + i) for i, item in enumerate(batch)]
                out[start : start + len(batch)] = self._embed_batch(decoded)
                advance(len(batch))
        return out

    def embed_tokens(self, text: Any) -> TokenEmbeddings:
        raise NoWalkthroughError(
            f"{self.name} has no per-window walkthrough",
            "use embed() for its vectors; the voice model shows its windows with embed_tokens",
        )

    def count_tokens(self, text: str) -> int:
        return 1

    def similarity(self, a: Any, b: Any) -> float:
        """Cosine similarity of two items (files, bytes or arrays)."""
        va, vb = self.embed([a, b], normalize=True)
        return float(np.dot(va, vb))

    def explain(self, a: Any, b: Any) -> Any:
        raise NoWalkthroughError(
            f"{self.name} embeds {self.input_kind}, which has no tokens to split a score over",
            "explain works on text models",
        )

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.embed(list(X))

    # -- stages, for servers: prepare decodes (bounded, checked), run computes ---------------
    def prepare(
        self, texts: Sequence[Any], *, max_tokens: int | None = None, truncate: bool = True
    ) -> PreparedMedia:
        """Decode bytes or arrays. Never a path: this is the server's path (batcher, jobs,
        collections), where a client's string must not open a file on the server's disk."""
        for i, item in enumerate(texts):
            if isinstance(item, str | os.PathLike):
                raise WrongInputKindError(
                    f"{self.name} takes {self.takes()} here as bytes, not text or file paths: "
                    f"input {i} is a string",
                    f'send {{"type": "{self.input_kind}", "data": BASE64}} items to /v1/embeddings',
                )
        items = [self.decode(item, i) for i, item in enumerate(texts)]
        return PreparedMedia(items, [1] * len(items))

    def run(
        self,
        prepared: Any,
        *,
        batch_size: int = 32,
        advance: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        self._require_fitted()
        parts = []
        for start in range(0, len(prepared.items), batch_size):
            part = prepared.items[start : start + batch_size]
            parts.append(self._embed_batch(part).astype(np.float32, copy=False))
            if advance is not None:
                advance(len(part))
        return np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32)

    def takes(self) -> str:
        """What ``embed`` takes, in words (for messages and ``/v1/models``)."""
        return TAKES[self.input_kind]
