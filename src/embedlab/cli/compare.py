"""`embedlab compare`: quality, speed and memory of several approaches in one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedlab.cli.checks import Force
from embedlab.errors import OutputError
from embedlab.eval.compare import (
    DEFAULT_TASKS,
    check_outputs,
    check_specs,
    compare,
    default_models,
    unbuilt_note,
    write_outputs,
)


def compare_command(
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models; NAME@RUNTIME picks a runtime.")
    ] = None,
    tasks: Annotated[
        str | None, typer.Option(help="Comma-separated tasks (see `embedlab eval --help`).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Use only the first N items of each task.")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for compare.md, compare.json and compare.png.")
    ] = Path("compare-results"),
    fresh: Annotated[bool, typer.Option(help="Ignore cached results and measure again.")] = False,
    force: Force = False,
) -> None:
    """Run approaches on tasks; print main scores, sentences/s, load time, peak memory, size."""

    unbuilt: list[str] = []
    if models:
        model_list = [m.strip() for m in models.split(",")]
    else:
        model_list, unbuilt = default_models()
    task_list = [t.strip() for t in tasks.split(",")] if tasks else list(DEFAULT_TASKS)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder", "name a folder for --out")
    check_outputs(out, force=force)  # before the measuring, not after it
    check_specs(model_list)
    reports = compare(model_list, task_list, limit=limit, fresh=fresh, progress=True)
    table = Table(title="embedlab compare (main score per task; speed and memory on this machine)")
    for column in ("model", *task_list, "sent/s", "load s", "peak MB", "dims"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in reports:
        cells = [f"{r.scores[t]:.3f}" if t in r.scores else "error" for t in task_list]
        table.add_row(
            r.model,
            *cells,
            f"{r.sentences_per_second:,.0f}" if r.sentences_per_second else "–",
            f"{r.load_seconds:.1f}" if r.load_seconds is not None else "–",
            f"{r.peak_memory_mb:,.0f}" if r.peak_memory_mb else "–",
            str(r.dim or "–"),
        )
    console = Console()
    console.print(table)
    for r in reports:
        for task, error in r.errors.items():
            console.print(
                f"[yellow]{escape(r.model)} / {task}:[/] {escape(error)}", highlight=False
            )
    if unbuilt:
        console.print(unbuilt_note(unbuilt), markup=False, highlight=False)
    written = write_outputs(reports, task_list, out, force=force)
    console.print("wrote " + ", ".join(str(p) for p in written), markup=False)
