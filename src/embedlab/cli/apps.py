"""Application commands: cluster, classify train/predict, dedupe, faq, recommend, map."""

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
from embedlab.apps.classify import TextClassifier
from embedlab.apps.cluster import cluster_texts
from embedlab.apps.dedupe import FAQMatcher, find_duplicates
from embedlab.apps.rag import as_prompt, ask, check_documents, index_folder
from embedlab.apps.recommend import Recommender
from embedlab.cli.checks import ROW_FORMATS, Force, check_output_file, field_options
from embedlab.cli.embed import DEFAULT_MODEL
from embedlab.cli.report import message_console
from embedlab.errors import InputError
from embedlab.store import (
    UnknownCollectionError,
    create_collection,
    drop_collection,
    open_collection,
)
from embedlab.text.readers import check_input_file, read_dataset
from embedlab.viz.map import project, write_map

Data = Annotated[Path, typer.Argument(help="Texts: .txt (a line each), .csv, .jsonl or .parquet.")]
Model = Annotated[str, typer.Option("--model", "-m", help="Model name, method or saved folder.")]
Field = Annotated[
    str | None, typer.Option(help="Text column of a .csv/.jsonl/.parquet file (default: text).")
]

MAP_FORMATS = (".png", ".html")

classify_app = typer.Typer(
    help="Train a text classifier on embeddings, and use it.", no_args_is_help=True
)


