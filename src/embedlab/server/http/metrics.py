"""The ASGI middleware that counts and times every HTTP request into :class:`Metrics`.

Requests are labelled by route template (``/v1/jobs/{job_id}``), never by raw path, so label
cardinality stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedlab.server.core.metrics import Metrics


class MetricsMiddleware:
    """Counts every HTTP request and times it, by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            key = (scope["method"], template, status)
            children = self._children.get(key)
            if children is None:  # labels() takes a lock and builds a key: do it once per key
                children = (
                    self.metrics.requests.labels(scope["method"], template, str(status)),
                    self.metrics.latency.labels(template),
                )
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
