"""Value checks shared by every embedder's options, with one message shape.

Why a module of their own: word models, graph models and the option declarations of every
embedder check the same things (a count of at least 1, a fraction, one of a few names), and a
user should read the same sentence whichever model refused the value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

from embedlab.errors import InputError
from embedlab.threads import resolve_threads

Check = Callable[[str, Any], Any]  # (option name, value) -> the value to keep, or InputError


def check_positive(name: str, value: float, minimum: float = 1) -> None:
    """One message shape for every out-of-range training setting."""
    if (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, Real)
        or not value >= minimum
    ):
        raise InputError(
            f"{name} must be at least {minimum}, got {value}", f"set {name} >= {minimum}"
        )


def whole(minimum: int = 1, *, optional: bool = False) -> Check:
    """A whole number of at least ``minimum`` (None too if ``optional``), kept as an int."""

    def check(name: str, value: Any) -> Any:
        if value is None and optional:
            return None
        check_positive(name, value, minimum)
        return int(value)

    return check


def number(minimum: float = 0) -> Check:
    """A number of at least ``minimum``, kept as a float."""

    def check(name: str, value: Any) -> Any:
        check_positive(name, value, minimum)
        return float(value)

    return check


def flag(name: str, value: Any) -> bool:
    """A yes/no option, kept as a bool."""
    return bool(value)


def optional_flag(name: str, value: Any) -> bool | None:
    """A yes/no option where None means "decide from the data"."""
    return None if value is None else bool(value)


def one_of(choices: Sequence[Any], hint: str = "") -> Check:
    """One of ``choices``, kept as given."""

    def check(name: str, value: Any) -> Any:
        if value not in choices:
            raise InputError(
                f"unknown {name} {value!r}",
                hint or f"use one of: {', '.join(repr(c) for c in choices)}",
            )
        return value

    return check


def optional_text(name: str, value: Any) -> str | None:
    """A path or name, kept as a str (None stays None)."""
    return None if value is None else str(value)


def path_text(name: str, value: Any) -> str:
    """A model path or name, kept as a str."""
    return str(value)


def integer(name: str, value: Any) -> int:
    """Any whole number (a seed), kept as an int."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InputError(f"{name} must be a whole number, got {value!r}", f"e.g. {name}=1")
    return int(value)


def threads(name: str, value: Any) -> Any:
    """A thread count (or None: ``$EMBEDLAB_THREADS``, else the runtime's default), as given."""
    if value is not None:
        resolve_threads(value)
    return value
