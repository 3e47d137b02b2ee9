"""`embedlab embed` (a file of texts to vectors) and `embedlab similarity` (two texts)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

import embedlab
from embedlab.batch import EmbeddingInterrupted, embed_file
from embedlab.cli.checks import Force, field_options
from embedlab.cli.report import message_console
from embedlab.distributed import embed_dataset
from embedlab.errors import InputError, ZeroVectorWarning

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
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Input: .txt (a text a line), .jsonl, .csv, .tsv or .parquet; with --ray also "
            "several files, folders or quoted globs.",
            metavar="SOURCE...",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output: .npy (vectors) or .parquet (id, text, vector); with --ray a folder of "
            "Parquet shards and a manifest.",
        ),
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
        int | None,
        typer.Option(
            min=1,
            help="Rows per durable chunk (what a resume can lose at most); with --ray, rows per "
            "shard [default: 4096; 10000 with --ray]",
            show_default=False,
        ),
    ] = None,
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
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run on a Ray cluster: HOST:PORT of its head (ray://HOST:PORT for Ray Client), "
            "or auto for Ray's own choice ($RAY_ADDRESS, a cluster on this machine, else a new "
            "local one). Needs pip install 'embedlab\\[ray]'.",
            rich_help_panel="Distributed (--ray)",
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="With --ray: model copies (default: the cluster's CPUs / --cpus-per-actor).",
            rich_help_panel="Distributed (--ray)",
        ),
    ] = None,
    cpus_per_actor: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="With --ray: CPUs each actor holds (and model threads it runs).",
            rich_help_panel="Distributed (--ray)",
        ),
    ] = 1.0,
    fields: Annotated[
        str | None,
        typer.Option(
            help="With --ray: comma-separated input fields kept as shard columns (and metadata).",
            rich_help_panel="Distributed (--ray)",
        ),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            help="With --ray: also upsert every shard by id into this postgresql://...#name "
            "collection.",
            rich_help_panel="Distributed (--ray)",
        ),
    ] = None,
) -> None:
    """Embed every text of a file, streamed; an interrupted run resumes where it stopped.

    With --ray, embed files, folders or globs on a Ray cluster into Parquet shards."""
    if ray is not None:
        _embed_on_ray(
            sources,
            out,
            model,
            address=ray,
            field=field,
            id_field=id_field,
            fields=fields,
            batch_size=batch_size,
            shard_rows=chunk_rows,
            normalize=normalize,
            skip_empty=skip_empty,
            restart=restart,
            save_model=save_model,
            actors=actors,
            cpus_per_actor=cpus_per_actor,
            collection=collection,
            runtime=runtime,
            progress=progress,
        )
        return
    distributed_only = {"--actors": actors, "--fields": fields, "--collection": collection}
    for option, value in distributed_only.items():
        if value is not None:
            raise InputError(f"{option} works only with --ray", f"add --ray or leave {option} out")
    if len(sources) != 1:
        raise InputError(
            f"embed takes one input file, got {len(sources)}",
            "embed them one by one, or add --ray to embed several files or folders",
        )
    source = sources[0]
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
                chunk_rows=4096 if chunk_rows is None else chunk_rows,
                restart=restart,
                save_model=save_model,
                force=force,
                progress=progress,
            )
    except EmbeddingInterrupted as stop:
        of = f" of {stop.total:,}" if stop.total else ""
        message_console().print(
            f"interrupted: {stop.rows_done:,}{of} rows are written to {stop.partial}; run the "
            "same command again to resume from there, or add --restart to start over",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(130) from None
    resumed = f", resumed after {result.resumed_from:,} rows" if result.resumed_from else ""
    fitted = ", fitted on the input first" if result.fitted else ""
    message_console().print(
        f"wrote {result.rows:,} vectors of {result.dim} dims to {result.out} "
        f"in {result.seconds:.1f} s{fitted}{resumed}",
        highlight=False,
        markup=False,
    )


def _embed_on_ray(
    sources: list[Path],
    out: Path,
    model: str,
    *,
    address: str,
    fields: str | None,
    shard_rows: int | None,
    save_model: Path | None,
    **options: Any,
) -> None:
    """``embed --ray``: the distributed run, its progress bar and its one summary line."""
    if save_model is not None:
        raise InputError(
            "--save-model does not work with --ray (a distributed run fits no model)",
            "fit and save the model with a plain `embedlab embed`, then pass it with -m",
        )
    kept = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    with field_options(
        {options["field"]: "--field", options["id_field"]: "--id-field"}
        | {name: "--fields" for name in kept or []}
    ):
        result = embed_dataset(
            [str(s) for s in sources],
            out,
            model,
            address=address,
            fields=kept,
            shard_rows=shard_rows or 10_000,
            **options,
        )
    message_console().print(result.summary(), highlight=False, markup=False, soft_wrap=True)


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
            message_console().print(
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
