"""``POST /v1/embeddings`` answered below the framework, because it is the hot path.

Why: FastAPI's own entry (its telemetry check reads the environment on every request), its
middleware stack, routing, dependency solving and validation cost several hundred microseconds
of CPU per request, which for single-sentence requests to a fast model is a large share of the
model's own time (profiled with py-spy; the notes in bench/results/serve.md). :class:`EmbedlabApp` sends exactly
that route to a short chain of its own (metrics, body size, body deadline, then
:class:`EmbeddingsFastPath`) built from the same middleware classes the other routes pass
through, and everything else to FastAPI as usual; the handler uses the same pieces the FastAPI
route uses (key check, rate limit, the pydantic request model, :func:`embeddings_payload`, the
error shapes), so behaviour is identical. The FastAPI route stays for the OpenAPI schema.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedlab.errors import EmbedlabError
from embedlab.server.http.auth import authenticate
from embedlab.server.http.errors import (
    ApiError,
    from_library_error,
    send_error,
    send_json,
    validation_message,
)
from embedlab.server.http.openai_api import EmbeddingRequest, embeddings_payload

log = logging.getLogger("embedlab.server")
PATH = "/v1/embeddings"
ROUTE = SimpleNamespace(path=PATH)


class EmbedlabApp(FastAPI):
    """FastAPI, with ``POST /v1/embeddings`` sent to :attr:`hot` (see the module docstring)."""

    hot: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot
        if (
            hot is not None
            and scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
        ):
            scope["app"] = self
            scope["route"] = ROUTE  # the metrics' route label, as the router would set it
            await hot(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class EmbeddingsFastPath:
    """The ASGI handler of ``POST /v1/embeddings``: parse, embed, answer, in OpenAI's shapes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state.embedlab
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._answer(state, scope, receive, tracked_send)
        except Exception as exc:  # as FastAPI's handler of the unexpected: logged, one line
            log.exception("unexpected error on POST %s", PATH)
            if not started:
                await send_error(
                    send,
                    ApiError(
                        500,
                        f"internal error ({type(exc).__name__}); the server log has the details",
                        code="internal_error",
                    ),
                )

    @staticmethod
    async def _answer(state: object, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            authorization = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value.decode("latin-1")
            client = scope.get("client")
            authenticate(state, authorization, client[0] if client else "unknown")
            body = await _read_body(receive)
            if body is None:
                return  # the client went away
            try:
                request = EmbeddingRequest.model_validate_json(body)
            except ValidationError as exc:
                errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
                message, param, code = validation_message(errors)
                raise ApiError(422, message, param=param, code=code) from None
            payload = await embeddings_payload(state, request)  # type: ignore[arg-type]
        except ApiError as exc:
            await send_error(send, exc)
            return
        except EmbedlabError as exc:
            private = state.private  # type: ignore[attr-defined]
            await send_error(send, from_library_error(exc, private=private))
            return
        await send_json(send, 200, payload, {})


async def _read_body(receive: Receive) -> bytes | None:
    message = await receive()
    if message["type"] == "http.disconnect":
        return None
    if not message.get("more_body", False):  # the usual case: the body in one message
        return message.get("body", b"")
    chunks = [message.get("body", b"")]
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
