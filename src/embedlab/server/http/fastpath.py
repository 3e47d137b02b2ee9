"""``POST /v1/embeddings`` answered below the framework, because it is the hot path.

Why: routing, dependency solving and validation in FastAPI cost several hundred microseconds of
CPU per request, which for single-sentence requests to a fast model is a large share of the
model's own time. This ASGI middleware answers exactly that route with the same pieces the
FastAPI route uses (key check, rate limit, the pydantic request model, :func:`embeddings_payload`,
the error shapes), so behaviour is identical; the FastAPI route stays for the OpenAPI schema.
It sits inside the metrics and body-size middleware, so both still apply.
"""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

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

PATH = "/v1/embeddings"
ROUTE = SimpleNamespace(path=PATH)


class EmbeddingsFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE  # the metrics' route label, as the router would set it
        state = scope["app"].state.embedlab
        try:
            headers = dict(scope["headers"])
            authorization = headers.get(b"authorization")
            client = scope.get("client")
            authenticate(
                state,
                authorization.decode("latin-1") if authorization else None,
                client[0] if client else "unknown",
            )
            body = await _read_body(receive)
            if body is None:
                return  # the client went away
            try:
                request = EmbeddingRequest.model_validate_json(body)
            except ValidationError as exc:
                errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
                message, param, code = validation_message(errors)
                raise ApiError(422, message, param=param, code=code) from None
            payload = await embeddings_payload(state, request)
        except ApiError as exc:
            await send_error(send, exc)
            return
        except EmbedlabError as exc:
            await send_error(send, from_library_error(exc, private=state.private))
            return
        await send_json(send, 200, payload, {})


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
