"""`embedlab embed` (a file of texts to vectors) and `embedlab similarity` (two texts)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

import embedlab
from embedlab.batch import EmbeddingInterrupted, embed_file
from embedlab.cli.checks import Force, field_options
from embedlab.errors import ZeroVectorWarning

DEFAULT_MODEL = "minilm"

# `--runtime` for every command that loads a transformer (see embedlab.embedders.transformers.onnx)
Runtime = Annotated[
    str | None,
    typer.Option(
        help="Transformer runtime: torch, onnx (fp32) or onnx-int8 (fastest on CPU); "
        "the ONNX export is cached after the first run."
    ),
]


def load_model(model: str, runtime: str | None) -> Any:
    """``embedlab.load(model)``, on ``runtime`` when one is given (saved folders too)."""

    return embedlab.load(model) if runtime is None else embedlab.load(model, runtime=runtime)


def embed_command(
    source: Annotated[
        Path, typer.Argument(help="Input: .txt (a text a line), .jsonl, .csv, .tsv or .parquet.")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output: .npy (vectors) or .parquet (id, text, vector)."),
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name, method or saved folder.")
    ] = DEFAULT_MODEL,
    field: Annotated[
        str | None, typer.Option(help="Text field of .jsonl/.csv/.parquet input (default: text).")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="Field holding each row's id (default: row number).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per model batch.")] = 32,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Rows per durable chunk (what a resume can lose at most).")
    ] = 4096,
    normalize: Annotated[bool, typer.Option(help="L2-normalise every vector.")] = False,
    skip_empty: Annotated[
        bool, typer.Option(help="Skip empty texts instead of stopping on them.")
    ] = False,
    restart: Annotated[
        bool, typer.Option(help="Discard an interrupted earlier run instead of resuming it.")
    ] = False,
    save_model: Annotated[
        Path | None, typer.Option(help="Also save the (fitted) model to this folder.")
    ] = None,
    force: Force = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    runtime: Runtime = None,
) -> None:
    """Embed every text of a file, streamed; an interrupted run resumes where it stopped."""

    try:
        with field_options({field: "--field", id_field: "--id-field"}):
            result = embed_file(
                source,
                out,
                model if runtime is None else load_model(model, runtime),
                field=field,
                id_field=id_field,
                skip_empty=skip_empty,
                normalize=normalize,
                batch_size=batch_size,
                chunk_rows=chunk_rows,
                restart=restart,
                save_model=save_model,
                force=force,
                progress=progress,
            )
    except EmbeddingInterrupted as stop:
        of = f" of {stop.total:,}" if stop.total else ""
        Console(stderr=True).print(
            f"interrupted: {stop.rows_done:,}{of} rows are written to {stop.partial}; run the "
            "same command again to resume from there, or add --restart to start over",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(130) from None
    resumed = f", resumed after {result.resumed_from:,} rows" if result.resumed_from else ""
    fitted = ", fitted on the input first" if result.fitted else ""
    Console(stderr=True).print(
        f"wrote {result.rows:,} vectors of {result.dim} dims to {result.out} "
        f"in {result.seconds:.1f} s{fitted}{resumed}",
        highlight=False,
        markup=False,
    )


def similarity_command(
    a: Annotated[str, typer.Argument(help="First text.")],
    b: Annotated[str, typer.Argument(help="Second text.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name or saved folder.")
    ] = DEFAULT_MODEL,
    runtime: Runtime = None,
) -> None:
    """Print the cosine similarity of two texts."""
    embedder = load_model(model, runtime)
    if embedder.trainable and not embedder.is_fitted:
        embedder.fit([a, b])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ZeroVectorWarning)
        value = embedder.similarity(a, b)
    typer.echo(f"{value:.4f}")
    for warning in caught:  # a 0 that means "unknown", not "unrelated": say so, once
        if isinstance(warning.message, ZeroVectorWarning):
            unknown = [a, b] if warning.message.count == 2 else [warning.message.text]
            Console(stderr=True).print(
                f"note: the {embedder.name} model knows no token of "
                + " nor of ".join(repr(t) for t in unknown)
                + ", so the similarity is 0 (unknown, not unrelated); "
                "try a model with subwords, such as minilm",
                highlight=False,
            )
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
