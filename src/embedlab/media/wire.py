"""Media items on the wire: ``{"type": "audio" | "image", "data": BASE64}``, decoded with limits.

The server's ``/v1/embeddings`` takes such items as a documented extension of OpenAI's format.
Only the bytes travel: a server never reads a path a client names. Each item is checked here,
before any model runs: its type against what the model takes, its base64, its size, and a
clip's length or an image's pixels from the file header (nothing is decoded in full here).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.media.errors import MediaFormatError, MediaTooLongError, WrongInputKindError
from embedlab.media.inputs import TAKES


@dataclass(frozen=True)
class WireLimits:
    """Per request: items, decoded bytes per item, seconds per clip, pixels per image."""

    max_items: int = 64
    max_bytes: int = 8 << 20
    max_seconds: float = 60.0
    max_pixels: int = 16_000_000


def is_media_item(value: Any) -> bool:
    """A ``{"type": ..., "data": ...}`` item (a dict or a pydantic model of one)."""
    if isinstance(value, dict):
        return "type" in value
    return hasattr(value, "type") and hasattr(value, "data")


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _check_header(data: bytes, kind: str, index: int, limits: WireLimits) -> None:
    where = f"input {index}"
    if kind == "audio":
        soundfile = require("soundfile", "audio")
        try:
            info = soundfile.info(io.BytesIO(data))
        except (soundfile.SoundFileError, RuntimeError):
            raise MediaFormatError(
                f"{where} is not audio soundfile can read", "send a WAV, FLAC, OGG or MP3 file"
            ) from None
        seconds = info.frames / info.samplerate if info.samplerate else 0.0
        if seconds > limits.max_seconds:
            raise MediaTooLongError(
                f"{where} is {seconds:.1f} s long, more than the {limits.max_seconds:g} s "
                "this server takes per clip",
                "cut it into shorter clips",
            )
    else:
        image_module = require("PIL.Image", "image")
        try:
            with image_module.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (image_module.UnidentifiedImageError, OSError):
            raise MediaFormatError(
                f"{where} is not an image Pillow can read", "send a PNG, JPEG, GIF or WebP file"
            ) from None
        if width * height > limits.max_pixels:
            raise MediaTooLongError(
                f"{where} is {width}x{height} pixels, more than the {limits.max_pixels:,} "
                "this server takes per image",
                "shrink it first",
            )


def decode_items(
    items: Sequence[Any], kind: str, model: str, limits: WireLimits = WireLimits()
) -> list[bytes]:
    """The file bytes of each item, every limit checked; errors name the item."""
    if kind == "text":
        raise WrongInputKindError(
            f"the model {model!r} embeds text, not audio or images",
            "send texts as input, or ask for an audio or image model",
        )
    if not items:
        raise InputError("no inputs to embed", "send at least one item")
    if len(items) > limits.max_items:
        raise InputError(
            f"{len(items)} media items in one request, more than the {limits.max_items} allowed",
            "split them over several requests",
        )
    out = []
    for i, item in enumerate(items):
        if not is_media_item(item):
            raise WrongInputKindError(
                f"the model {model!r} takes {TAKES[kind]}; input {i} is not a media item",
                f'send {{"type": "{kind}", "data": BASE64}} items',
            )
        given = _field(item, "type")
        if given != kind:
            raise WrongInputKindError(
                f"input {i} is of type {given!r}, but the model {model!r} takes {kind}",
                f'send {{"type": "{kind}", "data": BASE64}} items to this model',
            )
        text = _field(item, "data")
        if not isinstance(text, str) or not text:
            raise InputError(f"input {i} has no data", "put the file's bytes, base64, in data")
        if len(text) > (limits.max_bytes * 4) // 3 + 4:
            raise MediaTooLongError(
                f"input {i} is larger than the {limits.max_bytes:,} bytes allowed per item",
                "send a smaller file",
            )
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                f"input {i}'s data is not valid base64",
                "encode the file's bytes with standard base64",
            ) from None
        if not data:
            raise InputError(f"input {i}'s data is empty", "send the file's bytes")
        _check_header(data, kind, i, limits)
        out.append(data)
    return out
