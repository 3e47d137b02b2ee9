"""`embedlab train gpt CORPUS --out DIR`: a small GPT-2-style model trained here, for GPT embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedlab._io import check_output_folder
from embedlab.cli.checks import field_options
from embedlab.cli.report import message_console
from embedlab.cli.train import Field, Seed
from embedlab.text.readers import check_input_file, read_texts
from embedlab.training.gpt import GPTSettings, train_gpt


def train_gpt_command(
    corpus: Annotated[
        Path, typer.Argument(help="Training text: .txt (a document a line), .jsonl/.csv/.parquet.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained model.")],
    field: Field = None,
    layers: Annotated[int, typer.Option(min=1, help="Transformer layers.")] = 4,
    dim: Annotated[int, typer.Option(min=8, help="Hidden size (a multiple of --heads).")] = 128,
    heads: Annotated[int, typer.Option(min=1, help="Attention heads.")] = 4,
    context: Annotated[int, typer.Option(min=8, help="Longest input, in tokens.")] = 64,
    vocab_size: Annotated[
        int, typer.Option(min=260, help="Byte-level BPE vocabulary size.")
    ] = 3000,
    steps: Annotated[int, typer.Option(min=1, help="Training steps (batches).")] = 300,
    batch_size: Annotated[int, typer.Option(min=1, help="Blocks per step.")] = 16,
    lr: Annotated[float, typer.Option(min=0, help="Peak learning rate (AdamW).")] = 2e-3,
    minutes: Annotated[
        float, typer.Option(min=0, help="Stop after this long even if steps remain (0: no limit).")
    ] = 10.0,
    threads: Annotated[
        int | None, typer.Option(min=1, help="torch threads (default: $EMBEDLAB_THREADS or 1).")
    ] = None,
    seed: Seed = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", "--force", help="Replace --out if it exists.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a byte-level BPE tokenizer and a GPT-2-style model on CORPUS; save a HF folder."""

    check_input_file(corpus)  # fail on a wrong path or extension now, not after loading torch
    check_output_folder(out, force=overwrite)

    settings = GPTSettings(
        layers=layers,
        dim=dim,
        heads=heads,
        context=context,
        vocab_size=vocab_size,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        minutes=minutes or None,
        threads=threads,
        seed=seed,
    )
    with field_options({field: "--field"}):
        result = train_gpt(
            lambda: read_texts(corpus, field=field, skip_empty=True),
            out,
            settings,
            overwrite=overwrite,
            progress=progress,
        )
    message_console().print(
        f"trained a {layers}-layer GPT ({result.parameters:,} parameters) for {result.steps} steps "
        f"on {result.train_tokens:,} tokens in {result.seconds:.0f} s; validation loss "
        f"{result.loss_before:.2f} -> {result.loss_after:.2f} (perplexity "
        f"{result.perplexity:.1f}); saved to {out}\n"
        f'try: embedlab context bank "the river bank" "the bank account" --model {out}',
        highlight=False,
        markup=False,
    )
