"""`embedlab collection`: create, fill, search and move collections from the shell.

A LOCATION is a folder (the embedded backend) or a ``postgresql://`` DSN; for a DSN name the
collection with ``--name`` or a ``#name`` suffix (``postgresql://localhost/db#docs``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from embedlab.apps.explain import HitExplanation
from embedlab.cli.report import Interrupted
from embedlab.distributed import import_shards, is_shard_folder
from embedlab.errors import EmbedlabError, InputError
from embedlab.progress import progress_bar
from embedlab.store import (
    DuplicateIdError,
    UnknownCollectionError,
    create_collection,
    drop_collection,
    list_collections,
    open_collection,
    repair_collection,
)
from embedlab.store.factory import split_location
from embedlab.store.filters import parse_filter
from embedlab.store.transfer import export_parquet, import_parquet, iter_source
from embedlab.store.validate import check_metadatas, check_texts, content_ids

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
        str | None,
        typer.Option(
            help="Field holding each item's id. Default: ids made from content, the first 24 hex "
            "digits of SHA-256 over the text and the metadata as sorted JSON, with -2, -3, ... "
            "on repeats of the same content in the file, so adding a file again never doubles it."
        ),
    ] = None,
    metadata_fields: Annotated[
        str | None,
        typer.Option(help="Comma-separated fields kept as metadata (default: all other fields)."),
    ] = None,
    upsert: Annotated[bool, typer.Option(help="Replace items whose id already exists.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Skip items whose id is already stored with the same text (re-run an add that "
            "was interrupted); an id stored with another text is still an error."
        ),
    ] = False,
    create: Annotated[
        str | None,
        typer.Option("--create", help="Create the collection first with this model if missing."),
    ] = None,
    skip_empty: Annotated[
        bool, typer.Option(help="Skip empty texts instead of stopping on them.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per model batch.")] = 32,
    commit_every: Annotated[
        int, typer.Option(min=1, help="Items per durable commit (what a crash can lose at most).")
    ] = 1024,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Embed the texts of a file and add them (with their other fields as metadata)."""
    if upsert and id_field is None:
        raise InputError("--upsert needs --id-field", "name the field that holds the ids")
    if upsert and resume:
        raise InputError("--upsert and --resume exclude each other", "pick one")
    fields = [f.strip() for f in metadata_fields.split(",")] if metadata_fields else None
    try:
        col, created = open_collection(location, name), False
    except UnknownCollectionError:
        if not create:
            raise
        col, created = None, True
    # an empty folder the user made may hold the new collection: dropping it must leave it
    keep_folder = created and "://" not in location and Path(location).is_dir()
    records = iter_source(
        source, field=field, id_field=id_field, metadata_fields=fields, skip_empty=skip_empty
    )
    try:
        # The input is checked (its first chunk read) before a collection is created for it.
        first = list(itertools.islice(records, commit_every))
    except BaseException:
        if col is not None:
            col.close()
        raise
    if col is None:
        col = create_collection(location, name, model=create)
    added = _Added()
    try:
        with col:
            try:
                _add_chunks(
                    col,
                    itertools.chain(first, records),
                    added,
                    commit_every,
                    upsert=upsert,
                    resume=resume,
                    generated_ids=id_field is None,
                    batch_size=batch_size,
                    progress=progress,
                )
                col.build_index(progress=progress)
                total = col.count()
            except BaseException:
                added.held = _count_or_none(col)
                raise
    except KeyboardInterrupt:
        dropped = _forget_if_empty(created, added.held, location, name, keep_folder)
        raise Interrupted(_interrupted_note(col.name, added.held, dropped)) from None
    except BaseException:
        _forget_if_empty(created, added.held, location, name, keep_folder)
        raise
    note = f" (skipped {added.skipped:,} already stored)" if resume else ""
    _err.print(f"added {added.written:,} items to {col.name!r}{note}; it now holds {total:,}")


class _Added:
    """What an add has done so far; ``held``: the collection's size when it stopped early
    (counted then: Ctrl-C can land between a commit and its callback)."""

    def __init__(self) -> None:
        self.written = 0
        self.skipped = 0
        self.held: int | None = None

    def committed(self, ids: list[str]) -> None:
        self.written += len(ids)


def _count_or_none(col: Any) -> int | None:
    try:
        return col.count()
    except (EmbedlabError, OSError):
        return None


def _add_chunks(
    col: Any,
    records: Iterator[tuple[str | None, str, dict[str, Any]]],
    added: _Added,
    commit_every: int,
    *,
    upsert: bool,
    resume: bool,
    generated_ids: bool,
    batch_size: int,
    progress: bool,
) -> None:
    """Streamed: a chunk is read, embedded and committed before the next one is read."""
    write = col.upsert if upsert else col.add
    repeats: Counter[str] = Counter()  # content ids count repeats across the whole file
    with progress_bar(f"adding to {col.name}", None, enabled=progress) as advance:
        while chunk := list(itertools.islice(records, commit_every)):
            texts = [r[1] for r in chunk]
            metas = check_metadatas([r[2] for r in chunk], len(chunk))
            if generated_ids:
                ids = content_ids(
                    check_texts(texts, len(texts), embedding=True), metas, None, repeats
                )
            else:
                ids = [str(r[0]) for r in chunk]
            keep = _not_stored(col, ids, texts) if resume else range(len(chunk))
            added.skipped += len(chunk) - len(keep)
            if keep:
                write(
                    [texts[i] for i in keep],
                    ids=[ids[i] for i in keep],
                    metadatas=[metas[i] for i in keep],
                    batch_size=batch_size,
                    commit_every=commit_every,
                    on_commit=added.committed,
                )
            advance(len(chunk))


