"""Operations routes: ``/health`` (the process answers), ``/ready`` (models loaded, workers
running) and ``/metrics`` (Prometheus text). None needs an API key, so that load balancers and
scrapers work without one; they reveal no data.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from embedlab._version import __version__
from embedlab.server.http.errors import ApiError
from embedlab.server.http.state import get_state

router = APIRouter(tags=["Operations"])


@router.get("/", summary="What this server is")
async def root(request: Request) -> dict[str, Any]:
    state = get_state(request)
    return {
        "name": "embedlab",
        "version": __version__,
        "models": list(state.models),
        "docs": "/docs",
        "openai_base_url": str(request.base_url).rstrip("/") + "/v1",
    }


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: models loaded and batch workers running")
async def ready(request: Request) -> dict[str, Any]:
    state = get_state(request)
    if not state.ready:
        raise ApiError(503, "the server is starting or stopping", code="not_ready")
    return {
        "status": "ready",
        "models": {
            model_id: {"queue_depth": batcher.depth, "tokens_in_flight": batcher.tokens_in_flight}
            for model_id, batcher in state.batchers.items()
        },
    }


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    state = get_state(request)
    if state.jobs is not None:
        state.jobs.report(state.metrics)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
