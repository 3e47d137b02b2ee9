"""`embedlab explain`, `embedlab debias`, `embedlab trends`: why, how fair, and when."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import embedlab
from embedlab._io import check_output_folder
from embedlab.apps.debias import debias, measure
from embedlab.apps.trends import (
    check_period,
    find_trends,
    read_collection_dated,
    read_dated,
    write_trends,
)
from embedlab.cli.checks import Force, field_options
from embedlab.cli.embed import DEFAULT_MODEL
from embedlab.cli.report import message_console
from embedlab.data import sample_texts
from embedlab.errors import InputError
from embedlab.store import open_collection
from embedlab.text.readers import check_input_file


def explain_command(
    text_a: Annotated[str, typer.Argument(help="The first text.")],
    text_b: Annotated[str, typer.Argument(help="The second text.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name, method or saved folder.")
    ] = DEFAULT_MODEL,
    top: Annotated[int, typer.Option(min=1, help="How many token pairs to list.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Split the cosine of two texts into token-pair contributions that add up to it."""
    embedder = embedlab.load(model)
    if embedder.trainable and not embedder.is_fitted:
        embedder.fit([*sample_texts(), text_a, text_b])
    result = embedder.explain(text_a, text_b)
    if embedder.trainable and embedder.method != "hybrid" and result.kind == "shared terms":
        result.notes.append("fitted on the bundled sample of 40 sentences plus these two texts")
    if as_json:
        typer.echo(json.dumps(result.to_dict(top), ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(
        f"[bold]{escape(result.model)}[/] ({result.kind}): cosine {result.score:.4f}; "
        f"contributions add up to {result.total:.4f} (error {result.error:.1e})",
        highlight=False,
    )
    pairs = Table(title=f"top {top} token pairs")
    pairs.add_column("token A")
    pairs.add_column("token B")
    pairs.add_column("adds", justify="right")
    pairs.add_column("share", justify="right")
    for a, b, value in result.top_pairs(top):
        share = value / result.score if result.score else 0.0
        pairs.add_row(escape(a), escape(b), f"{value:+.4f}", f"{share:.0%}")
    console.print(pairs)
    for label, tokens, totals in (
        ("A", result.tokens_a, result.per_token_a),
        ("B", result.tokens_b, result.per_token_b),
    ):
        shown = "  ".join(f"{t} {v:+.3f}" for t, v in zip(tokens, totals, strict=True))
        console.print(f"per token of {label}: {shown}", markup=False, highlight=False)
    if result.parts:
        shown = ", ".join(f"{name} {value:+.4f}" for name, value in result.parts.items())
        console.print(f"by part (weight x cosine): {shown}", markup=False, highlight=False)
    if result.rest:
        console.print(f"not in any token pair: {result.rest:+.4f}", markup=False)
    special = result.special_share()
    if special:
        console.print(
            f"marker tokens ([CLS], [SEP], ...) make {special:+.4f} of the score", markup=False
        )
    for note in result.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def debias_command(
    model: Annotated[str, typer.Argument(help="Model name, method or saved folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to save the debiased model.")],
    method: Annotated[
        str, typer.Option(help="auto, hard (word vectors) or project (any model).")
    ] = "auto",
    k: Annotated[int, typer.Option(min=1, help="Bias directions to remove.")] = 1,
    how: Annotated[
        str | None, typer.Option(help="pca or mean (default: pca for hard, mean for project).")
    ] = None,
    measure_it: Annotated[
        bool, typer.Option("--measure/--no-measure", help="WEAT and task scores before/after.")
    ] = True,
    sts_limit: Annotated[int, typer.Option(min=2, help="STS-B pairs for the cost.")] = 500,
    force: Force = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Remove a gender subspace learned from definitional pairs; save it as a model."""
    check_output_folder(out, force=force)  # before the work, not after it
    before = embedlab.load(model)
    after = debias(before, method=method, k=k, how=how)
    after.save(out, force=force)
    report = measure(before, after, sts_limit=sts_limit) if measure_it else None
    if as_json:
        data = {"saved": str(out), "model": after.name, "method": after.method}
        typer.echo(json.dumps({**data, "report": report and report.to_dict()}, indent=2))
        return
    console = Console()
    console.print(f"saved {escape(after.name)} ({after.method}) to {escape(str(out))}")
    if report is None:
        return
    table = Table(title="WEAT effect size (0 = no association)")
    for column in ("test", "targets / attributes", "before", "after"):
        table.add_column(column, justify="right" if column in ("before", "after") else "left")
    for test, what, b, a in report.weat:
        table.add_row(test, escape(what), f"{b:+.3f}", f"{a:+.3f}")
    console.print(table)
    costs = Table(title="cost on other tasks")
    for column in ("score", "before", "after"):
        costs.add_column(column, justify="left" if column == "score" else "right")
    for name, b, a in report.costs:
        costs.add_row(escape(name), f"{b:.3f}", f"{a:.3f}")
    console.print(costs)


def trends_command(
    data: Annotated[
        Path | None,
        typer.Argument(help="Dated texts (.jsonl, .csv, .parquet), or a collection's folder."),
    ] = None,
    time_field: Annotated[
        str, typer.Option(help="The field (a collection's metadata field) holding each date.")
    ] = "date",
    field: Annotated[str, typer.Option(help="The field holding the text.")] = "text",
    period: Annotated[str, typer.Option(help="day, week, month, quarter or year.")] = "month",
    collection: Annotated[
        str | None,
        typer.Option(
            help="A collection (folder, or postgresql://...#name): its texts, the --time-field "
            "of their metadata, and its stored vectors (unless -m names another model)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=f"Model name, method or saved folder (default: {DEFAULT_MODEL}; for a "
            "collection, its stored vectors).",
        ),
    ] = None,
    k: Annotated[
        int | None, typer.Option(min=2, help="Number of topics (default: sqrt(n/4), 4 to 20).")
    ] = None,
    alpha: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Significance level of the trend tests.")
    ] = 0.01,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for trends.csv, topics.json, trends.png and trends.html."),
    ] = None,
    force: Force = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the topics as JSON.")] = False,
) -> None:
    """Topics over time: cluster dated texts, count topics per period, find new/rising/falling."""
    if data is not None and collection is not None:
        raise InputError("give a file or --collection, not both", "drop one of them")
    if collection is None and data is not None and data.is_dir():
        collection = str(data)
    if collection is None:
        if data is None:
            raise InputError("no dated texts given", "pass a file, or --collection LOCATION")
        check_input_file(data)
    check_period(period)
    if out is not None:
        check_output_folder(out, force=force)
    vectors = None
    if collection is not None:
        with open_collection(collection) as col:
            texts, times, vectors, skipped = read_collection_dated(
                col, time_field, vectors=model is None
            )
            name = col.model or col.name
        if skipped:
            message_console().print(
                f"left out {skipped} items with no text or no {time_field!r}", markup=False
            )
        embedder: embedlab.Embedder | str = name if model is None else embedlab.load(model)
    else:
        assert data is not None
        with field_options({field: "--field", time_field: "--time-field"}):
            texts, times = read_dated(data, text_field=field, time_field=time_field)
        embedder = embedlab.load(model or DEFAULT_MODEL)
    result = find_trends(
        texts,
        times,
        embedder,
        vectors=vectors,
        period=period,
        k=k,
        alpha=alpha,
        time_field=time_field,
    )
    if out is not None:
        write_trends(result, out, force=force)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console = Console()
    table = Table(
        title=f"{len(result.topics)} topics of {len(texts)} texts over {len(result.periods)} "
        f"{period}s ({result.periods[0]} to {result.periods[-1]})"
    )
    for column in ("topic", "texts", "terms", "trend", "when", "share slope / period", "p"):
        table.add_column(column, overflow="fold")
    for t in result.topics:
        p = {"new": t.p_new, "gone": t.p_gone}.get(t.trend, t.p_slope)
        slope = "" if t.slope is None else f"{t.slope:+.4f} ± {t.slope_se:.4f}"
        table.add_row(
            str(t.id),
            str(t.size),
            escape(", ".join(t.terms[:5])),
            t.trend,
            {"new": f"since {t.since}", "gone": f"until {t.until}"}.get(
                t.trend, f"{t.first} to {t.last}"
            ),
            slope,
            "" if p is None else f"{p:.2g}",
        )
    console.print(table)
    console.print(f"test: {result.test}", markup=False, highlight=False)
    if out is not None:
        console.print(f"wrote {escape(str(out))}/trends.csv, topics.json, trends.png, trends.html")
