"""Checks every command runs before its work: inputs readable, outputs safe to write.

A command that would fail on its output path only after an hour of training fails here first,
and hints name the options the command really has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from embedlab._io import check_parent
from embedlab.errors import FieldError, OutputError

Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace the output folder even if embedlab did not write it (its files are lost).",
    ),
]
ROW_FORMATS = (".jsonl", ".csv", ".parquet")


def check_output_file(path: Path | None, suffixes: tuple[str, ...], option: str) -> None:
    """Refuse, before any work, an output file path that is a folder, has an extension the
    command cannot write, or lies under something that is not a writable folder."""
    if path is None:
        return
    if path.suffix.lower() not in suffixes:
        raise OutputError(
            f"cannot write {path}: {option} must end in {', '.join(suffixes)}",
            f"name the {option} file e.g. out{suffixes[0]}",
        )
    if path.is_dir():
        raise OutputError(
            f"{path} is a folder, not a file",
            f"name a file for {option}, e.g. {path / 'out'}{suffixes[0]}",
        )
    check_parent(path)


@contextmanager
def field_options(options: dict[str | None, str]) -> Iterator[None]:
    """Point a missing or non-text field's hint at this command's own option for it.

    ``options`` maps a field name (as given, None for the default ``text``) to the option that
    names it, e.g. ``{"question": "--question-field"}``.
    """
    named = {("text" if field is None else field): option for field, option in options.items()}
    try:
        yield
    except FieldError as exc:
        option = named.get(exc.field)
        if option is None:
            raise
        raise FieldError(exc.problem, f"name the right one with {option}", exc.field) from None
