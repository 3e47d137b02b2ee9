"""Limits that keep one caller from taking the server down: body size, inputs, rate.

- :class:`BodySizeLimit` refuses a body over the limit with 413 before it is read into memory: at
  once from ``Content-Length``, or as soon as a chunked body passes the limit. Uploads to the jobs
  endpoint get their own, larger limit.
- :func:`check_inputs` applies the per-request limits (inputs per request, characters per input
  and per request) before any tokenising; token limits are applied where texts are tokenised
  (``core.served.ServedModel.prepare``), and tokens in flight are capped by the batcher.
- :class:`RateLimiter` is a token bucket per API key (or client address), answering 429.
"""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedlab.server.http.errors import ApiError, send_error


class BodySizeLimit:
    """ASGI middleware: 413 in OpenAI's error shape for bodies over the limit."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_bytes: int, upload_prefix: str = "/v1/jobs"
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.upload_bytes if path.startswith(self.upload_prefix) else self.max_bytes
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await send_error(send, _too_large(limit))
            return
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await send_error(send, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; whatever the app answers to the disconnect is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is larger than this server accepts ({limit:,} bytes); "
        "send fewer or shorter inputs per request",
        code="request_too_large",
        headers={"Connection": "close"},
    )


def check_inputs(
    texts: list[str],
    *,
    max_inputs: int,
    max_chars: int,
    truncate: bool,
    max_total_chars: int | None = None,
) -> list[str]:
    """Refuse too many or empty inputs (400); cut over-long ones when ``truncate``, else 400.

    ``max_total_chars`` bounds the whole request, counted as sent: a request over it is refused
    before any work, ``truncate`` or not.
    """
    check_count(len(texts), max_inputs)
    if max_total_chars is not None:
        total = sum(map(len, texts))
        if total > max_total_chars:
            raise ApiError(
                400,
                f"the inputs hold {total:,} characters in all; this server takes at most "
                f"{max_total_chars:,} per request. Send fewer or shorter inputs per request",
                param="input",
                code="request_too_large",
            )
    out = []
    for i, text in enumerate(texts):
        if not text or text.isspace():  # as `not text.strip()`, without copying the text
            raise ApiError(400, f"input {i} is empty", param="input", code="empty_input")
        if len(text) > max_chars:
            if not truncate:
                raise ApiError(
                    400,
                    f"input {i} has {len(text):,} characters; this server takes at most "
                    f'{max_chars:,} per input. Shorten it, or send "truncate": true',
                    param="input",
                    code="input_too_long",
                )
            text = text[:max_chars]
        out.append(text)
    return out


def check_count(count: int, max_inputs: int) -> None:
    if not count:
        raise ApiError(
            400, "input is empty; send at least one text", param="input", code="empty_input"
        )
    if count > max_inputs:
        raise ApiError(
            400,
            f"{count} inputs in one request; this server takes at most {max_inputs}. "
            "Split them over several requests",
            param="input",
            code="too_many_inputs",
        )


class RateLimiter:
    """Token bucket per caller: ``per_minute`` requests, refilled continuously; 0 turns it off."""

    def __init__(self, per_minute: int, max_callers: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_callers = max_callers
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, identity: str) -> None:
        if not self.per_minute:
            return
        now = time.monotonic()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(identity, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens < 1:
            retry = max(1, math.ceil((1 - tokens) / rate))
            raise ApiError(
                429,
                f"rate limit reached ({self.per_minute} requests a minute); retry in {retry} s",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(retry)},
            )
        if len(self._buckets) >= self.max_callers and identity not in self._buckets:
            self._buckets.clear()  # bounded memory; a reset only ever favours callers
        self._buckets[identity] = (tokens - 1, now)
