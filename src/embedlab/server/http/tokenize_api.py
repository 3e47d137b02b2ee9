"""``POST /tokenize``: the token walkthrough of one text (tokens, ids, lookup, pooled vector).

The same data as ``embedlab tokenize --json`` and ``Embedder.embed_tokens(text).to_dict()``; it
runs in the model's pre-processing thread, where all use of its tokenizer happens.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictStr, field_validator

from embedlab.server.http.auth import require_api_key
from embedlab.server.http.errors import ApiError
from embedlab.server.http.limits import check_inputs
from embedlab.server.http.openai_api import _utf8
from embedlab.server.http.state import get_state

router = APIRouter(dependencies=[Depends(require_api_key)], tags=["Walkthrough"])


class TokenizeRequest(BaseModel):
    text: StrictStr = Field(description="The text to walk through")
    model: str | None = Field(default=None, description="A served model; default: the first")
    dims: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=8, description="Keep only the first N dimensions of each vector (null: all)"
    )

    @field_validator("text")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        return _utf8(value)


@router.post("/tokenize", summary="The token walkthrough of one text")
async def tokenize(body: TokenizeRequest, request: Request) -> dict[str, Any]:
    state = get_state(request)
    model = state.find_model(body.model) if body.model else next(iter(state.models.values()))
    (text,) = check_inputs(
        [body.text],
        max_inputs=1,
        max_chars=state.config.max_chars_per_input,
        truncate=False,
    )

    def walk() -> dict[str, Any]:
        return model.embedder.embed_tokens(text).to_dict(dims=body.dims)

    try:
        return await asyncio.wait_for(
            state.batcher(model).in_prep_thread(walk), state.config.request_timeout_s
        )
    except TimeoutError:
        raise ApiError(503, "the walkthrough timed out", code="timeout") from None
