"""One exception hierarchy for everything a user can get wrong.

Every message says what is wrong and what to do about it, so the CLI can print it as one line and
the server can return it as a 4xx body without a stack trace.
"""

from __future__ import annotations


class EmbedlabError(Exception):
    """Base of every error embedlab raises on purpose.

    ``problem`` says what is wrong, ``hint`` what to do; ``str()`` joins them in one line.
    """

    exit_code = 2

    def __init__(self, problem: str, hint: str | None = None) -> None:
        self.problem = problem
        self.hint = hint
        hint_text = f"{hint[:1].upper()}{hint[1:]}" if hint else ""
        super().__init__(f"{problem}. {hint_text}" if hint else problem)


class InputError(EmbedlabError, ValueError):
    """The texts, tokens or arguments handed to a call are unusable (empty, wrong type, ...)."""


class DataFormatError(EmbedlabError, ValueError):
    """An input file cannot be read as the format it claims (not UTF-8, missing field, ...)."""


class UnknownModelError(EmbedlabError, KeyError):
    """A name is neither a registered method, a catalogue model, nor a saved model folder."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class UnknownWordError(InputError, KeyError):
    """A word is not in a word model's vocabulary (a KeyError too, as gensim users expect)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class ModelNotInstalledError(EmbedlabError):
    """A catalogue model is known but the package that carries its weights is missing."""


class NotFittedError(EmbedlabError):
    """A trainable embedder was asked to embed before ``fit``."""


class ModelFormatError(EmbedlabError):
    """A saved model folder is missing files, corrupt, or written by an incompatible version."""


class OutputError(EmbedlabError):
    """An output path cannot be written, or a resume does not match the run it would continue."""


class InputTooLongError(InputError):
    """An input has more tokens than allowed and the caller asked not to truncate it.

    ``index``, ``tokens`` and ``limit`` let a caller (the server) word its own answer.
    """

    def __init__(self, index: int, tokens: int, limit: int) -> None:
        self.index, self.tokens, self.limit = index, tokens, limit
        super().__init__(
            f"text {index} has {tokens} tokens, more than the {limit} allowed",
            "shorten it, or allow truncation to keep its first tokens",
        )
