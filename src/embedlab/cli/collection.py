"""`embedlab collection`: create, fill, search and move collections from the shell.

A LOCATION is a folder (the embedded backend) or a ``postgresql://`` DSN; for a DSN name the
collection with ``--name`` or a ``#name`` suffix (``postgresql://localhost/db#docs``).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from embedlab.errors import InputError
from embedlab.progress import progress_bar
from embedlab.store import (
    UnknownCollectionError,
    create_collection,
    drop_collection,
    list_collections,
    open_collection,
)
from embedlab.store.filters import parse_filter
from embedlab.store.transfer import export_parquet, import_parquet, iter_source

app = typer.Typer(
    help="Collections: store, search and move embeddings (a folder or PostgreSQL).",
    no_args_is_help=True,
)

Location = Annotated[
    str, typer.Argument(help="A folder, or a postgresql:// DSN (name with --name or #name).")
]
NameOption = Annotated[
    str | None, typer.Option("--name", "-n", help="Collection name (needed for a DSN).")
]
_err = Console(stderr=True, highlight=False)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _where(text: str | None) -> Any:

    return parse_filter(text) if text else None


@app.command("create")
def create_command(
    location: Location,
    name: NameOption = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model whose vectors it holds.")
    ] = "minilm",
    dim: Annotated[
        int | None, typer.Option(help="Dimension, for a collection of precomputed vectors.")
    ] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Hold precomputed vectors only (needs --dim).")
    ] = False,
    metric: Annotated[str, typer.Option(help="cosine, dot or l2.")] = "cosine",
    storage: Annotated[
        str, typer.Option(help="In-memory vectors: float32, float16, int8 or binary.")
    ] = "float32",
    index: Annotated[str, typer.Option(help="auto, hnsw or flat.")] = "auto",
    exist_ok: Annotated[bool, typer.Option(help="Open it if it already exists.")] = False,
) -> None:
    """Create an empty collection bound to a model."""

    with create_collection(
        location,
        name,
        model=None if no_model else model,
        dim=dim,
        metric=metric,
        storage=storage,
        index=index,
        exist_ok=exist_ok,
    ) as col:
        _err.print(
            f"created {col.name!r} at {col.location}: model {col.model or 'none'}, "
            f"{col.dim} dims, {col.metric}, {col.config.storage}"
        )


@app.command("add")
def add_command(
    location: Location,
    source: Annotated[Path, typer.Argument(help=".txt (a text a line), .jsonl, .csv or .parquet.")],
    name: NameOption = None,
    field: Annotated[str, typer.Option(help="Text field of .jsonl/.csv/.parquet input.")] = "text",
    id_field: Annotated[
        str | None, typer.Option(help="Field holding each item's id (default: generated).")
    ] = None,
    metadata_fields: Annotated[
        str | None,
        typer.Option(help="Comma-separated fields kept as metadata (default: all other fields)."),
    ] = None,
    upsert: Annotated[bool, typer.Option(help="Replace items whose id already exists.")] = False,
    create: Annotated[
        str | None,
        typer.Option("--create", help="Create the collection first with this model if missing."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per model batch.")] = 32,
    commit_every: Annotated[
        int, typer.Option(min=1, help="Items per durable commit (what a crash can lose at most).")
    ] = 1024,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Embed the texts of a file and add them (with their other fields as metadata)."""

    try:
        col = open_collection(location, name)
    except UnknownCollectionError:
        if not create:
            raise
        col = create_collection(location, name, model=create)
    fields = [f.strip() for f in metadata_fields.split(",")] if metadata_fields else None
    if upsert and id_field is None:
        raise InputError("--upsert needs --id-field", "name the field that holds the ids")
    records = iter_source(source, field=field, id_field=id_field, metadata_fields=fields)
    written = 0
    with col:
        write = col.upsert if upsert else col.add
        with progress_bar(f"adding to {col.name}", None, enabled=progress) as advance:
            # Streamed: a chunk is read, embedded and committed before the next one is read.
            while chunk := list(itertools.islice(records, commit_every)):
                write(
                    [r[1] for r in chunk],
                    ids=None if id_field is None else [r[0] for r in chunk],
                    metadatas=[r[2] for r in chunk],
                    batch_size=batch_size,
                    commit_every=commit_every,
                )
                written += len(chunk)
                advance(len(chunk))
        col.build_index(progress=progress)
        _err.print(f"added {written:,} items to {col.name!r}; it now holds {col.count():,}")


