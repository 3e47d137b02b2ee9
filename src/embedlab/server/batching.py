"""The dynamic batcher: requests that arrive together are embedded together.

Kept apart from the HTTP routers (as text-embeddings-inference keeps its queue apart from its
router), so that HTTP requests and background jobs share one queue and one compute thread per
model. Three stages per model:

1. pre-processing (tokenisation) as each request arrives: on the event loop for small requests
   (a thread hand-off costs more than tokenising a sentence), in a thread for large ones;
2. a bounded queue of prepared requests; a request that would overflow it is refused at once
   (:class:`QueueFullError`, answered 503 with ``Retry-After``) instead of growing memory and
   latency;
3. one compute thread that takes everything waiting, up to a token budget and a count of inputs,
   runs it as one batch, and hands each request back its own rows in its own order.

The compute thread takes its next batch itself, the moment it finishes one, so it never waits for
the event loop, which meanwhile parses and tokenises the next arrivals and answers the last
batch's requests: tokenisation and HTTP overlap compute. Every use of a model's tokenizer holds
that model's tokenizer lock, because Hugging Face fast tokenizers must not be reconfigured from
two threads at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.server.metrics import Metrics
from embedlab.server.models import Prepared, ServedModel

log = logging.getLogger("embedlab.server")
T = TypeVar("T")
INLINE_INPUTS = 8  # requests this small are tokenised on the event loop
INLINE_CHARS = 8192


class QueueFullError(Exception):
    """The model's queue holds as many inputs as it may; the caller should retry shortly."""


class ShuttingDownError(Exception):
    """The server is stopping; work still queued will not run."""


@dataclass
class _Work:
    prepared: Prepared
    future: asyncio.Future[np.ndarray]

    @property
    def inputs(self) -> int:
        return len(self.prepared)


