"""Images to one RGB PIL image, done once for every image model.

Files and bytes are opened with Pillow, which reads the size from the header first: an image
over the pixel limit is refused before it is decoded. Arrays are greyscale ``(h, w)`` or
``(h, w, 3|4)``, uint8 or floats in [0, 1].
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from embedlab.extras import require
from embedlab.media.errors import MediaFormatError, MediaTooLongError
from embedlab.media.inputs import describe, local_path

DEFAULT_MAX_PIXELS = 40_000_000  # 40 megapixels: a large photo; Pillow's own bomb limit is 89M


def _pil() -> Any:
    return require("PIL.Image", "image")


def _check_size(width: int, height: int, name: str, max_pixels: int | None, model: str) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise MediaTooLongError(
            f"{name} is {width}x{height} pixels, more than the {max_pixels:,} {model} takes",
            "shrink the image first, or load the model with a larger max_pixels",
        )


def _open(source: Any, name: str, max_pixels: int | None, model: str) -> Any:
    image_module = _pil()
    try:
        image = image_module.open(source)
        _check_size(image.width, image.height, name, max_pixels, model)
        image.load()
    except image_module.UnidentifiedImageError:
        raise MediaFormatError(
            f"{name} is not an image Pillow can read",
            "pass a PNG, JPEG, GIF, BMP, TIFF or WebP file",
        ) from None
    except (OSError, SyntaxError, ValueError, image_module.DecompressionBombError) as exc:
        raise MediaFormatError(
            f"{name} cannot be decoded as an image ({exc})", "pass an intact image file"
        ) from None
    return image


def _from_array(array: np.ndarray, name: str) -> Any:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise MediaFormatError(
            f"{name} is an array of shape {array.shape}, not an image",
            "pass (h, w) greyscale or (h, w, 3) RGB; for several images pass a list",
        )
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise MediaFormatError(f"{name} holds NaN or infinite pixels", "fix the pixels")
        array = np.clip(array * 255.0 if array.max(initial=0) <= 1.0 else array, 0, 255)
    elif array.dtype.kind not in "iub":
        raise MediaFormatError(f"{name} is an array of {array.dtype}, not pixels", None)
    return _pil().fromarray(np.ascontiguousarray(array.astype(np.uint8)))


def read_image(
    item: Any,
    *,
    index: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    model: str = "this model",
) -> Any:
    """Decode one item to an RGB PIL image; every failure names the item and the fix."""
    name = describe(item, index)
    path = local_path(item, index, "image", model)
    if path is not None:
        image = _open(path, name, max_pixels, model)
    elif isinstance(item, bytes | bytearray | memoryview):
        if not len(item):
            raise MediaFormatError(f"{name} is empty", "pass the bytes of an image file")
        image = _open(io.BytesIO(bytes(item)), name, max_pixels, model)
    elif isinstance(item, np.ndarray):
        image = _from_array(item, name)
        _check_size(image.width, image.height, name, max_pixels, model)
    elif type(item).__module__.startswith("PIL."):
        image = item
        _check_size(image.width, image.height, name, max_pixels, model)
    else:
        raise MediaFormatError(
            f"{name} is not an image",
            "pass a file path, the file's bytes, a numpy array or a PIL image",
        )
    return image if image.mode == "RGB" else image.convert("RGB")


def pixels(image: Any, size: int, *, grey: bool = False) -> np.ndarray:
    """An RGB PIL image as ``(size, size)`` (grey) or ``(size, size, 3)`` floats in [0, 1]:
    the whole image squashed to a square, so every image gives the same layout."""
    resample = _pil().Resampling.BILINEAR
    small = image.convert("L" if grey else "RGB").resize((size, size), resample)
    return np.asarray(small, dtype=np.float32) / 255.0
