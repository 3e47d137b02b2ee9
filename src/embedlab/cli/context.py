"""`embedlab context WORD TEXT1 TEXT2 ...`: one word's contextual vectors, compared across texts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import embedlab
from embedlab.cli.embed import DEFAULT_MODEL
from embedlab.embedders.transformers.context import compare_contexts


def parse_layer(value: str | None) -> int | str | None:
    """``--layer``: an index (0 = embeddings, -1 = last), ``mix`` or ``last``."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value.strip().lower()


def context_command(
    word: Annotated[str, typer.Argument(help="The word (or phrase) to follow, e.g. bank.")],
    texts: Annotated[list[str], typer.Argument(help="Two or more texts that contain the word.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="A transformer: name, saved or HF folder.")
    ] = DEFAULT_MODEL,
    layer: Annotated[
        str | None,
        typer.Option(help="Hidden state: index (0 = embeddings, -1 = last), 'mix' or 'last'."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Show how far apart the vectors of one word are in different contexts, layer by layer."""

    embedder = embedlab.load(model)
    # compare_contexts refuses a model without contexts itself, with a clear message
    result = compare_contexts(embedder, word, texts, layer=parse_layer(layer))  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(
        f"[bold]{escape(repr(word))}[/] in {len(texts)} contexts, "
        f"{escape(str(result.model))}: {escape(str(result.layer))}",
        highlight=False,
    )
    contexts = Table(show_edge=False)
    contexts.add_column("#", justify="right")
    contexts.add_column("text")
    contexts.add_column("subword tokens")
    for n, context in enumerate(result.contexts, start=1):
        start, end = context.span
        text = context.text
        marked = f"{escape(text[:start])}[bold]{escape(text[start:end])}[/]{escape(text[end:])}"
        contexts.add_row(str(n), marked, escape(" ".join(context.tokens)))
    console.print(contexts)

    console.print("cosine similarity of the word's vectors (1 = same direction):")
    matrix = Table(show_edge=False)
    matrix.add_column("")
    for n in range(1, len(texts) + 1):
        matrix.add_column(str(n), justify="right")
    for n, row in enumerate(result.similarity, start=1):
        matrix.add_row(str(n), *(f"{value:.3f}" for value in row))
    console.print(matrix)
    i, j, cosine = result.most_different()
    console.print(
        f"most different: {i + 1} and {j + 1}, cosine {cosine:.3f} (distance {1 - cosine:.3f}); "
        f"the embedding-table rows (no context) give {result.lookup_similarity:.3f}",
        highlight=False,
    )
    layers = " ".join(f"{value:.2f}" for value in result.layer_similarity.tolist())
    console.print(
        f"mean cosine between the contexts, hidden state 0 (embeddings) to "
        f"{len(result.layer_similarity) - 1} (last): {layers}",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
