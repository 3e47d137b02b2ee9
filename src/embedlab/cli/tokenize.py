"""`embedlab tokenize`: every step from a text to its vector, shown token by token."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import embedlab
from embedlab.cli.embed import DEFAULT_MODEL
from embedlab.data import sample_texts


def _fmt(vector: np.ndarray, dims: int) -> str:
    """Leading dims of a dense vector; for a sparse one (one-hot, TF-IDF) its non-zero entries."""
    nonzero = np.flatnonzero(vector)
    if len(vector) > 2 * dims and len(nonzero) < len(vector) / 10:
        shown = ", ".join(f"{i}: {vector[i]:.3f}" for i in nonzero[:dims])
        more = f", … ({len(nonzero)} non-zero)" if len(nonzero) > dims else ""
        return f"{{{shown}{more}}}" if len(nonzero) else "all zero"
    head = " ".join(f"{x:+.3f}" for x in vector[:dims])
    more = " …" if len(vector) > dims else ""
    return f"[{head}{more}]"


def tokenize_command(
    text: Annotated[str, typer.Argument(help="The text to walk through.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name, method or saved folder.")
    ] = DEFAULT_MODEL,
    dims: Annotated[
        int, typer.Option(min=1, help="How many leading dimensions of each vector to show.")
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the walkthrough as JSON.")] = False,
) -> None:
    """Show tokens, token ids, embedding lookup, contextual vectors and the pooled vector."""

    embedder = embedlab.load(model)
    fitted_note = None
    if embedder.trainable and not embedder.is_fitted:
        embedder.fit([*sample_texts(), text])
        fitted_note = "fitted on the bundled sample of 40 sentences plus this text"
    walk = embedder.embed_tokens(text)
    if fitted_note:
        walk.notes.append(fitted_note)
    if as_json:
        typer.echo(json.dumps(walk.to_dict(dims=dims), ensure_ascii=False, indent=2))
        return

    console = Console()
    console.print(
        f"[bold]{escape(walk.model)}[/] ({embedder.method}, {embedder.dim} dims): "
        f"{escape(repr(walk.text))}"
    )
    console.print(f"1. tokens    {walk.tokens}", markup=False)
    console.print(f"2. token ids {walk.ids}", markup=False)
    table = Table(
        title="3. embedding lookup"
        + (" and 4. contextual vectors" if walk.contextual is not None else "")
    )
    table.add_column("#", justify="right")
    table.add_column("token")
    table.add_column("id", justify="right")
    table.add_column(f"lookup (first {dims} dims)")
    table.add_column("norm", justify="right")
    if walk.contextual is not None:
        table.add_column(f"contextual, last layer (first {dims})")
        table.add_column("norm", justify="right")
    for i, token in enumerate(walk.tokens):
        row = [
            str(i),
            escape(token),
            str(walk.ids[i]),
            _fmt(walk.lookup[i], dims),
            f"{np.linalg.norm(walk.lookup[i]):.3f}",
        ]
        if walk.contextual is not None:
            row += [_fmt(walk.contextual[i], dims), f"{np.linalg.norm(walk.contextual[i]):.3f}"]
        table.add_row(*row)
    console.print(table)
    step = 5 if walk.contextual is not None else 4
    console.print(
        f"{step}. pooled vector ({walk.pooling}): {_fmt(walk.vector, dims)} "
        f"norm {np.linalg.norm(walk.vector):.3f}, {len(walk.vector)} dims",
        highlight=False,
    )
    for note in walk.notes:
        console.print(f"   note: {note}", highlight=False, markup=False)
