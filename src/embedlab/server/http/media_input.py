"""``/v1/embeddings`` for audio and image models: items ``{"type": "audio", "data": BASE64}``.

A documented extension of OpenAI's format (its ``input`` takes only texts and token ids). Kept
apart from the text path (:func:`embedlab.server.http.openai_api.embed_texts`): media items are
checked and decoded by :mod:`embedlab.media.wire` (type, base64, bytes, seconds, pixels), then
embedded in the model's pre-processing thread (decoding a clip is the costly part). Only bytes
are taken: a server never reads a file a client names, so a text sent to a media model is
refused, not opened as a path.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from embedlab.embedders.base import l2_normalize
from embedlab.media.wire import WireLimits, decode_items, is_media_item
from embedlab.server.core.served import ServedModel
from embedlab.server.http.errors import ApiError
from embedlab.server.http.state import ServerState

LIMITS = WireLimits()


class MediaItem(BaseModel):
    """One audio clip or image: the file's bytes, base64 (extension of OpenAI's format)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["audio", "image"]
    data: Annotated[str, Field(min_length=1, description="The file's bytes, standard base64")]


def wants_media(model: ServedModel, raw_input: Any) -> bool:
    """Whether this request goes the media way: media items, or any input to a media model."""
    if getattr(model.embedder, "input_kind", "text") != "text":
        return True
    return isinstance(raw_input, list) and bool(raw_input) and is_media_item(raw_input[0])


async def embed_media(
    state: ServerState, model: ServedModel, raw_input: Any
) -> tuple[np.ndarray, int]:
    """Vectors of a request's media items (usage tokens: 0, media has none)."""
    kind = getattr(model.embedder, "input_kind", "text")
    items = raw_input if isinstance(raw_input, list) else [raw_input]
    data = decode_items(items, kind, model.id, LIMITS)
    batcher = state.batcher(model)
    try:
        vectors = await asyncio.wait_for(
            batcher.in_prep_thread(model.embedder.embed, data),
            state.config.request_timeout_s,
        )
    except TimeoutError:
        raise ApiError(
            503,
            f"the request took longer than {state.config.request_timeout_s:g} s; retry, "
            "or send fewer items",
            code="timeout",
            headers={"Retry-After": "1"},
        ) from None
    if state.config.normalize:
        vectors = l2_normalize(vectors)
    return vectors, 0
