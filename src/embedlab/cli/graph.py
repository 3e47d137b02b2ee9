"""`embedlab graph train EDGES --method node2vec --out DIR` and `embedlab graph neighbors DIR NODE`.

EDGES is an edge list: a .csv/.tsv with source,target[,weight] columns, or a text file
(.txt, .edgelist, ...) with one whitespace-separated edge a line; gzipped files are read too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import embedlab
from embedlab._io import check_output_folder
from embedlab.cli.checks import Force
from embedlab.cli.report import message_console
from embedlab.cli.train import Dim, Epochs, Negative, Out, Progress, Seed, Window, Workers
from embedlab.cli.words import print_neighbors
from embedlab.embedders.graph.embedder import DeepWalkEmbedder, Node2VecEmbedder, RandomWalkEmbedder
from embedlab.errors import InputError

app = typer.Typer(
    help="Node embeddings of a graph: DeepWalk and node2vec (random walks, then skip-gram).",
    no_args_is_help=True,
)


@app.command("train")
def train_command(
    edges: Annotated[
        Path,
        typer.Argument(
            help="Edge list: .csv/.tsv with source,target[,weight] columns, or a .txt/.edgelist "
            "file with one 'source target [weight]' edge a line."
        ),
    ],
    out: Out,
    method: Annotated[
        str, typer.Option("--method", "-m", help="deepwalk (uniform walks) or node2vec (biased).")
    ] = "node2vec",
    dim: Dim = 128,
    walk_length: Annotated[int, typer.Option(min=2, help="Nodes per walk.")] = 80,
    walks_per_node: Annotated[int, typer.Option(min=1, help="Walks started from each node.")] = 10,
    window: Window = 10,
    p: Annotated[
        float,
        typer.Option(
            "--p",
            help="node2vec return parameter: below 1, walks go back more.",
        ),
    ] = 1.0,
    q: Annotated[
        float,
        typer.Option(
            "--q",
            help="node2vec in-out parameter: below 1 walks explore outwards, above 1 stay local.",
        ),
    ] = 1.0,
    epochs: Epochs = 1,
    negative: Negative = 5,
    directed: Annotated[
        bool, typer.Option("--directed/--undirected", help="Walk edges only from source to target.")
    ] = False,
    weighted: Annotated[
        bool, typer.Option("--weighted/--unweighted", help="Walk by the weight column, if any.")
    ] = True,
    workers: Workers = 2,
    seed: Seed = 1,
    force: Force = False,
    progress: Progress = True,
) -> None:
    """Train DeepWalk or node2vec node vectors on an edge list and save them to --out."""

    classes = {"deepwalk": DeepWalkEmbedder, "node2vec": Node2VecEmbedder}
    method = method.lower()
    if method not in classes:
        raise InputError(f"unknown graph method {method!r}", "use --method deepwalk or node2vec")
    options: dict[str, Any] = {
        "dim": dim,
        "walk_length": walk_length,
        "walks_per_node": walks_per_node,
        "window": window,
        "epochs": epochs,
        "negative": negative,
        "directed": directed,
        "weighted": weighted,
        "workers": workers,
        "seed": seed,
    }
    if method == "node2vec":
        options.update(p=p, q=q)
    elif (p, q) != (1.0, 1.0):
        raise InputError(
            "--p and --q bias node2vec's walks; DeepWalk's walks are uniform (p = q = 1)",
            "use --method node2vec, or drop --p and --q",
        )
    if not edges.is_file():
        what = "a folder" if edges.is_dir() else "not there"
        raise InputError(f"the edge list {edges} is {what}", "pass an edge-list file")
    check_output_folder(out, force=force)
    model = classes[method](**options).fit(edges, progress=progress)
    model.save(out, force=force)
    info = model.training
    kind = ("directed" if info["directed"] else "undirected") + (
        ", weighted" if info["weighted"] else ""
    )
    console = message_console()
    console.print(
        f"trained {method} on {info['nodes']:,} nodes and {info['edges']:,} edges ({kind}): "
        f"{info['walks']:,} walks in {info['walk_seconds']:.1f} s, skip-gram in "
        f"{info['train_seconds']:.1f} s; {info['nodes']:,} nodes x {model.dim} dims saved to {out}",
        highlight=False,
        markup=False,
    )
    busiest = model.vectors.most_frequent(1)[0][0]
    console.print(f"try: embedlab graph neighbors {out} {busiest}", highlight=False, markup=False)


@app.command("neighbors")
def neighbors_command(
    model: Annotated[str, typer.Argument(help="A folder saved by `embedlab graph train`.")],
    node: Annotated[str, typer.Argument(help="The node whose nearest nodes to show.")],
    topn: Annotated[
        int, typer.Option("--topn", "-k", "-n", min=1, help="How many nodes to show.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The nodes nearest to NODE by cosine similarity of their vectors."""

    embedder = embedlab.load(model)
    if not isinstance(embedder, RandomWalkEmbedder):
        raise InputError(
            f"{model} holds a {embedder.method} model, not a graph model",
            "train one with `embedlab graph train EDGES --out DIR`; for word models use "
            "`embedlab neighbors`",
        )
    rows = embedder.vectors.most_similar(node, topn=topn)  # type: ignore[union-attr]
    title = f"nearest to node {node!r} in {embedder.method} {model}"
    print_neighbors(title, rows, as_json, {"node": node}, label="node")
