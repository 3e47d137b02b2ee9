"""The OpenAI-compatible routes: ``POST /v1/embeddings``, ``GET /v1/models[/{id}]``.

The wire format is OpenAI's, field for field, so the official clients (``openai``, LangChain,
LlamaIndex) work unchanged against ``base_url="http://HOST:PORT/v1"``. ``base64`` is the raw
little-endian float32 bytes of each vector, which is what the ``openai`` client asks for by
default and decodes with ``np.frombuffer(..., dtype="float32")``.

Extensions: ``truncate: true`` cuts over-long inputs instead of refusing them with 400; audio
and image models take ``input`` items ``{"type": "audio" | "image", "data": BASE64}``
(:mod:`embedlab.server.http.media_input`).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from embedlab.embedders.base import l2_normalize
from embedlab.server.core.errors import QueueFullError, TokensInFlightError
from embedlab.server.core.served import ServedModel
from embedlab.server.http.auth import require_api_key
from embedlab.server.http.errors import ApiError
from embedlab.server.http.limits import check_count, check_inputs
from embedlab.server.http.media_input import MediaItem, embed_media, wants_media
from embedlab.server.http.state import ServerState, get_state

try:  # JSON of float vectors is the costliest step of a small request; orjson is ~20x faster
    import orjson
except ImportError:  # pragma: no cover - the standard library does the same, slower
    orjson = None  # type: ignore[assignment]

TokenId = Annotated[StrictInt, Field(ge=0)]
# list[MediaItem]: {"type": "audio" | "image", "data": BASE64} items (extension; media_input.py)
EmbeddingInput = StrictStr | list[StrictStr] | list[TokenId] | list[list[TokenId]] | list[MediaItem]

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["OpenAI-compatible"])


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (it holds a lone surrogate)") from None
    return text


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request, plus ``truncate``."""

    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(min_length=1, max_length=512, description="A served model's id")]
    input: EmbeddingInput = Field(
        description="A text, a list of texts, a list of token ids, or a list of lists of them"
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="Keep the first N dimensions, then re-normalise"
    )
    user: str | None = Field(default=None, max_length=512)
    truncate: bool = Field(
        default=False, description="Cut over-long inputs instead of refusing them (extension)"
    )

    @field_validator("input")
    @classmethod
    def _valid_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _utf8(value)
        if value and isinstance(value[0], str):
            for text in value:
                _utf8(text)
        return value


def _texts_or_ids(value: Any) -> tuple[list[str] | None, list[list[int]] | None]:
    if isinstance(value, str):
        return [value], None
    if not value:
        return [], None
    if isinstance(value[0], int):
        return None, [value]
    if isinstance(value[0], list):
        return None, value
    return list(value), None


async def embed_texts(
    state: ServerState, model: ServedModel, raw_input: Any, *, truncate: bool
) -> tuple[np.ndarray, int]:
    """The embedding work of a request: limits, then the batcher's bounded work.

    Returns (vectors, prompt tokens). The request's size (inputs, characters) is checked
    before anything is tokenised; the batcher then tokenises and embeds it piece by piece.
    """
    config = state.config
    batcher = state.batcher(model)
    texts, id_lists = _texts_or_ids(raw_input)
    if id_lists is not None:
        check_count(len(id_lists), config.max_inputs_per_request)
        if any(not ids for ids in id_lists):
            raise ApiError(400, "a list of token ids is empty", param="input", code="empty_input")
        texts = await batcher.in_prep_thread(model.decode, id_lists)
    texts = check_inputs(
        texts or [],
        max_inputs=config.max_inputs_per_request,
        max_chars=config.max_chars_per_input,
        truncate=truncate,
        max_total_chars=config.max_chars_per_request,
    )
    limit = state.token_limit(model)
    try:
        async with asyncio.timeout(config.request_timeout_s):  # no task per request, as wait_for
            vectors, tokens = await batcher.embed_texts(texts, limit, truncate)
    except QueueFullError:
        state.metrics.rejected.labels(reason="queue_full").inc()
        raise
    except TokensInFlightError:
        state.metrics.rejected.labels(reason="tokens_in_flight").inc()
        raise
    except TimeoutError:
        state.metrics.rejected.labels(reason="timeout").inc()
        raise ApiError(
            503,
            f"the request took longer than {config.request_timeout_s:g} s; retry, or send fewer inputs",
            code="timeout",
            headers={"Retry-After": "1"},
        ) from None
    if config.normalize and not model.unit_vectors:
        vectors = l2_normalize(vectors)
    return vectors, tokens


@router.post(
    "/v1/embeddings",
    summary="Create embeddings (OpenAI-compatible)",
    responses={
        400: {"description": "Bad input"},
        401: {"description": "Missing or wrong API key"},
        404: {"description": "Unknown model"},
        413: {"description": "Body too large"},
        422: {"description": "Malformed JSON or wrong types"},
        429: {"description": "Rate limited"},
        503: {"description": "Queue full or timed out"},
    },
)
async def create_embeddings(body: EmbeddingRequest, request: Request) -> Response:
    """Documents the route; requests are normally answered by :mod:`.fastpath`."""
    payload = await embeddings_payload(get_state(request), body)
    return Response(payload, media_type="application/json")


async def embeddings_payload(state: ServerState, body: EmbeddingRequest) -> bytes:
    """The whole of ``POST /v1/embeddings`` after parsing: the JSON bytes of the response."""
    model = state.find_model(body.model)
    if body.dimensions is not None and body.dimensions > model.dim:
        raise ApiError(
            400,
            f"dimensions is {body.dimensions}, but {model.id!r} makes {model.dim}-dimensional "
            f"vectors; ask for at most {model.dim}",
            param="dimensions",
            code="invalid_dimensions",
        )
    if wants_media(model, body.input):  # audio and image items: see media_input.py
        vectors, tokens = await embed_media(state, model, body.input)
    else:
        vectors, tokens = await embed_texts(state, model, body.input, truncate=body.truncate)
    if body.dimensions is not None and body.dimensions < model.dim:
        vectors = l2_normalize(np.ascontiguousarray(vectors[:, : body.dimensions]))
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    if body.encoding_format == "base64":
        encoded: list[Any] = [base64.b64encode(row.tobytes()).decode("ascii") for row in vectors]
    elif orjson is not None:
        encoded = list(vectors)  # orjson writes float32 rows directly (shortest exact repr)
    else:
        encoded = vectors.tolist()
    payload = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(encoded)
        ],
        "model": model.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    if orjson is not None:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(payload, separators=(",", ":")).encode()


@router.get("/v1/models", summary="List the served models")
async def list_models(request: Request) -> dict[str, Any]:
    state = get_state(request)
    return {"object": "list", "data": [model.info() for model in state.models.values()]}


@router.get("/v1/models/{model_id:path}", summary="One served model")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    return get_state(request).find_model(model_id, param="model_id").info()
