"""`embedlab eval TASK MODEL`: run one evaluation task (standard data or the user's own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from embedlab.cli.checks import field_options
from embedlab.cli.embed import Runtime, load_model
from embedlab.eval import get_task
from embedlab.text.readers import check_input_file


def eval_command(
    task: Annotated[
        str, typer.Argument(help="Task: sts, words, wordsim, analogy, ... (see --help).")
    ],
    model: Annotated[str, typer.Argument(help="Model name, method or saved folder.")],
    data: Annotated[
        Path | None,
        typer.Option(help="Your own data file (.csv/.jsonl/.parquet) instead of the standard set."),
    ] = None,
    text: Annotated[str | None, typer.Option(help="Text column of --data.")] = None,
    label: Annotated[str | None, typer.Option(help="Label column of --data.")] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Use only the first N items (quick checks).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    runtime: Runtime = None,
) -> None:
    """Evaluate a model on a task; prints every score and marks the main one."""

    if data is not None:
        check_input_file(data)
    with field_options({text: "--text", label: "--label"}):
        task_obj = get_task(task, data=data, text_field=text, label_field=label, limit=limit)
        result = task_obj.run(load_model(model, runtime))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(
        title=f"{result.task} on {result.model} ({result.n:,} items, {result.seconds:.1f} s)"
    )
    table.add_column("score")
    table.add_column("value", justify="right")
    for name, value in result.scores.items():
        marker = " (main)" if name == result.main_score_name else ""
        table.add_row(f"{name}{marker}", f"{value:.4f}")
    Console().print(table)