def _forget_if_empty(
    created: bool, held: int | None, location: str, name: str | None, keep_folder: bool = False
) -> bool:
    """Drop the collection this add created when it holds nothing (never one that was there
    before: it is someone's, even if empty); True when dropped."""
    if not created or held != 0:
        return False
    with contextlib.suppress(EmbedlabError, OSError):  # the first error is the one to report
        drop_collection(location, name)
        if keep_folder:  # dropping removed the user's own (empty) folder: put it back
            Path(location).mkdir(exist_ok=True)
        return True
    return False


def _interrupted_note(collection: str, held: int | None, dropped: bool) -> str:
    if dropped:
        return "nothing was stored, and the new collection was removed; run the command again"
    kept = f"{collection!r} holds {held:,} items" if held is not None else f"{collection!r} keeps"
    return (
        f"{kept} (every commit that finished is kept); run the same command with --resume to "
        "add the rest"
    )


def _not_stored(col: Any, ids: list[str], texts: list[str]) -> list[int]:
    """Positions of the items to add on --resume: those not stored yet. An id stored with
    another text is a conflict, not something to skip."""
    stored = {r.id: r.text for r in col.get(ids, include=("text",))}
    for item_id, text in zip(ids, texts, strict=True):
        if item_id in stored and stored[item_id] != text:
            raise DuplicateIdError(
                f"id {item_id!r} is already stored with another text",
                "use --upsert to replace it, or give the new item another id",
            )
    return [i for i, item_id in enumerate(ids) if item_id not in stored]


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
    explain: Annotated[
        bool,
        typer.Option(
            help="Say why each hit scored so: top token pairs, keyword terms, hybrid shares."
        ),
    ] = False,
) -> None:
    """Search a collection by meaning (default), keywords, or both."""
    filt = _where(where)
    with open_collection(location, name) as col:
        if keyword:
            hits = col.keyword_search(query, k, where=filt, explain=explain)
        elif hybrid:
            hits = col.hybrid_search(
                query, k, where=filt, fusion=fusion, weight=weight, ef=ef, explain=explain
            )
        else:
            hits = col.search(query, k, where=filt, exact=exact, ef=ef, explain=explain)
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
        explanation = getattr(hit, "explanation", None)
        if explanation is not None:
            for line in _explain_lines(explanation):
                typer.echo(f"{'':>15}{line}")


def _explain_lines(e: HitExplanation) -> list[str]:
    """A hit's explanation as a few indented lines under it."""
    lines = []
    if e.sides:
        shares = e.shares()
        f = e.fusion
        parts = [
            f"{side} {shares[side]:.0%} ({e.sides[side]:.4f}, rank {f[side + '_rank'] or '-'})"
            for side in ("dense", "keyword")
        ]
        lines.append(f"{f['method']} fusion: " + ", ".join(parts))
    if e.dense is not None:
        pairs = ", ".join(f"{a}~{b} {c:+.4f}" for a, b, c in e.top_pairs(5))
        total = f"{e.total:.4f}" + (" (approximate)" if e.dense.approximate else "")
        lines.append(f"pairs: {pairs or '-'}  (all pairs add up to {total})")
    if e.mode != "dense":
        lines.append("terms: " + (", ".join(e.terms) or "-"))
    lines += [f"note: {note}" for note in e.notes]
    return lines


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


@app.command("repair")
def repair_command(
    location: Location,
    name: NameOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Repair damage: rebuild the index and lost vectors, quarantine what cannot be rebuilt.

    The index is rebuilt from the vectors, lost vectors are embedded again from the stored texts
    with the bound model; what cannot be trusted is moved into the folder's quarantine/, never
    deleted. Prints one line per thing done.
    """

    report = repair_collection(location, name)
    if as_json:
        _echo_json(report)
        return
    for action in report["actions"]:
        typer.echo(action)
    typer.echo(f"verify ok: {report['verify']}")


@app.command("list")
def list_command(location: Location) -> None:
    """Names of the collections in a database (or in a folder of collection folders)."""
    backend, where, _ = split_location(location)
    if backend == "local" and not Path(where).expanduser().is_dir():
        what = "a file, not a folder" if Path(where).expanduser().exists() else "not there"
        raise InputError(
            f"{where} is {what}", "name a collection folder or a folder of collection folders"
        )
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
    source: Annotated[
        Path,
        typer.Argument(help="A .parquet file written by export, or an `embed --ray` --out folder."),
    ],
    location: Location,
    name: NameOption = None,
    storage: Annotated[
        str | None, typer.Option(help="Storage for the new collection (default: as exported).")
    ] = None,
    index: Annotated[str | None, typer.Option(help="auto, hnsw or flat.")] = None,
    upsert: Annotated[bool, typer.Option(help="Into an existing collection, replacing.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Create a collection from an export (or the shard folder of `embed --ray`), on any
    backend, without re-embedding."""
    load = import_shards if is_shard_folder(source) else import_parquet
    with load(
        source,
        location,
        name,
        storage=storage,
        index=index,
        upsert=upsert,
        progress=progress,
        **({} if load is import_shards else {"exist_ok": upsert}),
    ) as col:
        col.build_index(progress=progress)
        _err.print(f"imported {col.count():,} items into {col.name!r} at {col.location}")
