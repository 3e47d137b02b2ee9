"""What the server core refuses, as embedlab errors: no status codes here.

The core (served models, batcher, jobs, collections) knows nothing of HTTP; ``server.http.errors``
maps each class to a status and an OpenAI error code. ``param`` names the request field at fault,
where there is one, so the HTTP layer can fill OpenAI's ``param``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from embedlab.errors import EmbedlabError, InputError


class ServerError(EmbedlabError):
    """Base of the core's own refusals; ``param`` is the request field at fault, if any."""

    param: str | None = None

    def __init__(self, problem: str, hint: str | None = None, *, param: str | None = None) -> None:
        super().__init__(problem, hint)
        if param is not None:
            self.param = param


class BusyError(ServerError):
    """The model's queue, or its budget of tokens in flight, is full; retry shortly."""


class QueueFullError(BusyError):
    """The model's queue holds as many inputs as it may."""


class TokensInFlightError(BusyError):
    """The tokens already being prepared or computed for a model reach its cap."""


class ShuttingDownError(ServerError):
    """The server is stopping; work still queued will not run."""


class TooManyTokensError(ServerError, InputError):
    """An input over the token limit, with ``truncate`` off."""

    param = "input"

    def __init__(self, index: int, tokens: int, limit: int, *, at_least: bool = False) -> None:
        self.index, self.tokens, self.limit, self.at_least = index, tokens, limit, at_least
        count = f"at least {tokens}" if at_least else str(tokens)
        super().__init__(
            f"input {index} has {count} tokens, more than the {limit} this model takes",
            'shorten it, or send "truncate": true to cut it to the first tokens',
        )

    def shifted(self, offset: int) -> TooManyTokensError:
        """The same refusal for the input ``offset`` places further on."""
        return TooManyTokensError(
            self.index + offset, self.tokens, self.limit, at_least=self.at_least
        )


class TokenIdsUnsupportedError(ServerError, InputError):
    """A word model was sent token ids: it has no subword tokenizer to read them."""

    param = "input"


class InvalidTokenIdError(ServerError, InputError):
    """A token id outside the model's vocabulary, or ids that cannot be decoded."""

    param = "input"


class EmptyInputError(ServerError, InputError):
    """An input that is (or decodes to) no text."""

    param = "input"


class PathNotAllowedError(ServerError):
    """A job path outside the data folder, or any path when the server takes none."""

    param = "path"


class InvalidPathError(ServerError, InputError):
    """A job path that is empty, holds '..' or is not a usable file name."""

    param = "path"


class DataFileNotFoundError(ServerError, InputError):
    """A job path inside the data folder that names no file."""

    param = "path"


class ModelNotServedError(ServerError):
    """A collection's model is not one this server serves, so its texts cannot be embedded."""


class ModelMismatchError(ServerError):
    """A job asked for another model than the one its target collection was made with."""

    param = "model"


class UnavailableError(ServerError):
    """A part of the server (collections, jobs) is not running."""


def scrub_paths(text: str, roots: Iterable[str | os.PathLike[str]]) -> str:
    """``text`` with the server's own folders left out: ``ROOT/a/b`` becomes ``a/b``.

    Why: error messages from the library name files by their full path, which tells a caller
    how the server's disk is laid out; callers know their files by the names they gave.
    """
    names = {str(Path(root)) for root in roots if str(root)}
    names |= {str(Path(root).resolve()) for root in names}
    for root in sorted(names, key=len, reverse=True):
        text = text.replace(root + os.sep, "").replace(root, Path(root).name)
    return text
