"""What one media item is, and how an ``embed`` argument becomes a list of them.

An item is a file path (``str`` or ``os.PathLike``), the file's bytes, a numpy array (audio:
``(samples,)`` or ``(samples, channels)``; images: ``(h, w)`` or ``(h, w, channels)``), for
audio also ``(array, sample_rate)``, for images also a PIL image. One item gives one vector; a
list gives a matrix. A string that names no file is taken for a text handed to a model that
does not read texts, and refused with what the model takes instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import InputError
from embedlab.media.errors import WrongInputKindError

KINDS = ("text", "audio", "image")
TAKES = {
    "audio": "audio (a file path, the file's bytes, a numpy array, or (array, sample_rate))",
    "image": "images (a file path, the file's bytes, a numpy array, or a PIL image)",
}
EXAMPLES = {"audio": "'clip.wav'", "image": "'photo.jpg'"}


def is_single(value: Any) -> bool:
    """Whether ``value`` is one item (not a list of them)."""
    if isinstance(value, str | bytes | bytearray | memoryview | os.PathLike | np.ndarray):
        return True
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], np.ndarray):
        return True  # (array, sample_rate)
    return type(value).__module__.startswith("PIL.")  # a PIL image


def as_items(inputs: Any, kind: str, model: str) -> tuple[list[Any], bool]:
    """``(items, single)`` for an ``embed`` argument; an empty or non-list one is refused."""
    if is_single(inputs):
        return [inputs], True
    if isinstance(inputs, dict) or not isinstance(inputs, Iterable):
        raise InputError(
            f"{model} takes {TAKES[kind]} or a list of them, got {type(inputs).__name__}",
            f"pass e.g. [{EXAMPLES[kind]}]",
        )
    items = list(inputs)
    if not items:
        raise InputError(f"no {kind} inputs to embed", f"pass at least one, e.g. {EXAMPLES[kind]}")
    return items, False


def article(kind: str) -> str:
    """``"an audio"`` / ``"an image"`` / ``"a text"``."""
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def describe(item: Any, index: int) -> str:
    """How a message names an item: its file name, else its position and type."""
    if isinstance(item, str | os.PathLike):
        return str(item)
    return f"input {index} ({type(item).__name__})"


def local_path(item: Any, index: int, kind: str, model: str) -> Path | None:
    """The file an item names, or None for bytes and arrays; a text is refused clearly."""
    if not isinstance(item, str | os.PathLike):
        return None
    path = Path(item).expanduser()
    if path.is_file():
        return path
    text = str(item)
    if path.is_dir():
        raise InputError(
            f"{text} is a folder, not {article(kind)} file", f"pass the {kind} files in it"
        )
    looks_like_path = isinstance(item, os.PathLike) or (
        path.suffix and " " not in text and len(text) < 4096
    )
    if looks_like_path:
        raise InputError(f"no {kind} file at {text}", "check the path")
    shown = text if len(text) <= 40 else text[:37] + "..."
    raise WrongInputKindError(
        f"{model} takes {TAKES[kind]}, not text: input {index} is {shown!r} and names no file",
        f"pass the path of {article(kind)} file, or embed texts with a text model such as 'minilm'",
    )


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"unknown input kind {kind!r}", f"use one of {', '.join(KINDS)}")
    return kind
