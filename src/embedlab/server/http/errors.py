"""Every failure as OpenAI's error body, ``{"error": {"message", "type", "param", "code"}}``.

OpenAI clients parse this shape to raise their own typed exceptions (``openai.NotFoundError``, ...),
so the server uses it for everything: its own refusals, embedlab's errors, FastAPI's validation
errors, malformed JSON, unknown routes and (logged, never with a traceback) unexpected failures.

This is the only place where embedlab's errors (the library's and the server core's) get an HTTP
status: :func:`from_library_error`. Messages are one line and name no server-side folder.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from embedlab import errors as lib_errors
from embedlab.server.core import errors as core_errors
from embedlab.server.core.errors import scrub_paths
from embedlab.store import errors as store_errors

log = logging.getLogger("embedlab.server")

_TYPES = {
    401: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "server_error",
}


class ApiError(Exception):
    """A refusal with its HTTP status; raised anywhere in a request, rendered by the handler."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,  # noqa: A002 (OpenAI's field name)
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type or _TYPES.get(status, "invalid_request_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,  # noqa: A002
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


async def send_json(send: Send, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    """A JSON response straight over ASGI, for the middleware that answers below FastAPI."""
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: ApiError) -> None:
    """``error`` in OpenAI's shape, straight over ASGI."""
    await send_json(send, error.status, json.dumps(error.body()).encode(), error.headers)


# the server core's refusals: class -> (status, code, headers)
_CORE: list[tuple[type[Exception], int, str, dict[str, str]]] = [
    (core_errors.TooManyTokensError, 400, "context_length_exceeded", {}),
    (core_errors.BusyError, 503, "server_overloaded", {"Retry-After": "1"}),
    (core_errors.ShuttingDownError, 503, "shutting_down", {"Retry-After": "5"}),
    (core_errors.TokenIdsUnsupportedError, 400, "token_ids_unsupported", {}),
    (core_errors.InvalidTokenIdError, 400, "invalid_token_id", {}),
    (core_errors.EmptyInputError, 400, "empty_input", {}),
    (core_errors.PathNotAllowedError, 403, "path_not_allowed", {}),
    (core_errors.InvalidPathError, 400, "invalid_path", {}),
    (core_errors.DataFileNotFoundError, 404, "file_not_found", {}),
    (core_errors.ModelNotServedError, 409, "model_not_served", {}),
    (core_errors.ModelMismatchError, 409, "model_mismatch", {}),
    (core_errors.UnavailableError, 503, "unavailable", {}),
]


def one_line(text: str) -> str:
    """The first line of a message: a client gets one sentence, never a trace."""
    lines = text.strip().splitlines()
    return lines[0] if lines else text


def from_library_error(
    exc: lib_errors.EmbedlabError,
    param: str | None = None,
    private: Iterable[str] = (),
) -> ApiError:
    """embedlab's errors as statuses: the caller's fault (4xx), a busy or broken part (5xx).

    ``private`` are the server's own folders, left out of the message.
    """
    error = _status_of(exc, param)
    error.message = scrub_paths(one_line(error.message), private)
    return error


def _status_of(exc: lib_errors.EmbedlabError, param: str | None) -> ApiError:
    for kind, status, code, headers in _CORE:
        if isinstance(exc, kind):
            given = exc.param if isinstance(exc, core_errors.ServerError) else None
            return ApiError(
                status, str(exc), code=code, param=param or given, headers=dict(headers)
            )
    if isinstance(exc, store_errors.CorruptCollectionError):
        return ApiError(500, str(exc), code="collection_corrupt", param=param)
    if isinstance(exc, store_errors.UnknownCollectionError):
        return ApiError(404, str(exc), code="collection_not_found", param=param)
    if isinstance(exc, store_errors.CollectionExistsError):
        return ApiError(409, str(exc), code="collection_exists", param=param)
    if isinstance(
        exc,
        store_errors.CollectionLockedError | store_errors.StoreConnectionError,
    ):
        return ApiError(503, str(exc), code="collection_unavailable", headers={"Retry-After": "5"})
    upstream = _upstream_error(exc)
    if upstream is not None:
        return upstream
    if isinstance(exc, lib_errors.UnknownModelError):
        return ApiError(404, str(exc), code="model_not_found", param=param or "model")
    if isinstance(
        exc,
        lib_errors.ModelNotInstalledError
        | lib_errors.MissingExtraError
        | lib_errors.ModelFormatError,
    ):
        return ApiError(503, str(exc), code="model_unavailable")
    code = {
        lib_errors.NotFittedError: "model_not_fitted",
        lib_errors.DataFormatError: "invalid_file",
        lib_errors.OutputError: "output_error",
    }.get(type(exc), "invalid_request")
    return ApiError(400, str(exc), code=code, param=param)


def _upstream_error(exc: lib_errors.EmbedlabError) -> ApiError | None:
    """A served remote model's upstream failure is a gateway's problem, not the caller's.

    The caller's own input was checked here first, so only an upstream 400/413/422 stays a 400;
    an upstream that is busy is 503 with Retry-After, anything else (auth, an unknown model,
    no answer) is 502.
    """
    import sys

    remote = sys.modules.get("embedlab.embedders.remote")  # loaded only if a remote is served
    if remote is None or not isinstance(exc, remote.RemoteError):
        return None
    if isinstance(exc, remote.RemoteInputError):
        return ApiError(400, str(exc), code="upstream_refused_input")
    if exc.status in (429, 503):
        return ApiError(503, str(exc), code="upstream_busy", headers={"Retry-After": "5"})
    return ApiError(502, str(exc), code="upstream_error")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts)


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None, str]:
    """One readable sentence (plus param and code) from pydantic's list of errors."""
    if not errors:
        return "the request is invalid", None, "invalid_request"
    first = errors[0]
    kind = first.get("type", "")
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        position = first.get("loc", ())[-1:]
        where = f" at position {position[0]}" if position and isinstance(position[0], int) else ""
        return (
            f"the request body is not valid JSON ({detail}{where}); "
            'send a JSON object such as {"model": "minilm", "input": "some text"}',
            None,
            "invalid_json",
        )
    loc = tuple(first.get("loc", ()))
    name = _location(loc)
    if loc == ("body",) and kind in ("missing", "model_type", "model_attributes_type", "dict_type"):
        return (
            'the request body must be a JSON object such as {"model": "minilm", "input": "text"}',
            None,
            "invalid_type",
        )
    top = name.split(".")[0] if name else None
    if top == "input" and kind != "missing":
        return (
            "input must be a non-empty string, a list of strings, a list of token ids "
            "(whole numbers) or a list of lists of token ids"
            + (f"; {first.get('msg')}" if "input" in name and first.get("msg") else ""),
            "input",
            "invalid_type",
        )
    if kind == "missing":
        return f"the field {name!r} is required", top, "missing_field"
    got = first.get("input")
    shown = repr(got) if isinstance(got, int | float | str | bool | None) else type(got).__name__
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{name or 'request'}: {first.get('msg')}, got {shown[:80]}{more}", top, "invalid_type"


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure through :func:`error_body`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(lib_errors.EmbedlabError)
    async def _library_error(request: Request, exc: lib_errors.EmbedlabError) -> JSONResponse:
        return from_library_error(exc, private=request.app.state.embedlab.private).response()

    @app.exception_handler(sqlite3.DatabaseError)
    async def _database(request: Request, exc: sqlite3.DatabaseError) -> JSONResponse:
        # the store turns these into CorruptCollectionError; one that slips through is still
        # answered in one line, never with sqlite's own text
        log.exception("database error on %s %s", request.method, request.url.path)
        return ApiError(
            500,
            f"a collection's database failed ({type(exc).__name__}); the server log has details",
            code="collection_corrupt",
        ).response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = validation_message(list(exc.errors()))
        return ApiError(422, message, param=param, code=code).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        headers = dict(exc.headers or {})
        return ApiError(exc.status_code, message, code=code, headers=headers).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return ApiError(
            500,
            f"internal error ({type(exc).__name__}); the server log has the details",
            code="internal_error",
        ).response()
