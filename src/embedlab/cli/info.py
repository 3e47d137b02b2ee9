"""`embedlab info`: what this CPU can do fast, and which runtime each transformer model gets.

Why: ``runtime="auto"`` picks per model and machine; this shows the choice (and each checked
candidate's cosine to fp32 torch) without reading the cache by hand.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

import embedlab
from embedlab.catalogue import CATALOGUE
from embedlab.cpu import detect
from embedlab.embedders.transformers.auto import GATE_MEAN, GATE_MIN, Choice
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.embedders.transformers.runtime import WIDE, fastest_first


def _model_row(name: str, check: bool) -> dict[str, Any]:
    model = embedlab.load(name)
    choice: Choice | None = None
    if isinstance(model, TransformerEmbedder):
        choice = model.runtime_choice if check else model.recorded_choice()
    row: dict[str, Any] = {"model": name, "runtime": choice.runtime if choice else None}
    if choice is not None:
        row["checked"] = choice.candidates
        row["record"] = str(choice.record)
    return row


def info_command(
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Check models not checked yet now (loads each; seconds to minutes)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the CPU's features and the runtime `auto` gives each transformer model."""
    cpu = detect()
    names = [m.name for m in CATALOGUE if m.method == "transformer" and m.installed]
    rows = [_model_row(name, check) for name in names]
    report = {
        "cpu": cpu.model_name,
        "kind": cpu.kind,
        "features": cpu.found,
        "native_bf16": cpu.native_bf16,
        "vnni": cpu.vnni,
        "auto_order": list(fastest_first(cpu)),
        "auto_order_wide": list(fastest_first(cpu, WIDE)),
        "gate": {"mean_cosine": GATE_MEAN, "min_cosine": GATE_MIN},
        "models": rows,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    console.print(f"[bold]CPU[/bold]       {cpu.model_name or 'unknown'} ({cpu.kind})")
    console.print(f"[bold]features[/bold]  {', '.join(cpu.found) or 'none of interest'}")
    console.print(f"[bold]auto tries[/bold] {' > '.join(fastest_first(cpu))}")
    if fastest_first(cpu, WIDE) != fastest_first(cpu):
        console.print(f"           models {WIDE}+ wide: {' > '.join(fastest_first(cpu, WIDE))}")
    console.print(
        f"           the first whose vectors keep mean cosine >= {GATE_MEAN} and minimum "
        f">= {GATE_MIN} to fp32 torch on real sentences"
    )
    table = Table("model", "runtime (auto)", "checked")
    for row in rows:
        checked = "; ".join(_candidate(c) for c in row.get("checked", []))
        runtime = row["runtime"] or "[dim]not checked yet (on first use, or --check)[/dim]"
        table.add_row(row["model"], runtime, checked)
    console.print(table)


def _candidate(c: dict[str, Any]) -> str:
    if "error" in c:
        return f"{c['runtime']}: cannot run ({c['error'][:60]})"
    if "mean" not in c:
        return f"{c['runtime']}: reference"
    verdict = "passed" if c["passed"] else "failed"
    return f"{c['runtime']}: {verdict} (mean {c['mean']:.5f}, min {c['min']:.5f})"
