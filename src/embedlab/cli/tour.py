"""`embedlab tour` (what `make run` shows): three approaches side by side on real sentences."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import embedlab
from embedlab.apps.search import top_k
from embedlab.data import sample_texts

TOUR_MODELS = ("tfidf", "glove-50d", "minilm")
TOUR_QUERIES = (
    "How long should I boil spaghetti?",
    "Which team won the game?",
    "Exploring other planets with robots",
    "The bank put up the cost of borrowing.",
)


def tour_command(
    models: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Approaches to compare.")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Neighbours to show per query.")] = 3,
) -> None:
    """Embed the bundled sample texts with three approaches and show each one's nearest neighbours."""

    console = Console()
    texts = sample_texts()
    console.print(
        f"[bold]embedlab tour[/]: {len(texts)} sample sentences, {len(TOUR_QUERIES)} queries, "
        f"approaches: {escape(', '.join(models or TOUR_MODELS))}\n"
    )
    results = {}
    for name in models or TOUR_MODELS:
        started = time.perf_counter()
        embedder = embedlab.load(name)
        if embedder.trainable and not embedder.is_fitted:
            embedder.fit(texts)
        docs = embedder.embed(texts)
        queries = embedder.embed(list(TOUR_QUERIES))
        results[name] = top_k(queries, docs, k)
        console.print(
            f"  {name:<10} {embedder.dim:>5} dims  {time.perf_counter() - started:5.2f} s (load + embed)",
            highlight=False,
            markup=False,
        )
    for q, query in enumerate(TOUR_QUERIES):
        table = Table(title=f"query: {query!r}", show_lines=False, title_justify="left")
        table.add_column("approach")
        table.add_column("score", justify="right")
        table.add_column("nearest sample sentence")
        for name, (indices, scores) in results.items():
            for rank in range(indices.shape[1]):
                table.add_row(
                    escape(name) if rank == 0 else "",
                    f"{scores[q, rank]:.3f}",
                    escape(texts[indices[q, rank]]),
                )
        console.print()
        console.print(table)
    console.print(
        "\nTF-IDF matches shared words only; averaged GloVe vectors know related words; MiniLM "
        "reads the whole sentence (note the last query: 'bank' as in money, not rivers)."
    )
