"""An Embedder whose compute is a served model's batcher, for code that runs in threads.

Batch jobs (``embed_file``) and collections (``Collection.add``/``search``) are synchronous
library code run in worker threads. Given this Embedder, they embed through the model's batcher
on the server's event loop instead of calling the model directly, so the model is loaded once,
its tokenizer is used under one lock, and live requests and background work share one compute
thread. A caller keeps at most two pieces in the queue and waits for room instead of being
refused, so background work never crowds out live requests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings
from embedlab.server.core.errors import ShuttingDownError
from embedlab.server.core.served import ServedModel

Submit = Callable[[list[str]], np.ndarray]


class StoppedError(Exception):
    """The server is stopping; the caller's work is left to resume later.

    Deliberately not an EmbedlabError: ``embed_file`` deletes a partial run on those, so the
    batcher's :class:`ShuttingDownError` is turned into this one here.
    """


class BatcherEmbedder(Embedder):
    """Reports the served model's method, parameters and (by default) id as its name.

    A stable name and parameters keep ``embed_file``'s run fingerprint, and so resuming, the same
    across restarts; collections pass the embedder's own name, which is what they record.
    """

    def __init__(
        self,
        model: ServedModel,
        submit: Submit,
        *,
        stopping: threading.Event | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()  # declares no options: it mirrors the served model's parameters
        self.params = dict(model.embedder.params)
        self.method = model.embedder.method  # type: ignore[misc]  # per instance, by design
        self.name = name or model.id
        self._model = model
        self._submit = submit
        self._stopping = stopping or threading.Event()

    @property
    def dim(self) -> int:
        return self._model.dim

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._embed_all(texts, len(texts), False)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        if self._stopping.is_set():
            raise StoppedError()
        return self._submit(texts)

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        return self._model.embedder.embed_tokens(text)

    def embed_queries(self, texts: Sequence[str] | str, **options: Any) -> np.ndarray:
        """Queries of a model that encodes them apart (E5) bypass the batcher, whose compute
        path embeds documents; for every other model they go through it like any text."""
        inner = self._model.embedder
        if type(inner).embed_queries is Embedder.embed_queries:
            return self.embed(texts, **options)
        return inner.embed_queries(texts, **options)


def batcher_submitter(
    loop: asyncio.AbstractEventLoop,
    batcher_of: Callable[[ServedModel], Any],
    limit_of: Callable[[ServedModel], int | None],
) -> Callable[[ServedModel], Submit]:
    """For worker threads: embed texts through the model's batcher on the server's loop.

    Over-long texts are truncated, as the library's ``embed`` does; the batcher's pieces wait
    for room instead of being refused.
    """

    def for_model(model: ServedModel) -> Submit:
        batcher = batcher_of(model)
        limit = limit_of(model)

        async def embed(texts: list[str]) -> np.ndarray:
            vectors, _ = await batcher.embed_texts(texts, limit, True, wait_for_room=True)
            return vectors

        def submit(texts: list[str]) -> np.ndarray:
            future = asyncio.run_coroutine_threadsafe(embed(texts), loop)
            while True:
                try:
                    return future.result(timeout=0.5)
                except TimeoutError:
                    if loop.is_closed() or not loop.is_running():
                        future.cancel()
                        raise StoppedError() from None
                except ShuttingDownError:
                    raise StoppedError() from None

        return submit

    return for_model
