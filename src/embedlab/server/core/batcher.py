"""The dynamic batcher: requests that arrive together are embedded together.

Kept apart from the HTTP routers (as text-embeddings-inference keeps its queue apart from its
router), so that HTTP requests and background jobs share one queue and one compute thread per
model. Three stages per model:

1. pre-processing (tokenisation) as each request arrives: on the event loop for small requests
   (a thread hand-off costs more than tokenising a sentence), in a thread for large ones;
2. a bounded queue of prepared requests; a request that would overflow it is refused at once
   (:class:`QueueFullError`, answered 503 with ``Retry-After``) instead of growing memory and
   latency;
3. one compute thread that takes everything waiting (one-piece requests before the pieces of big
   requests and jobs), up to a token budget and a count of inputs, runs it as one batch, and
   hands each request back its own rows in its own order; a batch of one-input requests runs
   only its model call that holds the oldest request, and the rest go back to the front of the
   queue to be planned again with what arrives meanwhile (fuller calls, less padding).

Work is bounded before it is done (:meth:`Batcher.embed_texts`): a request is cut into pieces of
at most one batch, at most two of its pieces are tokenised or queued at a time, and each piece
first reserves a cheap upper bound of its tokens against the model's cap of tokens in flight
(refused at once, :class:`TokensInFlightError`, when the cap is reached), so a huge request
neither tokenises everything up front nor holds all of it in memory, and small requests beside
it keep their turn in the queue.

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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.server.core.errors import (
    QueueFullError,
    ShuttingDownError,
    TokensInFlightError,
    TooManyTokensError,
)
from embedlab.server.core.memory import release_memory
from embedlab.server.core.metrics import Metrics
from embedlab.server.core.served import ServedModel

log = logging.getLogger("embedlab.server")
T = TypeVar("T")
INLINE_INPUTS = 8  # requests this small are tokenised on the event loop
INLINE_CHARS = 8192
PIECES_IN_FLIGHT = 2  # pieces of one request tokenised or queued at once
BIG_REQUEST_CHARS = 1 << 20  # after a request this large, free memory goes back to the OS
Prepared = Any  # what the model's ``prepare`` gives: ``lengths``, ``slice``, ``concat``


@dataclass
class _Work:
    prepared: Prepared
    future: asyncio.Future[np.ndarray]
    bulk: bool = False  # from the queue of big requests' pieces and jobs

    @property
    def inputs(self) -> int:
        return len(self.prepared)

    @cached_property
    def tokens(self) -> int:  # read for every batch taken and for the metrics
        return int(sum(self.prepared.lengths))


class Batcher:
    """One model's queue and compute thread; see the module docstring."""

    def __init__(
        self,
        model: ServedModel,
        *,
        max_batch_tokens: int,
        max_batch_inputs: int,
        max_queue_inputs: int,
        max_tokens_in_flight: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.model = model
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_inputs = max_batch_inputs
        self.max_queue_inputs = max_queue_inputs
        self.max_tokens_in_flight = max_tokens_in_flight or 8 * max_batch_tokens
        self.metrics = metrics
        # the gauges' children, looked up once: labels() takes a lock and builds a key each time
        self._gauges = (
            (
                metrics.queue_depth.labels(model=model.id),
                metrics.tokens_in_flight.labels(model=model.id),
            )
            if metrics is not None
            else None
        )
        self._in_flight = 0  # tokens reserved by pieces being prepared, queued or computed
        self._freed: asyncio.Event | None = None  # set whenever tokens are released
        self._pending: deque[_Work] = deque()  # one-piece requests; guarded by _cond
        self._bulk: deque[_Work] = deque()  # pieces of big requests and jobs; guarded by _cond
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
        self._freed = asyncio.Event()
        self._thread.start()

    async def stop(self) -> None:
        """Refuse new work, fail what is queued, and let the compute thread finish its batch."""
        with self._cond:
            self._closed = True
            pending = [*self._pending, *self._bulk]
            self._pending.clear()
            self._bulk.clear()
            self._waiting = 0
            self._cond.notify_all()
        for work in pending:
            if not work.future.done():
                work.future.set_exception(
                    ShuttingDownError("the server is shutting down", "retry in a few seconds")
                )
        if self._room is not None:
            self._room.set()
        if self._freed is not None:
            self._freed.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 30)
        self._prep.shutdown(wait=False, cancel_futures=True)

    @property
    def depth(self) -> int:
        """Inputs waiting for the compute thread."""
        return self._waiting

    @property
    def tokens_in_flight(self) -> int:
        """Tokens reserved by requests being tokenised, queued or computed (upper bounds until
        tokenised)."""
        return self._in_flight

    # -- a whole request -------------------------------------------------------------------------
    async def embed_texts(
        self, texts: list[str], limit: int | None, truncate: bool, *, wait_for_room: bool = False
    ) -> tuple[np.ndarray, int]:
        """Tokenise and embed ``texts`` piece by piece; (vectors in order, tokens).

        A piece is at most one batch (inputs and token bound); at most ``PIECES_IN_FLIGHT`` of
        them are tokenised or queued at once, each after reserving its token bound. The first
        piece is refused when the model is busy (:class:`QueueFullError`,
        :class:`TokensInFlightError`) unless ``wait_for_room``; once a request is admitted its
        later pieces wait for room instead, so admitted work is never thrown away.
        """
        bounds = self.model.token_bounds(texts, limit)
        pieces = self._pieces(bounds)
        big = sum(map(len, texts)) >= BIG_REQUEST_CHARS
        try:
            if len(pieces) == 1:
                return await self._piece(
                    texts, 0, bounds, limit, truncate, wait_for_room, bulk=wait_for_room
                )
            results: list[tuple[np.ndarray, int]] = [None] * len(pieces)  # type: ignore[list-item]
            gate = asyncio.Semaphore(PIECES_IN_FLIGHT)

            async def one(k: int, start: int, stop: int) -> None:
                async with gate:
                    results[k] = await self._piece(
                        texts[start:stop],
                        start,
                        bounds[start:stop],
                        limit,
                        truncate,
                        wait_for_room or k > 0,
                        bulk=True,
                    )

            async with asyncio.TaskGroup() as group:
                for k, (start, stop) in enumerate(pieces):
                    group.create_task(one(k, start, stop))
            return np.concatenate([v for v, _ in results]), sum(t for _, t in results)
        except BaseExceptionGroup as group_error:  # the first failure of a piece, as itself
            raise group_error.exceptions[0] from None
        finally:
            if big and not self._in_flight:  # in the background: the answer need not wait
                asyncio.get_running_loop().run_in_executor(None, release_memory)

    def _pieces(self, lengths: Sequence[int]) -> list[tuple[int, int]]:
        """Consecutive ranges of at most one batch: ``max_batch_inputs`` and the token budget
        (``lengths`` are token bounds before tokenising, token counts after)."""
        out, start, tokens = [], 0, 0
        for i, length in enumerate(lengths):
            if i > start and (
                i - start >= self.max_batch_inputs or tokens + length > self.max_batch_tokens
            ):
                out.append((start, i))
                start, tokens = i, 0
            tokens += length
        out.append((start, len(lengths)))
        return out

    async def _piece(
        self,
        texts: list[str],
        start: int,
        bounds: list[int],
        limit: int | None,
        truncate: bool,
        wait: bool,
        *,
        bulk: bool,
    ) -> tuple[np.ndarray, int]:
        """Inputs ``start:start + len(texts)`` of a request: reserve, tokenise, queue, wait."""
        reserved = sum(bounds)
        await self._reserve(reserved, wait)
        try:
            try:
                prepared = await self.prepare(texts, limit, truncate)
            except TooManyTokensError as exc:  # numbered within the request, not the piece
                raise exc.shifted(start) from None
            tokens = int(sum(prepared.lengths))
            if tokens < reserved:  # the bound was loose: give the difference back now
                self._release(reserved - tokens)
                reserved = tokens
            return await self.embed(prepared, wait_for_room=wait, bulk=bulk), tokens
        finally:
            self._release(reserved)

    async def _reserve(self, tokens: int, wait: bool) -> None:
        """Take ``tokens`` from the cap (on the event loop only, so no lock); a piece larger than
        the whole cap is taken when nothing is in flight, so no valid request waits forever."""
        while True:
            if self._closed:
                raise ShuttingDownError("the server is shutting down", "retry in a few seconds")
            if not self._in_flight or self._in_flight + tokens <= self.max_tokens_in_flight:
                self._in_flight += tokens
                self._report_depth()
                return
            if not wait:
                raise TokensInFlightError(
                    f"{self._in_flight:,} tokens are already in flight for {self.model.id} "
                    f"(at most {self.max_tokens_in_flight:,})",
                    "retry shortly, or send fewer or shorter inputs",
                )
            assert self._freed is not None
            self._freed.clear()
            await self._freed.wait()

    def _release(self, tokens: int) -> None:
        self._in_flight -= tokens
        if self._freed is not None:
            self._freed.set()
        if self._gauges is not None:
            self._gauges[1].set(self._in_flight)

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
        model = self.model
        small = len(texts) <= INLINE_INPUTS and sum(map(len, texts)) <= INLINE_CHARS
        if small and not model.prepare_tokenizes:
            return model.prepare(texts, limit, truncate)
        if small and self._tokenizer_lock.acquire(blocking=False):
            try:
                return model.prepare(texts, limit, truncate)
            finally:
                self._tokenizer_lock.release()
        if not model.prepare_tokenizes:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._prep, model.prepare, texts, limit, truncate)
        return await self.in_prep_thread(model.prepare, texts, limit, truncate)

    # -- stage 2 -------------------------------------------------------------------------------
    async def embed(
        self, prepared: Prepared, *, wait_for_room: bool = False, bulk: bool = False
    ) -> np.ndarray:
        """Queue ``prepared`` and return its vectors, in its order.

        Refuses with :class:`QueueFullError` when the queue has no room, unless ``wait_for_room``
        (background jobs wait instead of failing). A request larger than the whole queue is
        taken when the queue is empty, so no valid request is refused forever. ``bulk`` work
        (pieces of big requests, jobs) fills each batch after the one-piece requests, so a small
        request waits for at most the batch being computed, not for a big one's every piece.
        """
        loop = asyncio.get_running_loop()
        n = len(prepared)
        while True:
            with self._cond:
                if self._closed:
                    raise ShuttingDownError("the server is shutting down", "retry in a few seconds")
                waiting = self._waiting
                if not waiting or waiting + n <= self.max_queue_inputs:
                    works = [
                        _Work(part, loop.create_future(), bulk) for part in self._split(prepared)
                    ]
                    (self._bulk if bulk else self._pending).extend(works)
                    self._waiting += n
                    self._cond.notify()
                    break
            if not wait_for_room:
                raise QueueFullError(
                    f"{waiting} inputs are already waiting for {self.model.id}", "retry shortly"
                )
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
        """Cut a large request into pieces that each fit one batch (a piece cut by its token
        bounds already fits, and is queued as it is, without a copy)."""
        ranges = self._pieces(prepared.lengths)
        if len(ranges) == 1:
            return [prepared]
        return [prepared.slice(start, stop) for start, stop in ranges]

    def _take_batch(self) -> list[_Work]:
        """Everything waiting, up to the budgets, one-piece requests first; called with
        ``_cond`` held."""
        batch: list[_Work] = []
        tokens = inputs = 0
        for queue in (self._pending, self._bulk):
            while queue:
                work = queue[0]
                if work.future.cancelled():  # its client went away or timed out
                    queue.popleft()
                    self._waiting -= work.inputs
                    continue
                if batch and (
                    inputs + work.inputs > self.max_batch_inputs
                    or tokens + work.tokens > self.max_batch_tokens
                ):
                    break
                queue.popleft()
                self._waiting -= work.inputs
                batch.append(work)
                inputs += work.inputs
                tokens += work.tokens
        return batch

    # -- stage 3 -------------------------------------------------------------------------------
    def _compute_loop(self) -> None:
        assert self._loop is not None
        loop = self._loop
        while True:
            with self._cond:
                while not self._pending and not self._bulk and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch = self._take_batch()
            if self._room is not None:
                loop.call_soon_threadsafe(self._room.set)
            self._report_depth()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                batch, results = self._compute(batch)
                error: BaseException | None = None
            except Exception as exc:
                if not isinstance(exc, EmbedlabError):
                    log.exception("batch of %d inputs failed on %s", len(batch), self.model.id)
                results, error = None, exc
            else:
                if self.metrics is not None:
                    self.metrics.observe_batch(
                        self.model.id,
                        sum(work.inputs for work in batch),
                        sum(work.tokens for work in batch),
                        time.perf_counter() - started,
                    )
            try:
                loop.call_soon_threadsafe(_deliver, batch, results, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return

    def _compute(self, batch: list[_Work]) -> tuple[list[_Work], list[np.ndarray] | None]:
        """Embed ``batch``; (the work answered, its vectors).

        A batch of one-input requests runs only its model call that holds the oldest request;
        the others go back to the front of their queue, to be planned again with what arrives
        meanwhile. Why: the next plan then picks calls from more requests, so calls are fuller
        and pad less (bench/results/serve_profile.md); the oldest request is in every call
        run, so none waits behind newer ones for long.
        """
        items = [work.prepared for work in batch]
        part = self.model.compute_oldest_call(items) if len(batch) > 1 else None
        if part is None:
            return batch, self._run_compute(items)
        chosen, vectors = part
        if len(chosen) < len(batch):
            taken = set(chosen)
            self._put_back([work for i, work in enumerate(batch) if i not in taken])
        return [batch[i] for i in chosen], vectors

    def _put_back(self, works: list[_Work]) -> None:
        """Return taken work to the front of its queue, in its order (refused when closed)."""
        with self._cond:
            if not self._closed:
                for work in reversed(works):
                    (self._bulk if work.bulk else self._pending).appendleft(work)
                self._waiting += sum(work.inputs for work in works)
                return
        assert self._loop is not None
        stopping = ShuttingDownError("the server is shutting down", "retry in a few seconds")
        self._loop.call_soon_threadsafe(_deliver, works, None, stopping)

    def _run_compute(self, items: list[Prepared]) -> list[np.ndarray]:
        if not self.model.prepare_tokenizes:
            return self._locked(self.model.compute, items)
        return self.model.compute(items)

    def _report_depth(self) -> None:
        if self._gauges is not None:
            self._gauges[0].set(self._waiting)
            self._gauges[1].set(self._in_flight)


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
