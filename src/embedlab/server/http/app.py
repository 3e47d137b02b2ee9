"""The app factory: models loaded once, then routers, middleware and background workers wired.

``create_app(config)`` loads every model before returning (so a bad model name fails at start,
not on the first request); the lifespan starts one batcher per model and the jobs runner, and
stops them in order on shutdown (jobs first, so an interrupted job stays resumable).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from embedlab._version import __version__
from embedlab.server.config import ENV_CONFIG, ServerConfig
from embedlab.server.core.batcher import Batcher
from embedlab.server.core.jobs import JobManager
from embedlab.server.core.memory import freeze_loaded, thaw
from embedlab.server.core.metrics import Metrics
from embedlab.server.core.proxy import batcher_submitter
from embedlab.server.core.served import ServedModel, load_models, model_lookup
from embedlab.server.http import collections_api, jobs_api, openai_api, ops_api, tokenize_api
from embedlab.server.http.auth import ApiKeys
from embedlab.server.http.errors import install_error_handlers
from embedlab.server.http.fastpath import EmbeddingsFastPath, EmbedlabApp
from embedlab.server.http.limits import BodySizeLimit, RateLimiter
from embedlab.server.http.metrics import MetricsMiddleware
from embedlab.server.http.state import ServerState
from embedlab.server.http.timeouts import BodyDeadline, HeaderDeadlineProtocol
from embedlab.server.http.ui_routes import router as ui_router

log = logging.getLogger("embedlab.server")

DESCRIPTION = """
embedlab's embeddings server. `/v1/embeddings` and `/v1/models` speak OpenAI's wire format, so
OpenAI clients work with `base_url="http://HOST:PORT/v1"`. Requests arriving together are
embedded together. Errors use OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
"""


def create_app(
    config: ServerConfig | None = None, *, models: dict[str, ServedModel] | None = None
) -> FastAPI:
    """Build the app; ``models`` skips loading (tests pass models they already hold)."""
    config = config or ServerConfig()
    if models is None:
        models = load_models(
            config.models,
            runtime=config.runtime,
            threads=config.threads,
            compute_batch_size=config.compute_batch_size,
        )
    else:  # ready models: those without their own rows per call take the config's
        models = {
            name: model
            if model.compute_batch_size is not None
            else replace(model, compute_batch_size=config.compute_batch_size)
            for name, model in models.items()
        }
    metrics = Metrics()
    state = ServerState(
        config=config,
        models=models,
        lookup=model_lookup(models),
        metrics=metrics,
        keys=ApiKeys(config.resolved_api_keys()),
        rate_limiter=RateLimiter(config.rate_limit_per_minute),
        auth_failures=RateLimiter(config.auth_failures_per_minute),
    )
    HeaderDeadlineProtocol.timeout_s = config.header_timeout_s  # read by uvicorn's connections

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _start(state)
        try:
            yield
        finally:
            await _stop(state)

    app = EmbedlabApp(
        title="embedlab",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.embedlab = state
    install_error_handlers(app)

    app.include_router(ops_api.router)
    app.include_router(openai_api.router)
    app.include_router(tokenize_api.router)
    app.include_router(jobs_api.router)
    app.include_router(collections_api.router)
    app.include_router(ui_router)  # the web page at /ui

    app.add_middleware(BodyDeadline, timeout_s=config.body_timeout_s)
    app.add_middleware(
        BodySizeLimit, max_bytes=config.max_body_bytes, upload_bytes=config.max_upload_bytes
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # the hot path, POST /v1/embeddings, below FastAPI: the same limits and metrics, in the same
    # order, around a handler of its own (see fastpath)
    app.hot = MetricsMiddleware(
        BodySizeLimit(
            BodyDeadline(EmbeddingsFastPath(), timeout_s=config.body_timeout_s),
            max_bytes=config.max_body_bytes,
            upload_bytes=config.max_upload_bytes,
        ),
        metrics=metrics,
    )
    return app


async def _start(state: ServerState) -> None:
    config = state.config
    for model in state.models.values():
        batcher = Batcher(
            model,
            max_batch_tokens=config.max_batch_tokens,
            max_batch_inputs=config.max_batch_inputs,
            max_queue_inputs=config.max_queue_inputs,
            max_tokens_in_flight=config.max_tokens_in_flight,
            metrics=state.metrics,
        )
        batcher.start()
        state.batchers[model.id] = batcher
    loop = asyncio.get_running_loop()
    state.jobs = JobManager(
        config.resolved_jobs_dir(),
        models=state.models,
        submitter=batcher_submitter(loop, state.batcher, state.token_limit),
        chunk_rows=config.job_chunk_rows,
    )

    await collections_api.start(state)  # before the jobs runner: some jobs fill collections
    state.jobs.start()
    frozen = freeze_loaded()  # the models live as long as the server: no GC pauses over them
    log.debug("%d loaded objects left out of garbage collection", frozen)
    state.ready = True


async def _stop(state: ServerState) -> None:
    state.ready = False
    if state.jobs is not None:
        state.jobs.stop()
    for batcher in state.batchers.values():
        await batcher.stop()
    if state.jobs is not None:
        await asyncio.to_thread(state.jobs.join, 10.0)

    await collections_api.stop(state)
    thaw()


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` worker processes: the config travels as JSON in the env."""
    text = os.environ.get(ENV_CONFIG)
    return create_app(ServerConfig.from_json(text) if text else ServerConfig())
