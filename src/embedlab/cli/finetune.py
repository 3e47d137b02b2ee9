"""`embedlab finetune BASE DATA --out DIR`: fine-tune a transformer on the user's own data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from embedlab._io import check_output_folder
from embedlab.cli.checks import Force
from embedlab.errors import InputError
from embedlab.text.readers import check_input_file
from embedlab.training.finetune import finetune
from embedlab.training.finetune.settings import Settings

_DEFAULTS = Settings()


def _numbers(text: str | None, option: str, kind: type = int) -> list:
    if not text:
        return []
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(
            f"{option} takes comma-separated numbers, got {text!r}", f"pass e.g. {option} 384,256"
        ) from None


def finetune_command(
    base: Annotated[str, typer.Argument(help="Transformer to start from: 'minilm', or a folder.")],
    data: Annotated[
        Path,
        typer.Argument(
            help="Training data (.csv/.tsv/.jsonl/.parquet/.txt); its columns pick the kind: "
            "anchor,positive[,negative] | sentence1,sentence2,score | text,label | text."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the fine-tuned model.")],
    eval_data: Annotated[
        Path | None, typer.Option(help="Held-out data to score before and after (any kind).")
    ] = None,
    eval_split: Annotated[
        float, typer.Option(help="Hold out this share of DATA when --eval-data is not given.")
    ] = _DEFAULTS.eval_split,
    epochs: Annotated[float, typer.Option(help="Passes over the data.")] = _DEFAULTS.epochs,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many steps (overrides --epochs).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option(help="Time budget for training; the best model so far is kept.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = _DEFAULTS.batch_size,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = _DEFAULTS.learning_rate,
    max_length: Annotated[
        int | None, typer.Option(min=8, help="Truncate texts to this many tokens.")
    ] = None,
    hard_negatives: Annotated[
        int, typer.Option(min=0, help="Mine this many hard negatives per pair with the base model.")
    ] = 0,
    negative_margin: Annotated[
        float, typer.Option(help="A mined negative must score this far below the positive.")
    ] = _DEFAULTS.negative_margin,
    dims: Annotated[str | None, typer.Option(help="Matryoshka sizes, e.g. 384,256,128,64.")] = None,
    loss: Annotated[
        str, typer.Option(help="Loss for scored pairs: cosent or angle.")
    ] = _DEFAULTS.scored_loss,
    mini_batch: Annotated[
        int | None,
        typer.Option(min=1, help="Cached MNRL: big batches computed this many rows at a time."),
    ] = None,
    symmetric: Annotated[
        bool,
        typer.Option(
            "--symmetric", help="Pairs: also train positive -> anchor (in-batch, both ways)."
        ),
    ] = False,
    group_by_length: Annotated[
        bool,
        typer.Option(
            "--group-by-length",
            help="Pairs: batches of texts of similar length (less padding, faster steps).",
        ),
    ] = False,
    adapt: Annotated[
        str,
        typer.Option(
            help="Plain text: tsdae (denoising), mlm (masked language model) or pseudo "
            "(pairs of mutual nearest neighbours across a pool column of query and document)."
        ),
    ] = _DEFAULTS.adapt,
    pseudo_threshold: Annotated[
        float,
        typer.Option(help="--adapt pseudo: lowest base-model cosine of a pseudo-pair."),
    ] = _DEFAULTS.pseudo_threshold,
    score_range: Annotated[
        str | None, typer.Option(help="Declared range of the scores, e.g. 0,5 (checked).")
    ] = None,
    save_every: Annotated[
        int | None, typer.Option(min=1, help="Checkpoint (and evaluate) every N steps.")
    ] = None,
    patience: Annotated[
        int | None, typer.Option(min=1, help="Early stopping: evaluations without improvement.")
    ] = None,
    precision: Annotated[
        str, typer.Option(help="auto (bf16 autocast on CPUs with native bf16), bf16 or fp32.")
    ] = _DEFAULTS.precision,
    seed: Annotated[int, typer.Option(help="Seed for shuffling, splits and sampling.")] = 0,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the killed run's checkpoints beside --out.")
    ] = False,
    keep_checkpoints: Annotated[
        bool, typer.Option("--keep-checkpoints", help="Keep DIR.checkpoints after success.")
    ] = False,
    force: Force = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Fine-tune BASE on DATA; report before/after scores and save a model embedlab and
    sentence-transformers both load (report.json and report.md inside)."""
    check_input_file(data)
    if eval_data is not None:
        check_input_file(eval_data)
    check_output_folder(out, force=force)
    bounds = _numbers(score_range, "--score-range", float)
    if score_range and (len(bounds) != 2 or bounds[0] >= bounds[1]):
        raise InputError(f"--score-range needs LOW,HIGH, got {score_range!r}", "pass e.g. 0,5")
    console = Console(stderr=True, highlight=False)
    result = finetune(
        base,
        data,
        out=out,
        eval_data=eval_data,
        minutes=minutes,
        score_range=(bounds[0], bounds[1]) if bounds else None,
        resume=resume,
        force=force,
        keep_checkpoints=keep_checkpoints,
        progress=progress,
        threads=threads,
        log=lambda line: console.print(line, markup=False),
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=lr,
        max_length=max_length,
        seed=seed,
        eval_split=eval_split,
        hard_negatives=hard_negatives,
        negative_margin=negative_margin,
        dims=_numbers(dims, "--dims") or None,
        scored_loss=loss,
        mini_batch=mini_batch,
        symmetric=symmetric,
        group_by_length=group_by_length,
        save_every=save_every,
        patience=patience,
        precision=precision,
        adapt=adapt,
        pseudo_threshold=pseudo_threshold,
    )
    report = result.report
    summary = f"{report['steps']} steps in {report['train_seconds']:.0f} s ({report['stopped']})"
    metric = report.get("main_metric")
    if metric and metric in result.after:
        summary += (
            f"; {metric} {100 * result.before[metric]:.2f} -> {100 * result.after[metric]:.2f}"
        )
    typer.echo(f"{result.kind}: {summary}; saved to {result.path}")