def _write_rows(rows: list[dict], out: Path) -> None:
    """Rows to .jsonl, .csv or .parquet by extension."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), out)
    elif out.suffix == ".csv":
        import csv

        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["empty"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        out.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )


def cluster_command(
    data: Data,
    model: Model = DEFAULT_MODEL,
    field: Field = None,
    k: Annotated[
        int | None, typer.Option(min=1, help="Number of clusters (default: best silhouette).")
    ] = None,
    method: Annotated[str, typer.Option(help="kmeans or hdbscan.")] = "kmeans",
    min_cluster_size: Annotated[int, typer.Option(min=2, help="HDBSCAN's smallest cluster.")] = 5,
    out: Annotated[
        Path | None, typer.Option(help="Write each text's cluster to .jsonl/.csv/.parquet.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the clusters as JSON.")] = False,
) -> None:
    """Cluster texts; label each cluster by its distinctive terms (c-TF-IDF) and central examples."""

    check_input_file(data)
    check_output_file(out, ROW_FORMATS, "--out")
    with field_options({field: "--field"}):
        texts, _ = read_dataset(data, field=field)
    result = cluster_texts(
        texts, embedlab.load(model), k=k, method=method, min_cluster_size=min_cluster_size
    )
    if out is not None:
        _write_rows(
            [{"text": t, "cluster": int(c)} for t, c in zip(texts, result.labels, strict=True)], out
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    sil = f", silhouette {result.silhouette:.3f}" if result.silhouette is not None else ""
    table = Table(title=f"{result.k} clusters of {len(texts)} texts ({result.method}{sil})")
    for column in ("cluster", "size", "distinctive terms", "most central example"):
        table.add_column(column, overflow="fold")
    for c in result.clusters:
        table.add_row(
            str(c.id),
            str(c.size),
            escape(", ".join(c.terms)),
            escape(c.examples[0]) if c.examples else "",
        )
    Console().print(table)


@classify_app.command("train")
def classify_train_command(
    data: Data,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to save the classifier to.")],
    text: Annotated[str, typer.Option(help="Text column.")] = "text",
    label: Annotated[str, typer.Option(help="Label column.")] = "label",
    model: Model = DEFAULT_MODEL,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    force: Force = False,
) -> None:
    """Train logistic regression on embeddings; report cross-validated accuracy; save it safely."""

    check_input_file(data)
    check_output_folder(out, force=force)
    with field_options({text: "--text", label: "--label"}):
        texts, columns = read_dataset(data, field=text, columns=[label])
    classifier = TextClassifier(model)
    report = classifier.fit(texts, [str(v) for v in columns[label]], folds=folds)
    classifier.save(out, force=force)
    Console().print(
        f"trained on {report['n']:,} texts: cross-validated accuracy {report.get('accuracy', float('nan')):.3f}, "
        f"macro-F1 {report.get('f1_macro', float('nan')):.3f} (majority baseline {report['majority_baseline']:.3f}); "
        f"saved to {out}",
        highlight=False,
        markup=False,
    )


@classify_app.command("predict")
def classify_predict_command(
    classifier_dir: Annotated[Path, typer.Argument(help="Folder written by `classify train`.")],
    data: Data,
    field: Field = None,
    out: Annotated[
        Path | None, typer.Option(help="Write predictions to .jsonl/.csv/.parquet.")
    ] = None,
) -> None:
    """Label new texts, with the probability of each label."""

    check_input_file(data)
    check_output_file(out, ROW_FORMATS, "--out")
    classifier = TextClassifier.load(classifier_dir)
    with field_options({field: "--field"}):
        texts, _ = read_dataset(data, field=field)
    probabilities = classifier.predict_proba(texts)
    rows = []
    for text, probs in zip(texts, probabilities, strict=True):
        best = int(probs.argmax())
        row = {
            "text": text,
            "label": str(classifier.classes_[best]),  # type: ignore[index]  # loaded: fitted
            "probability": round(float(probs[best]), 4),
        }
        row.update(
            {
                f"p_{c}": round(float(p), 4)
                for c, p in zip(classifier.classes_, probs, strict=True)  # type: ignore[arg-type]
            }
        )
        rows.append(row)
    if out is not None:
        _write_rows(rows, out)
    for row in rows:
        typer.echo(f"{row['label']}\t{row['probability']:.3f}\t{row['text']}")


def dedupe_command(
    data: Data,
    model: Model = DEFAULT_MODEL,
    field: Field = None,
    threshold: Annotated[
        float,
        typer.Option(min=-1.0, max=1.0, help="Cosine (-1 to 1) at or above which texts match."),
    ] = 0.9,
    out: Annotated[
        Path | None, typer.Option(help="Write the pairs to .jsonl/.csv/.parquet.")
    ] = None,
) -> None:
    """Find near-duplicate and paraphrase pairs, blockwise (never an n x n matrix in memory)."""

    check_input_file(data)
    check_output_file(out, ROW_FORMATS, "--out")
    with field_options({field: "--field"}):
        texts, _ = read_dataset(data, field=field)
    embedder = embedlab.load(model)
    if embedder.trainable and not embedder.is_fitted:
        embedder.fit(texts)
    vectors = embedder.embed(texts, progress=len(texts) > 2000)
    pairs = sorted(find_duplicates(vectors, threshold), key=lambda p: -p[2])
    rows = [
        {"i": i, "j": j, "score": round(s, 4), "text_i": texts[i], "text_j": texts[j]}
        for i, j, s in pairs
    ]
    if out is not None:
        _write_rows(rows, out)
    for row in rows:
        typer.echo(f"{row['score']:.3f}\t{row['i']}\t{row['j']}\t{row['text_i']}\t{row['text_j']}")
    message_console().print(
        f"{len(rows)} pairs at cosine ≥ {threshold} among {len(texts):,} texts", highlight=False
    )


def faq_command(
    faq: Annotated[
        Path,
        typer.Argument(help="FAQ file (.csv/.jsonl/.parquet) with question and answer columns."),
    ],
    questions: Annotated[list[str], typer.Argument(help="Incoming questions to match.")],
    model: Model = DEFAULT_MODEL,
    question_field: Annotated[str, typer.Option(help="Question column.")] = "question",
    answer_field: Annotated[str, typer.Option(help="Answer column.")] = "answer",
    threshold: Annotated[
        float, typer.Option(min=-1.0, max=1.0, help="Below this cosine (-1 to 1): no good match.")
    ] = 0.6,
) -> None:
    """Match each incoming question to the closest known question, or say there is no good match."""

    check_input_file(faq)
    with field_options({question_field: "--question-field", answer_field: "--answer-field"}):
        known, columns = read_dataset(faq, field=question_field, columns=[answer_field])
    matcher = FAQMatcher(
        known, [str(a) for a in columns[answer_field]], embedlab.load(model), threshold
    )
    for question in questions:
        match = matcher.match(question)
        typer.echo(json.dumps({"input": question, **match}, ensure_ascii=False))


def recommend_command(
    data: Data,
    like: Annotated[list[str], typer.Option(help="Id of an item the user liked (repeat).")],
    dislike: Annotated[
        list[str] | None, typer.Option(help="Id of an item the user disliked (repeat).")
    ] = None,
    model: Model = DEFAULT_MODEL,
    field: Field = None,
    id_field: Annotated[str | None, typer.Option(help="Id column (default: row number).")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many recommendations.")] = 5,
) -> None:
    """Recommend items like the liked ones and unlike the disliked ones, excluding what was seen."""

    check_input_file(data)
    with field_options({field: "--field", id_field: "--id-field"}):
        texts, columns = read_dataset(data, field=field, columns=[id_field] if id_field else [])
    ids = [str(v) for v in columns[id_field]] if id_field else [str(i) for i in range(len(texts))]
    recommender = Recommender.from_texts(ids, texts, embedlab.load(model))
    text_of = dict(zip(ids, texts, strict=True))
    for item, score in recommender.for_profile(like, dislike or [], k):
        typer.echo(f"{score:.3f}\t{item}\t{text_of[item]}")


def map_command(
    data: Annotated[Path | None, typer.Argument(help="Texts to map (omit with --words).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="map.png or map.html")] = Path(
        "map.html"
    ),
    model: Model = DEFAULT_MODEL,
    field: Field = None,
    color_by: Annotated[
        str | None, typer.Option(help="Column to colour points by; 'cluster' clusters first.")
    ] = None,
    method: Annotated[str, typer.Option(help="pca, or umap when umap-learn is installed.")] = "pca",
    words: Annotated[
        int | None, typer.Option(help="Map the N most frequent words of a word-vector model.")
    ] = None,
) -> None:
    """Project embeddings to 2-D and write a PNG or an interactive HTML page (text on hover)."""

    if data is not None and not words:
        check_input_file(data)
    check_output_file(out, MAP_FORMATS, "--out")
    embedder = embedlab.load(model)
    labels = None
    if words:
        vocab = getattr(getattr(embedder, "vectors", None), "words", None)
        if vocab is None:
            raise InputError(
                f"{embedder.name} has no word vocabulary", "use --words with a word-vector model"
            )
        texts = [w for w in vocab if w.isalpha()][:words]
    elif data is None:
        raise InputError(
            "nothing to map", "pass a data file, or --words N with a word-vector model"
        )
    else:
        extra = [color_by] if color_by and color_by != "cluster" else []
        with field_options({field: "--field", color_by: "--color-by"}):
            texts, columns = read_dataset(data, field=field, columns=extra)
        labels = [str(v) for v in columns[color_by]] if color_by and extra else None
    if embedder.trainable and not embedder.is_fitted:
        embedder.fit(texts)
    vectors = embedder.embed(texts)
    if color_by == "cluster":
        labels = [f"cluster {c}" for c in cluster_texts(texts, embedder).labels]
    points = project(vectors, method)
    path = write_map(
        points, texts, out, labels=labels, title=f"{len(texts)} texts embedded with {embedder.name}"
    )
    message_console().print(f"wrote {path}", highlight=False, markup=False)


def index_command(
    folder: Annotated[
        Path, typer.Argument(help="Folder of .txt, .md, .html, .pdf and .jsonl documents.")
    ],
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="Collection folder, or postgresql://...#name.")
    ],
    model: Model = DEFAULT_MODEL,
    max_tokens: Annotated[
        int, typer.Option(min=1, help="Largest chunk, in the model's tokens.")
    ] = 200,
    overlap: Annotated[
        int, typer.Option(min=0, help="Tokens repeated between neighbouring chunks.")
    ] = 40,
) -> None:
    """Chunk, embed and store a folder of documents; re-indexing embeds only what changed."""

    check_documents(folder)
    try:
        store, created = open_collection(collection), False
    except UnknownCollectionError:
        store, created = create_collection(collection, model=model), True
    try:
        report = index_folder(folder, store, max_tokens=max_tokens, overlap=overlap, progress=True)
        total = store.count()
    except BaseException:
        empty = store.count() == 0
        store.close()
        if created and empty:  # made by this run, and nothing in it: take it back
            drop_collection(collection)
        raise
    store.close()
    message_console().print(
        f"{len(report.added)} added, {len(report.updated)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged; {report.chunks_embedded} chunks embedded; "
        f"{total} chunks in {collection}",
        highlight=False,
        markup=False,
    )


def ask_command(
    collection: Annotated[str, typer.Argument(help="Collection folder, or postgresql://...#name.")],
    question: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many passages.")] = 5,
    rerank: Annotated[
        str | None, typer.Option(help="Re-rank the top candidates with this (stronger) model.")
    ] = None,
    hybrid: Annotated[bool, typer.Option(help="Fuse keyword (BM25) and dense search.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print passages as JSON.")] = False,
) -> None:
    """The best passages for a question, with source, score and surrounding context."""

    with open_collection(collection) as store:
        passages = ask(
            store, question, k=k, rerank=embedlab.load(rerank) if rerank else None, hybrid=hybrid
        )
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=2))
    else:
        typer.echo(as_prompt(passages))
