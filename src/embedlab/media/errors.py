"""The errors of media inputs: one line each, naming the item, the problem and the fix."""

from __future__ import annotations

from embedlab.errors import DataFormatError, InputError


class WrongInputKindError(InputError):
    """An input of one kind (a text) was handed to a model of another (a voice model)."""


class MediaFormatError(DataFormatError):
    """A file or bytes that cannot be decoded as the audio or image the model takes."""


class MediaTooLongError(InputError):
    """A clip longer, or an image larger, than the model's limit allows."""