class Batcher:
    """One model's queue and compute thread; see the module docstring."""

    def __init__(
        self,
        model: ServedModel,
        *,
        max_batch_tokens: int,
        max_batch_inputs: int,
        max_queue_inputs: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.model = model
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_inputs = max_batch_inputs
        self.max_queue_inputs = max_queue_inputs
        self.metrics = metrics
        self._pending: deque[_Work] = deque()  # guarded by _cond
        self._waiting = 0  # inputs queued, not yet taken by the compute thread; guarded by _cond
        self._cond = threading.Condition()
        self._closed = False
        self._room: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prep = ThreadPoolExecutor(1, thread_name_prefix=f"prep-{model.id}")
        self._tokenizer_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._compute_loop, name=f"compute-{model.id}", daemon=True
        )

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._room = asyncio.Event()
        self._thread.start()

    async def stop(self) -> None:
        """Refuse new work, fail what is queued, and let the compute thread finish its batch."""
        with self._cond:
            self._closed = True
            pending = list(self._pending)
            self._pending.clear()
            self._waiting = 0
            self._cond.notify_all()
        for work in pending:
            if not work.future.done():
                work.future.set_exception(ShuttingDownError("the server is shutting down"))
        if self._room is not None:
            self._room.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 30)
        self._prep.shutdown(wait=False, cancel_futures=True)

    @property
    def depth(self) -> int:
        """Inputs waiting for the compute thread."""
        return self._waiting

    # -- stage 1 -------------------------------------------------------------------------------
    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._tokenizer_lock:
            return fn(*args)

    async def in_prep_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in the pre-processing thread, holding the model's tokenizer lock."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._prep, self._locked, fn, *args)

    async def prepare(self, texts: list[str], limit: int | None, truncate: bool) -> Prepared:
        """Tokenise: small requests on the event loop, large ones in the prep thread."""
        backend = self.model.backend
        small = len(texts) <= INLINE_INPUTS and sum(map(len, texts)) <= INLINE_CHARS
        if small and not backend.prepare_uses_tokenizer:
            return backend.prepare(texts, limit, truncate)
        if small and self._tokenizer_lock.acquire(blocking=False):
            try:
                return backend.prepare(texts, limit, truncate)
            finally:
                self._tokenizer_lock.release()
        if not backend.prepare_uses_tokenizer:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._prep, backend.prepare, texts, limit, truncate)
        return await self.in_prep_thread(backend.prepare, texts, limit, truncate)

    # -- stage 2 -------------------------------------------------------------------------------
    async def embed(self, prepared: Prepared, *, wait_for_room: bool = False) -> np.ndarray:
        """Queue ``prepared`` and return its vectors, in its order.

        Refuses with :class:`QueueFullError` when the queue has no room, unless ``wait_for_room``
        (background jobs wait instead of failing). A request larger than the whole queue is
        taken when the queue is empty, so no valid request is refused forever.
        """
        loop = asyncio.get_running_loop()
        n = len(prepared)
        while True:
            with self._cond:
                if self._closed:
                    raise ShuttingDownError("the server is shutting down")
                waiting = self._waiting
                if not waiting or waiting + n <= self.max_queue_inputs:
                    works = [_Work(part, loop.create_future()) for part in self._split(prepared)]
                    self._pending.extend(works)
                    self._waiting += n
                    self._cond.notify()
                    break
            if not wait_for_room:
                raise QueueFullError(f"{waiting} inputs are already waiting for {self.model.id}")
            assert self._room is not None
            self._room.clear()
            await self._room.wait()
        self._report_depth()
        try:
            parts = await asyncio.gather(*(work.future for work in works))
        except BaseException:
            for work in works:  # the compute thread skips what is cancelled and not yet started
                work.future.cancel()
            raise
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _split(self, prepared: Prepared) -> list[Prepared]:
        """Cut a large request into pieces that each fit one batch."""
        parts, start, tokens = [], 0, 0
        for i, length in enumerate(prepared.lengths):
            count = i - start
            if count and (
                count >= self.max_batch_inputs or tokens + length > self.max_batch_tokens
            ):
                parts.append(prepared.slice(start, i))
                start, tokens = i, 0
            tokens += length
        parts.append(prepared.slice(start, len(prepared)))
        return parts

    def _take_batch(self) -> list[_Work]:
        """Everything waiting, up to the budgets; called with ``_cond`` held."""
        batch: list[_Work] = []
        tokens = inputs = 0
        while self._pending:
            work = self._pending[0]
            if work.future.cancelled():  # its client went away or timed out
                self._pending.popleft()
                self._waiting -= work.inputs
                continue
            if batch and (
                inputs + work.inputs > self.max_batch_inputs
                or tokens + work.prepared.tokens > self.max_batch_tokens
            ):
                break
            self._pending.popleft()
            self._waiting -= work.inputs
            batch.append(work)
            inputs += work.inputs
            tokens += work.prepared.tokens
        return batch

    # -- stage 3 -------------------------------------------------------------------------------
    def _compute_loop(self) -> None:
        assert self._loop is not None
        loop = self._loop
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch = self._take_batch()
            if self._room is not None:
                loop.call_soon_threadsafe(self._room.set)
            self._report_depth()
            if not batch:
                continue
            items = [work.prepared for work in batch]
            started = time.perf_counter()
            try:
                results: list[np.ndarray] | None = self._run_compute(items)
                error: BaseException | None = None
            except Exception as exc:
                if not isinstance(exc, EmbedlabError):
                    log.exception("batch of %d inputs failed on %s", len(items), self.model.id)
                results, error = None, exc
            else:
                if self.metrics is not None:
                    self.metrics.observe_batch(
                        self.model.id,
                        sum(len(item) for item in items),
                        sum(item.tokens for item in items),
                        time.perf_counter() - started,
                    )
            try:
                loop.call_soon_threadsafe(_deliver, batch, results, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return

    def _run_compute(self, items: list[Prepared]) -> list[np.ndarray]:
        backend = self.model.backend
        if backend.compute_uses_tokenizer:
            return self._locked(backend.compute, items)
        return backend.compute(items)

    def _report_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(model=self.model.id).set(self._waiting)


def _deliver(
    batch: list[_Work], results: list[np.ndarray] | None, error: BaseException | None
) -> None:
    """On the event loop: hand each request its rows (or the batch's error)."""
    for i, work in enumerate(batch):
        if work.future.done():
            continue
        if error is not None:
            work.future.set_exception(error)
        else:
            assert results is not None
            work.future.set_result(results[i])