@app.command("search")
def search_command(
    location: Location,
    query: Annotated[str, typer.Argument(help="The query text.")],
    name: NameOption = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="How many results.")] = 10,
    where: Annotated[
        str | None, typer.Option(help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.')
    ] = None,
    hybrid: Annotated[bool, typer.Option(help="Fuse keyword (BM25/full-text) and dense.")] = False,
    keyword: Annotated[bool, typer.Option(help="Keyword search only.")] = False,
    fusion: Annotated[str, typer.Option(help="Hybrid fusion: rrf or weighted.")] = "rrf",
    weight: Annotated[float, typer.Option(help="Dense weight for --fusion weighted.")] = 0.5,
    exact: Annotated[bool, typer.Option(help="Exact search, no approximate index.")] = False,
    ef: Annotated[int | None, typer.Option(min=1, help="HNSW ef_search for this query.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Search a collection by meaning (default), keywords, or both."""

    filt = _where(where)
    with open_collection(location, name) as col:
        if keyword:
            hits = col.keyword_search(query, k, where=filt)
        elif hybrid:
            hits = col.hybrid_search(query, k, where=filt, fusion=fusion, weight=weight, ef=ef)
        else:
            hits = col.search(query, k, where=filt, exact=exact, ef=ef)
    if as_json:
        _echo_json([h.to_dict() for h in hits])
        return
    if not hits:
        _err.print("no results")
        return
    for rank, hit in enumerate(hits, start=1):
        text = (hit.text or "").replace("\n", " ")
        text = text if len(text) <= 100 else text[:97] + "..."
        meta = f"  {json.dumps(hit.metadata, ensure_ascii=False)}" if hit.metadata else ""
        typer.echo(f"{rank:>3}  {hit.score:8.4f}  {hit.id}  {text}{meta}")


@app.command("delete")
def delete_command(
    location: Location,
    ids: Annotated[list[str] | None, typer.Argument(help="Ids of the items to delete.")] = None,
    name: NameOption = None,
    where: Annotated[
        str | None, typer.Option(help="Delete the items matching this filter.")
    ] = None,
    drop: Annotated[bool, typer.Option(help="Delete the whole collection.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --drop.")] = False,
) -> None:
    """Delete items (by id or filter), or with --drop the whole collection."""

    if drop:
        if ids or where:
            raise InputError("--drop deletes the whole collection", "leave out ids and --where")
        if not yes:
            raise InputError("--drop deletes the whole collection", "add --yes to confirm")
        drop_collection(location, name)
        _err.print(f"dropped the collection at {location}")
        return
    with open_collection(location, name) as col:
        n = col.delete(ids or None, where=_where(where))
        _err.print(f"deleted {n:,} items from {col.name!r}; {col.count():,} left")


@app.command("info")
def info_command(
    location: Location,
    name: NameOption = None,
    verify: Annotated[bool, typer.Option(help="Also check storage and index agree.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Binding, size, index state and memory per vector of a collection."""

    with open_collection(location, name) as col:
        info = col.info()
        if verify:
            info["verify"] = col.verify()
    if as_json:
        _echo_json(info)
        return
    idx = info.get("index", {})
    lines = [
        f"collection {info['name']!r} ({info['backend']}) at {info['location']}",
        f"  items      {info['count']:,}",
        f"  model      {info['model'] or 'none'} ({info['dim']} dims, {info['metric']}, "
        f"normalized: {info['normalize']})",
        f"  storage    {info['storage']}: {info['bytes_per_vector']} bytes/vector in memory "
        f"(+ {info['full_precision_on_disk_bytes_per_vector']} on disk, full precision)",
        "  per vector "
        + ", ".join(f"{s} {b} B" for s, b in info["bytes_per_vector_by_storage"].items()),
        f"  index      {idx.get('mode', '?')} (setting {info['index_setting']}, "
        f"m={info['hnsw']['m']}, ef_construction={info['hnsw']['ef_construction']}, "
        f"ef_search={info['hnsw']['ef_search']})",
        f"  disk       {info.get('disk_bytes', 0) / 1e6:,.1f} MB",
    ]
    if verify:
        lines.append(f"  verify     ok: {info['verify']}")
    typer.echo("\n".join(lines))


@app.command("list")
def list_command(location: Location) -> None:
    """Names of the collections in a database (or in a folder of collection folders)."""

    for name in list_collections(location):
        typer.echo(name)


@app.command("export")
def export_command(
    location: Location,
    out: Annotated[Path, typer.Argument(help="The .parquet file to write.")],
    name: NameOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Write a collection (ids, texts, metadata, vectors, binding) to one Parquet file."""

    with open_collection(location, name) as col:
        n = export_parquet(col, out, progress=progress)
    _err.print(f"exported {n:,} items to {out}")


@app.command("import")
def import_command(
    source: Annotated[Path, typer.Argument(help="A .parquet file written by export.")],
    location: Location,
    name: NameOption = None,
    storage: Annotated[
        str | None, typer.Option(help="Storage for the new collection (default: as exported).")
    ] = None,
    index: Annotated[str | None, typer.Option(help="auto, hnsw or flat.")] = None,
    upsert: Annotated[bool, typer.Option(help="Into an existing collection, replacing.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Create a collection from an export, on any backend, without re-embedding."""

    with import_parquet(
        source,
        location,
        name,
        storage=storage,
        index=index,
        exist_ok=upsert,
        upsert=upsert,
        progress=progress,
    ) as col:
        col.build_index(progress=progress)
        _err.print(f"imported {col.count():,} items into {col.name!r} at {col.location}")
