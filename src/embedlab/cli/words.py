"""`embedlab neighbors MODEL WORD` and `embedlab analogy MODEL a b c`: word-model queries.

MODEL is anything with word vectors: a catalogue name (``glove-50d``), a folder saved by
``embedlab train``, or a word-vector file (word2vec .bin/.txt, GloVe .txt, fastText .vec).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import embedlab
from embedlab.embedders.words.vectors import WordVectors
from embedlab.errors import InputError

ModelArg = Annotated[
    str,
    typer.Argument(
        help="Word model: glove-50d, a folder from `embedlab train`, or a .vec/.bin/.txt file."
    ),
]
Topn = Annotated[int, typer.Option("--topn", "-n", min=1, help="How many words to show.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def load_word_model(spec: str) -> Any:
    """A word model from a name, a saved folder or a word-vector file; refuses other models.

    Any model whose ``.vectors`` are WordVectors qualifies (word models, graph node models), so
    the result is typed by that duck type, not by a class."""

    model = embedlab.load(spec)  # word-vector files too
    if not isinstance(getattr(model, "vectors", None), WordVectors):
        raise InputError(
            f"{spec} ({model.method}) has no word vocabulary to search",
            "use a word model: glove-50d, a folder from `embedlab train word2vec ...`, "
            "or a .vec/.bin/.txt word-vector file",
        )
    return model


def print_neighbors(
    title: str, rows: list[tuple[str, float]], as_json: bool, extra: dict, label: str = "word"
) -> None:
    """Nearest items with their cosines as a table, or JSON (``label``: what the items are)."""
    if as_json:
        typer.echo(json.dumps({**extra, "results": [{label: w, "score": s} for w, s in rows]}))
        return
    table = Table(title=escape(title))
    table.add_column("#", justify="right")
    table.add_column(label)
    table.add_column("cosine", justify="right")
    for rank, (word, score) in enumerate(rows, start=1):
        table.add_row(str(rank), escape(word), f"{score:.3f}")
    Console().print(table)


def neighbors_command(
    model: ModelArg,
    word: Annotated[str, typer.Argument(help="The word whose nearest neighbours to show.")],
    topn: Topn = 10,
    as_json: AsJson = False,
) -> None:
    """The words nearest to WORD by cosine similarity."""
    embedder = load_word_model(model)
    kv = embedder.vectors
    rows = kv.most_similar(word, topn=topn)
    note = "" if word in kv else " (not in the vocabulary: built from character n-grams)"
    print_neighbors(f"nearest to {word!r} in {embedder.name}{note}", rows, as_json, {"word": word})


def analogy_command(
    model: ModelArg,
    a: Annotated[str, typer.Argument(help="a, in: a is to b as c is to ?")],
    b: Annotated[str, typer.Argument(help="b")],
    c: Annotated[str, typer.Argument(help="c")],
    topn: Topn = 5,
    as_json: AsJson = False,
) -> None:
    """a is to b as c is to ...? e.g. `embedlab analogy glove-50d man king woman` -> queen."""
    embedder = load_word_model(model)
    rows = embedder.vectors.most_similar(positive=[b, c], negative=[a], topn=topn)
    print_neighbors(
        f"{a} : {b} :: {c} : ?  ({embedder.name}, nearest to {b} - {a} + {c})",
        rows,
        as_json,
        {"a": a, "b": b, "c": c},
    )
