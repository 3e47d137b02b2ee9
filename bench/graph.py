"""DeepWalk and node2vec (embedlab) on real graphs, and random-walk speed against peers.

Quality, with embedlab's defaults (128 dims, 10 walks of 80 per node, window 10, 1 epoch,
1 worker so every run is repeatable), five seeds each:
- Zachary's karate club (34 nodes, 78 weighted edges): node classification of the ``club``
  attribute, a 5-fold cross-validated logistic regression on the node vectors;
- Les Miserables co-appearances (77 nodes, 254 weighted edges): link prediction, 10% of the edges
  held out, scored against as many random non-edges by cosine (ROC AUC), one split per seed.

Speed: walks of a Barabasi-Albert graph (20,000 nodes, 99,975 edges; 10 walks of 80 per node),
and walks plus skip-gram end to end on a 5,000-node one. Peers are compared in the same process where they can be imported:
PecanPy (numba) and the ``node2vec`` package (networkx + alias tables, on a 2,000-node graph: it
is too slow for the large one). Neither installs beside numpy 2 with its dependencies (both pin
numpy < 2), so install them apart, without dependencies, and point ``--peers`` at the folder:

    pip install --no-deps --target /tmp/graph-peers pecanpy node2vec numba llvmlite \\
        numba-progress nptyping
    python bench/graph.py --peers /tmp/graph-peers
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from embedlab.embedders.graph.embedder import DeepWalkEmbedder, Node2VecEmbedder
from embedlab.embedders.graph.reading import read_graph
from embedlab.embedders.graph.walks import WalkSampler
from embedlab.eval.graph import link_prediction, node_classification

RESULTS = Path(__file__).parent / "results" / "graph.md"
SEEDS = range(5)
SETTINGS: list[tuple[str, dict[str, float]]] = [
    ("DeepWalk", {}),
    ("node2vec p=1 q=0.5", {"p": 1, "q": 0.5}),
    ("node2vec p=1 q=2", {"p": 1, "q": 2}),
    ("node2vec p=0.25 q=1", {"p": 0.25, "q": 1}),
    ("node2vec p=4 q=1", {"p": 4, "q": 1}),
]
SPEED_BIAS = [(1.0, 1.0), (1.0, 0.5), (0.25, 4.0)]
DEFAULTS = {"dim": 128, "walk_length": 80, "walks_per_node": 10, "window": 10, "epochs": 1}


def embedlab_model(bias: dict[str, float], seed: int) -> Any:
    if not bias:
        return DeepWalkEmbedder(workers=1, seed=seed)
    return Node2VecEmbedder(workers=1, seed=seed, **bias)


# -- peers, behind the interface the evaluation uses: fit(networkx graph), embed(node ids) -------
def numpy2_aliases() -> None:
    """nptyping (a PecanPy dependency) reads aliases numpy 2 removed; give them back."""
    for old, new in {
        "bool8": np.bool_, "object0": np.object_, "int0": np.intp, "uint0": np.uintp,
        "void0": np.void, "bytes0": np.bytes_, "str0": np.str_, "float_": np.float64,
        "complex_": np.complex128, "cfloat": np.complex128, "longfloat": np.longdouble,
        "singlecomplex": np.complex64, "clongfloat": np.clongdouble,
        "longcomplex": np.clongdouble, "string_": np.bytes_, "unicode_": np.str_,
    }.items():  # fmt: skip
        if old not in np.__dict__:
            setattr(np, old, new)


def write_edges(graph: nx.Graph, folder: str) -> str:
    path = os.path.join(folder, "graph.edg")
    with open(path, "w", encoding="utf-8") as handle:
        for u, v, data in graph.edges(data=True):
            handle.write(f"{u}\t{v}\t{data.get('weight', 1.0)}\n")
    return path


class PeerModel:
    """Walks from a peer, then the same gensim skip-gram embedlab trains (for quality)."""

    def __init__(
        self,
        walker: Callable[[nx.Graph, float, float, int], list[list[str]]],
        workers: int = 1,
        **bias: float,
    ) -> None:
        self.walker, self.bias, self.seed, self.workers = walker, bias, 0, workers

    def fit(self, graph: nx.Graph) -> PeerModel:
        from gensim.models import Word2Vec

        walks = self.walker(graph, self.bias.get("p", 1), self.bias.get("q", 1), self.seed)
        self.w2v = Word2Vec(
            walks,
            vector_size=DEFAULTS["dim"],
            window=DEFAULTS["window"],
            min_count=1,
            sg=1,
            sample=0,
            workers=self.workers,
            seed=self.seed,
            epochs=DEFAULTS["epochs"],
        )
        return self

    def embed(self, nodes: list[str], normalize: bool = False) -> np.ndarray:
        vectors = self.w2v.wv[nodes]
        if normalize:
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


def pecanpy_walks(mode: str) -> Callable[[nx.Graph, float, float, int], list[list[str]]]:
    def walk(graph: nx.Graph, p: float, q: float, seed: int) -> list[list[str]]:
        from pecanpy import pecanpy

        with tempfile.TemporaryDirectory() as folder:
            model = getattr(pecanpy, mode)(p=p, q=q, workers=1, verbose=False, random_state=seed)
            weighted = any("weight" in d for _, _, d in graph.edges(data=True))
            model.read_edg(write_edges(graph, folder), weighted=weighted, directed=False)
        return model.simulate_walks(DEFAULTS["walks_per_node"], DEFAULTS["walk_length"])

    return walk


def node2vec_package_walks(graph: nx.Graph, p: float, q: float, seed: int) -> list[list[str]]:
    from node2vec import Node2Vec

    model = Node2Vec(
        graph,
        dimensions=DEFAULTS["dim"],
        walk_length=DEFAULTS["walk_length"],
        num_walks=DEFAULTS["walks_per_node"],
        p=p,
        q=q,
        workers=1,
        quiet=True,
        seed=seed,
    )
    return model.walks


def peers(folder: str | None) -> dict[str, Callable[..., list[list[str]]]]:
    if folder:
        sys.path.insert(0, folder)
    found: dict[str, Callable[..., list[list[str]]]] = {}
    try:
        numpy2_aliases()
        import pecanpy.pecanpy  # noqa: F401

        found["PecanPy SparseOTF"] = pecanpy_walks("SparseOTF")
        found["PecanPy PreComp"] = pecanpy_walks("PreComp")
    except ImportError as exc:
        print(f"PecanPy not importable ({exc}); skipped", file=sys.stderr)
    try:
        import node2vec  # noqa: F401

        found["node2vec package"] = node2vec_package_walks
    except ImportError as exc:
        print(f"the node2vec package is not importable ({exc}); skipped", file=sys.stderr)
    return found


# -- runs --------------------------------------------------------------------------------------
def quality(make: Callable[[dict[str, float], int], Any], bias: dict[str, float]) -> dict:
    karate, lesmis = nx.karate_club_graph(), nx.les_miserables_graph()
    labels = nx.get_node_attributes(karate, "club")
    accuracy, auc, seconds = [], [], []
    for seed in SEEDS:
        started = time.perf_counter()
        model = make(bias, seed).fit(karate)
        seconds.append(time.perf_counter() - started)
        accuracy.append(node_classification(model, labels)["accuracy"])
        auc.append(link_prediction(make(bias, seed), lesmis, seed=seed)["auc"])
    return {"accuracy": accuracy, "auc": auc, "karate_seconds": statistics.median(seconds)}


def peer_maker(walker: Callable[..., list[list[str]]]) -> Callable[[dict[str, float], int], Any]:
    def make(bias: dict[str, float], seed: int) -> PeerModel:
        model = PeerModel(walker, **bias)
        model.seed = seed
        return model

    return make


def timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def our_walks(graph: nx.Graph, p: float, q: float) -> float:
    g = read_graph(graph)
    seconds, _ = timed(
        lambda: WalkSampler(g, p=p, q=q).walks(
            DEFAULTS["walks_per_node"], DEFAULTS["walk_length"], seed=1
        )
    )
    return seconds


def speed_peers(found: dict[str, Callable[..., Any]]) -> list[tuple[str, Callable[..., Any]]]:
    """The peers, PecanPy's once more on one numba thread (embedlab's walks use one core)."""
    rows = list(found.items())
    if "PecanPy SparseOTF" in found:

        def one_thread(*args: Any) -> Any:
            import numba

            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                return found["PecanPy SparseOTF"](*args)
            finally:
                numba.set_num_threads(threads)

        rows.append(("PecanPy SparseOTF, 1 thread", one_thread))
    return rows


def mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", help="a folder holding PecanPy / node2vec (see above)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    found = peers(args.peers)
    lines = [
        "# Graph node embeddings: DeepWalk and node2vec",
        "",
        f"`python bench/graph.py{' --peers DIR' if args.peers else ''}` on "
        f"{time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start: the "
        "machine is shared, so times are indicative).",
        "",
        "## Quality (5 seeds; mean ± sd)",
        "",
        "embedlab defaults: 128 dims, 10 walks of 80 per node, window 10, negative 5, 1 epoch, "
        "1 worker. Karate: accuracy of a 5-fold cross-validated logistic regression predicting "
        "`club` (majority baseline 0.500). Les Miserables: ROC AUC of 25 held-out edges against "
        "25 random non-edges by cosine (chance 0.5), a different split per seed. Peers' walks are "
        "fed to the same gensim skip-gram settings.",
        "",
        "| walks | karate accuracy | Les Miserables AUC | karate fit (median) |",
        "|---|---|---|---|",
    ]
    rows: list[tuple[str, Callable[[dict[str, float], int], Any], dict[str, float]]] = [
        (f"embedlab {name}", embedlab_model, bias) for name, bias in SETTINGS
    ]
    for peer, walker in found.items():
        for name, bias in SETTINGS[:2]:
            rows.append((f"{peer} {name.replace('node2vec ', '')}", peer_maker(walker), bias))
    for label, make, bias in rows:
        result = quality(make, bias)
        lines.append(
            f"| {label} | {mean_sd(result['accuracy'])} | {mean_sd(result['auc'])} | "
            f"{result['karate_seconds']:.2f} s |"
        )
        print(lines[-1], flush=True)

    big = nx.barabasi_albert_graph(20_000, 5, seed=0)
    small = nx.barabasi_albert_graph(2_000, 5, seed=0)
    tiny = nx.karate_club_graph()
    lines += [
        "",
        "## Walk speed",
        "",
        "Walks only (10 per node, 80 steps), wall time of one run, each peer's own way: from "
        "networkx for embedlab and the node2vec package, from an edge-list file for PecanPy "
        "(written, read and walked), ending with the walks as lists of node-id strings for "
        "PecanPy and the node2vec package (embedlab builds those lazily while skip-gram reads "
        "them). embedlab's walks are numpy on one core; PecanPy's are numba on all cores (once "
        "more on one core, its own row) and are compiled again on every `simulate_walks` call: "
        "'less compile' subtracts the same call's time on the 34-node karate graph, which is "
        "nearly all compile. The node2vec package precomputes its alias tables in Python.",
        "",
        "| graph | p, q | embedlab | peer | peer time | peer less compile | ratio (less compile) |",
        "|---|---|---|---|---|---|---|",
    ]
    for graph, name in ((big, "BA 20,000 nodes / 99,975 edges"), (small, "BA 2,000 / 9,975")):
        for p, q in SPEED_BIAS:
            ours = our_walks(graph, p, q)
            peer_rows = [
                (peer, walker)
                for peer, walker in speed_peers(found)
                if peer.startswith("node2vec package") == (graph is small)
            ]
            if not peer_rows:
                lines.append(f"| {name} | {p:g}, {q:g} | {ours:.2f} s | – | – | – | – |")
            for peer, walker in peer_rows:
                compile_seconds = 0.0
                if peer.startswith("PecanPy"):
                    compile_seconds, _ = timed(walker, tiny, p, q, 1)
                theirs, _ = timed(walker, graph, p, q, 1)
                net = theirs - compile_seconds
                lines.append(
                    f"| {name} | {p:g}, {q:g} | {ours:.2f} s | {peer} | {theirs:.2f} s | "
                    f"{net:.2f} s | {theirs / ours:.1f}x ({net / ours:.1f}x) |"
                )
            print("\n".join(lines[-max(1, len(peer_rows)) :]), flush=True)

    lines += [
        "",
        "## End to end",
        "",
        "node2vec p=1 q=0.5 on a Barabasi-Albert graph of 5,000 nodes (24,975 edges): walks and "
        "skip-gram (128 dims, window 10, 1 epoch, gensim with 2 workers for both).",
        "",
    ]
    medium = nx.barabasi_albert_graph(5_000, 5, seed=0)
    fit_seconds, model = timed(lambda: Node2VecEmbedder(q=0.5, workers=2, seed=1).fit(medium))
    info = model.training
    lines.append(
        f"- embedlab `Node2VecEmbedder(q=0.5, workers=2).fit(graph)`: {fit_seconds:.1f} s: "
        f"reading the graph and {info['walks']:,} walks ({info['walk_steps']:,} steps) "
        f"{info['walk_seconds']:.1f} s, skip-gram {info['train_seconds']:.1f} s."
    )
    print(lines[-1], flush=True)
    if "PecanPy SparseOTF" in found:
        peer = PeerModel(found["PecanPy SparseOTF"], p=1, q=0.5, workers=2)
        peer_seconds, _ = timed(peer.fit, medium)
        lines.append(
            f"- PecanPy SparseOTF walks + the same `gensim.models.Word2Vec`: {peer_seconds:.1f} s "
            f"({peer_seconds / fit_seconds:.1f}x embedlab's time)."
        )
        print(lines[-1], flush=True)
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
