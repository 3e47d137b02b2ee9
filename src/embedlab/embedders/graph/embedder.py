"""Graph node embeddings: DeepWalk and node2vec (random walks over the graph, then skip-gram).

A walk ``a b c b d ...`` is a sentence whose words are nodes, so nodes that share neighbourhoods
get close vectors when gensim's skip-gram (negative sampling) learns from the walks. DeepWalk
(Perozzi et al. 2014) walks uniformly (by edge weight); node2vec (Grover & Leskovec 2016) biases
each step by where the walk came from: back to the previous node with weight ``1/p``, to a
common neighbour of both with weight 1, further away with weight ``1/q`` (low ``q``: explore
outwards, DFS-like; high ``q``: stay local, BFS-like). DeepWalk is node2vec with ``p = q = 1``.

The graph is held as sorted neighbour arrays (CSR), and up to ``CHUNK`` walkers advance in
lockstep with numpy. A step proposes a neighbour by edge weight (one ``searchsorted`` over
per-node cumulative weights, or one index for unweighted graphs); node2vec's bias is applied by
rejection sampling, as the fast node2vec implementations do (PecanPy, KnightKing), with no
per-edge alias tables (those take memory in the sum of squared degrees): accept the proposal x
with alpha(x) / max(1, 1/q), a large return weight 1/p folded out so that it does not lower
every other acceptance, and "is x a neighbour of the previous node" answered by a numpy hash
table of the edges. Walks are written once to a memory-mapped temporary file that gensim reads
for every epoch, so memory stays flat. One seed makes the walks reproducible; ``workers=1``
makes training bit-for-bit repeatable too.

The trained model is a node Embedder: ``embed(["0", "33"])`` returns those nodes' vectors (node
ids are strings; an unknown one raises :class:`~embedlab.errors.UnknownWordError`), and
``model.vectors`` has gensim's verbs (``most_similar("33")``, ``similarity("0", "33")``).
"""

from __future__ import annotations

import csv
import gzip
import inspect
import math
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts
from embedlab.embedders.saving import save_array, save_json
from embedlab.embedders.words.corpus import check_positive
from embedlab.embedders.words.vectors import WordVectors, read_saved_vectors
from embedlab.embedders.words.word2vec import epoch_callback
from embedlab.errors import (
    DataFormatError,
    EmbedlabError,
    InputError,
    NotFittedError,
    UnknownWordError,
)
from embedlab.progress import progress_bar
from embedlab.text.readers import _check_file, _decode

CHUNK = 65_536  # walkers advanced together; fixed, so one seed always gives the same walks
DELIMITERS = {".csv": ",", ".tsv": "\t"}  # any other edge-list file splits on whitespace
COMMENTS = ("#", "%")
HEADER_NAMES = {
    "source", "target", "src", "dst", "from", "to", "u", "v", "node1", "node2",
    "head", "tail", "source_id", "target_id", "id1", "id2",
}  # fmt: skip

GraphSource = Any  # a networkx graph, an edge-list file, or an iterable of (u, v[, weight])


# -- graphs -------------------------------------------------------------------------------------
@dataclass
class Graph:
    """A graph as sorted neighbour arrays: node ``i``'s neighbours are
    ``indices[indptr[i]:indptr[i + 1]]`` in increasing order, with ``weights`` (None when all
    edges weigh the same). An undirected edge is stored in both directions."""

    nodes: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray | None
    directed: bool

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Edges as given: each undirected edge once."""
        if self.directed:
            return len(self.indices)
        loops = int(np.count_nonzero(self.indices == self.sources()))
        return (len(self.indices) + loops) // 2

    @property
    def degrees(self) -> np.ndarray:
        """Out-degree of every node (neighbours, not weights)."""
        return np.diff(self.indptr)

    def sources(self) -> np.ndarray:
        """The source node of every stored edge (aligned with ``indices``)."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int64), self.degrees)

    def neighbors(self, node: str) -> list[str]:
        i = self.nodes.index(node)
        return [self.nodes[j] for j in self.indices[self.indptr[i] : self.indptr[i + 1]]]


def read_graph(
    source: GraphSource, *, directed: bool | None = None, weighted: bool = True
) -> Graph:
    """A :class:`Graph` from a networkx graph, an edge-list file or an iterable of edges.

    - a networkx ``Graph``/``DiGraph``: its nodes in order (isolated ones too) and its edges,
      weighted by the ``weight`` attribute; a ``DiGraph`` is walked along its edges' direction
      unless ``directed=False``;
    - a file: ``.csv``/``.tsv`` with ``source,target[,weight]`` columns, or any other name
      (``.txt``, ``.edgelist``, ...) with whitespace-separated columns; ``.gz`` is read too;
      ``#``/``%`` lines are comments; a ``source,target,weight`` header is skipped;
    - an iterable of ``(u, v)`` or ``(u, v, weight)`` tuples (or an ``(E, 2|3)`` array).

    Node ids become strings (``0`` and ``"0"`` are the same node). Files and tuples are
    undirected unless ``directed=True``. A repeated edge replaces the earlier one (as in
    networkx); weights must be positive; ``weighted=False`` ignores them.
    """
    if _is_networkx(source):
        nodes, src, dst, weights = _from_networkx(source, weighted)
        # an undirected graph's edges go both ways, whatever is asked
        directed = source.is_directed() and directed is not False
    elif isinstance(source, str | os.PathLike):
        nodes, src, dst, weights = _from_file(Path(source))
    elif isinstance(source, bytes | dict) or not isinstance(source, Iterable):
        raise InputError(
            f"cannot read a graph from a {type(source).__name__}",
            "pass a networkx graph, an edge-list file (.csv/.tsv/.txt) or (u, v[, w]) tuples",
        )
    else:
        nodes, src, dst, weights = _from_edges(source)
    if not weighted:
        weights = np.ones(len(src))
    if not nodes:
        raise InputError("the graph has no nodes", "pass a graph with at least one edge")
    return _csr(nodes, src, dst, weights, bool(directed))


def _is_networkx(source: Any) -> bool:
    return all(hasattr(source, a) for a in ("nodes", "edges", "is_directed", "adj"))


class _Nodes:
    """Node ids as strings, numbered in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, node: object) -> int:
        name = node if isinstance(node, str) else str(node)
        found = self.index.get(name)
        if found is None:
            found = self.index[name] = len(self.index)
        return found

    @property
    def names(self) -> list[str]:
        return list(self.index)


Edges = tuple[list[str], np.ndarray, np.ndarray, np.ndarray]


def _edge_arrays(ids: _Nodes, src: list[int], dst: list[int], weights: list[float]) -> Edges:
    return (
        ids.names,
        np.asarray(src, dtype=np.int64),
        np.asarray(dst, dtype=np.int64),
        np.asarray(weights, dtype=np.float64),
    )


def _from_networkx(graph: Any, weighted: bool) -> Edges:
    ids = _Nodes()
    for node in graph.nodes:
        ids(node)
    if len(ids.index) != graph.number_of_nodes():
        raise InputError(
            "two nodes of the graph have the same string form (e.g. 1 and '1')",
            "relabel the nodes, e.g. networkx.convert_node_labels_to_integers(graph)",
        )
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    for u, v, w in graph.edges(data="weight" if weighted else None, default=1.0):
        src.append(ids(u))
        dst.append(ids(v))
        weights.append(_weight(w, InputError, "the edge ({!r}, {!r})", u, v))
    return _edge_arrays(ids, src, dst, weights)


def _from_edges(edges: Iterable[Any]) -> Edges:
    ids = _Nodes()
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    if isinstance(edges, np.ndarray):
        edges = _array_edges(edges)
    for i, edge in enumerate(edges):
        if (
            isinstance(edge, str | bytes)
            or not isinstance(edge, Sequence)
            or not 2 <= len(edge) <= 3
        ):
            raise InputError(
                f"edge {i} is {edge!r}, not a (source, target) or (source, target, weight) tuple",
                "pass edges such as [('a', 'b'), ('b', 'c', 2.0)], or an edge-list file's path",
            )
        src.append(ids(edge[0]))
        dst.append(ids(edge[1]))
        weights.append(_weight(edge[2], InputError, "edge {}", i) if len(edge) == 3 else 1.0)
    return _edge_arrays(ids, src, dst, weights)


def _array_edges(edges: np.ndarray) -> list[Any]:
    """Rows of an ``(E, 2|3)`` array; whole-number float node ids become ints ("3", not "3.0"),
    as a float array of ``(u, v, weight)`` rows has them."""
    rows = edges.tolist()
    if edges.ndim == 2 and edges.dtype.kind == "f" and edges.shape[1] in (2, 3):
        ends = edges[:, :2]
        if np.all(np.isfinite(ends)) and np.all(ends == np.round(ends)):
            return [[int(row[0]), int(row[1]), *row[2:]] for row in rows]
    return rows


def _weight(value: Any, error: type[EmbedlabError], where: str, *args: object) -> float:
    """``value`` as a positive weight; else ``error``, naming the edge (``where.format(*args)``,
    formatted only then)."""
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise error(
            f"{where.format(*args)} has the weight {value!r}, which is not a number",
            "give weights as numbers, or drop the weight column",
        ) from None
    if not (math.isfinite(weight) and weight > 0):
        raise error(
            f"{where.format(*args)} has the weight {value!r}; a random walk needs positive weights",
            "drop the edge, or give it a positive weight",
        )
    return weight


def _lines(path: Path) -> Iterator[str]:
    """The decoded lines of an edge-list file (gzipped too), with UTF-8 errors named by line."""

    _check_file(path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                yield _decode(raw, path, line_no)
    except (OSError, EOFError) as exc:  # e.g. a .gz that is not gzip
        raise DataFormatError(f"cannot read {path} ({exc})", "check the file") from None


def _from_file(path: Path) -> Edges:
    suffixes = [s.lower() for s in path.suffixes]
    kind = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else path.suffix.lower()
    delimiter = DELIMITERS.get(kind)
    rows: Iterator[tuple[int, list[str]]]
    if delimiter:
        reader = csv.reader(_lines(path), delimiter=delimiter)
        rows = ((reader.line_num, row) for row in reader)
    else:
        rows = ((number, line.split()) for number, line in enumerate(_lines(path), start=1))
    ids = _Nodes()
    src: list[int] = []
    dst: list[int] = []
    weights: list[float] = []
    first = True
    for line, row in rows:
        fields = [field.strip() for field in row]
        if not any(fields) or fields[0].startswith(COMMENTS):
            continue
        if first and _is_header(fields):
            first = False
            continue
        first = False
        if not 2 <= len(fields) <= 3 or not all(fields):
            separated = {",": "separated by commas", "\t": "separated by tabs"}
            raise DataFormatError(
                f"{path} line {line} has {len(fields)} field(s) {fields[:4]!r}; an edge is "
                "'source target' or 'source target weight'",
                f"write one edge a line, {separated.get(delimiter or '', 'separated by spaces')}",
            )
        src.append(ids(fields[0]))
        dst.append(ids(fields[1]))
        if len(fields) == 3:
            weights.append(_weight(fields[2], DataFormatError, "{} line {}", path, line))
        else:
            weights.append(1.0)
    if not src:
        raise DataFormatError(f"{path} holds no edges", "write one edge a line: 'source target'")
    return _edge_arrays(ids, src, dst, weights)


def _is_header(fields: list[str]) -> bool:
    """A first row of column names: known names, or a third column that is not a number."""
    if len(fields) >= 2 and {f.lower() for f in fields[:2]} <= HEADER_NAMES:
        return True
    if len(fields) == 3:
        try:
            float(fields[2])
        except ValueError:
            return True
    return False


def _csr(
    nodes: list[str], src: np.ndarray, dst: np.ndarray, w: np.ndarray, directed: bool
) -> Graph:
    n = len(nodes)
    if not directed:  # both directions, interleaved so that "the later edge wins" still holds
        mirror = src != dst  # a self-loop is stored once
        src, dst, w = (
            np.stack([a, np.where(mirror, b, -1)], axis=1).ravel()
            for a, b in ((src, dst), (dst, src), (w, w))
        )
        keep = src >= 0
        src, dst, w = src[keep], dst[keep], w[keep]
    keys = src * n + dst
    # the last occurrence of each edge wins: unique over the reversed keys finds it first
    _, first = np.unique(keys[::-1], return_index=True)
    last = len(keys) - 1 - first  # sorted by key, that is by (source, target)
    counts = np.bincount(src[last], minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    dtype = np.int32 if n < 2**31 else np.int64
    weights = w[last]
    return Graph(
        nodes=nodes,
        indptr=indptr,
        indices=dst[last].astype(dtype),
        weights=None if len(weights) == 0 or np.all(weights == weights[0]) else weights,
        directed=directed,
    )


# -- walks --------------------------------------------------------------------------------------
class EdgeTable:
    """Where each edge ``source -> target`` is stored, found for many edges at once: an
    open-addressing hash table (linear probing) of the edge keys ``source * n + target``,
    filled and searched with numpy. A lookup costs one or two gathers, where a binary search
    over the sorted keys costs one per halving (several times slower, measured)."""

    def __init__(self, graph: Graph) -> None:
        keys = graph.sources() * graph.n_nodes + graph.indices
        self.n_nodes = graph.n_nodes
        self.bits = max(4, (2 * len(keys)).bit_length())  # at most half full
        self.keys = np.full(1 << self.bits, -1, dtype=np.int64)
        self.positions = np.zeros(1 << self.bits, dtype=np.int64)
        slot = self._home(keys)
        pending = np.arange(len(keys))
        while pending.size:  # every pending key tries its slot; one wins each free slot
            free = self.keys[slot[pending]] == -1
            trying = pending[free]
            _, first = np.unique(slot[trying], return_index=True)
            placed = trying[first]
            self.keys[slot[placed]] = keys[placed]
            self.positions[slot[placed]] = placed
            done = np.zeros(len(keys), dtype=bool)
            done[placed] = True
            pending = pending[~done[pending]]
            slot[pending] = (slot[pending] + 1) & ((1 << self.bits) - 1)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        """Fibonacci hashing: the top bits of key * 2^64 / golden ratio."""
        product = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return (product >> np.uint64(64 - self.bits)).astype(np.int64)

    def find(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The stored position of each edge ``sources[i] -> targets[i]``, -1 where none."""
        keys = sources.astype(np.int64) * self.n_nodes + targets
        found = np.full(len(keys), -1, dtype=np.int64)
        slot = self._home(keys)
        active = np.arange(len(keys))
        while active.size:
            held = self.keys[slot[active]]
            hit = held == keys[active]
            found[active[hit]] = self.positions[slot[active[hit]]]
            active = active[~hit & (held != -1)]
            slot[active] = (slot[active] + 1) & ((1 << self.bits) - 1)
        return found


class WalkSampler:
    """Random walks over a :class:`Graph`: first-order by edge weight, or node2vec's
    second-order walks with return parameter ``p`` and in-out parameter ``q``."""

    def __init__(self, graph: Graph, *, p: float = 1.0, q: float = 1.0) -> None:
        _check_bias(p, q)
        self.graph = graph
        self.degrees = graph.degrees
        self.starts = graph.indptr[:-1]
        self.inv_p, self.inv_q = 1.0 / p, 1.0 / q
        self.biased = p != 1 or q != 1
        # rejection sampling: the envelope m, the return weight folded out above it, and the
        # thresholds (on uniform * m) under which a return / any other proposal is accepted
        self.envelope = max(1.0, self.inv_q)
        self.fold = max(0.0, self.inv_p - self.envelope)
        self.return_bar = min(self.inv_p, self.envelope)
        self.sure_bar = min(1.0, self.inv_q)
        self.totals = self.degrees.astype(np.float64)  # out-weight of every node
        self.cumulative: np.ndarray | None = None
        if graph.weights is not None:
            # per edge: its source + the cumulative share of the source's weight up to it, so
            # node v's edges lie in (v, v + 1] and "v + uniform[0, 1)" picks one by weight
            sources = graph.sources()
            self.totals = np.bincount(sources, graph.weights, minlength=graph.n_nodes)
            running = np.cumsum(graph.weights)
            before = np.concatenate([[0.0], running])[self.starts]
            share = (running - np.repeat(before, self.degrees)) / self.totals[sources]
            share[graph.indptr[1:][self.degrees > 0] - 1] = 1.0  # exactly, whatever rounding did
            self.cumulative = sources + share
        self.edges = EdgeTable(graph) if self.biased else None

    def step(self, current: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One first-order step from each node of ``current`` (all with out-degree > 0)."""
        start = self.starts[current]
        degree = self.degrees[current]
        if self.cumulative is None:
            offset = (rng.random(len(current)) * degree).astype(np.int64)
            return self.graph.indices[start + np.minimum(offset, degree - 1)]
        position = np.searchsorted(self.cumulative, current + rng.random(len(current)), "right")
        return self.graph.indices[np.clip(position, start, start + degree - 1)]

    def biased_step(
        self, previous: np.ndarray, current: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """node2vec's second-order step: the next node x is drawn with probability proportional
        to weight(current, x) * alpha(x), alpha being 1/p for a return to ``previous``, 1 for a
        neighbour of ``previous`` and 1/q for any other node.

        By rejection: propose x by edge weight, accept with alpha(x) / m, m = max(1, 1/q). A
        return weight 1/p above m does not raise m (which would make every other proposal
        likelier to be rejected): the excess of the return edge is folded out into a region of
        its own that returns at once ("outlier folding", as in KnightKing).
        """
        out = np.empty_like(current)
        pending = np.arange(len(current))
        if self.fold:
            excess = self.fold * self._edge_weight(current, previous)  # 0: no edge back
            area = self.envelope * self.totals[current] + excess
        while pending.size:
            if self.fold:
                folded = rng.random(len(pending)) * area[pending] < excess[pending]
                out[pending[folded]] = previous[pending[folded]]
                pending = pending[~folded]
            here, before = current[pending], previous[pending]
            proposed = self.step(here, rng)
            threshold = rng.random(len(pending)) * self.envelope
            returns = proposed == before
            accepted = np.where(returns, threshold < self.return_bar, threshold < self.sure_bar)
            if self.inv_q != 1:  # whether x neighbours previous decides the rest
                unsure = ~returns & ~accepted & (threshold < self.envelope)
                linked = self._edge_weight(before[unsure], proposed[unsure]) > 0
                accepted[unsure] = linked if self.inv_q < 1 else ~linked
            out[pending[accepted]] = proposed[accepted]
            pending = pending[~accepted]
        return out

    def _edge_weight(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The weight of each edge source -> target (0 where there is none)."""
        assert self.edges is not None
        position = self.edges.find(sources, targets)
        weights = 1.0 if self.graph.weights is None else self.graph.weights[position]
        return np.where(position >= 0, weights, 0.0)

    def walk(self, starts: np.ndarray, out: np.ndarray, rng: np.random.Generator) -> None:
        """Walk from each of ``starts`` into the rows of ``out`` (a walk that reaches a node
        with no out-edges stops there; the rest of its row stays -1)."""
        out[:, 0] = starts
        alive = np.arange(len(starts))
        current = starts.astype(np.int64)
        previous = current
        for position in range(1, out.shape[1]):
            moving = self.degrees[current] > 0
            alive, current, previous = alive[moving], current[moving], previous[moving]
            if not alive.size:
                break
            if self.biased and position > 1:
                following = self.biased_step(previous, current, rng)
            else:
                following = self.step(current, rng)
            out[alive, position] = following
            previous, current = current, following.astype(np.int64)

    def walks(
        self,
        walks_per_node: int,
        walk_length: int,
        *,
        seed: int = 1,
        out: np.ndarray | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """``walks_per_node`` walks from every node (each round in a fresh random order), as an
        ``(n_nodes * walks_per_node, walk_length)`` array of node numbers, -1 past a dead end.

        ``out`` may be a memory-mapped array to fill; the same seed gives the same walks.
        """

        check_positive("walks_per_node", walks_per_node)
        check_positive("walk_length", walk_length, 2)
        n = self.graph.n_nodes
        shape = (n * walks_per_node, walk_length)
        dtype = np.int32 if n < 2**31 else np.int64
        if out is None:
            out = np.empty(shape, dtype=dtype)
        elif out.shape != shape:
            raise InputError(f"out has shape {out.shape}, not {shape}", "pass a matching array")
        rng = np.random.default_rng(seed)
        # each round starts from every node in a fresh order; chunks span rounds, so that small
        # graphs walk in one vectorised block
        starts = np.concatenate([rng.permutation(n).astype(dtype) for _ in range(walks_per_node)])
        with progress_bar("random walks", shape[0], enabled=progress) as advance:
            for lo in range(0, len(starts), CHUNK):
                rows = np.full((min(CHUNK, len(starts) - lo), walk_length), -1, dtype=out.dtype)
                self.walk(starts[lo : lo + CHUNK], rows, rng)
                out[lo : lo + len(rows)] = rows
                advance(len(rows))
        return out


def _check_bias(p: float, q: float) -> None:
    for name, value in (("p", p), ("q", q)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise InputError(
                f"{name} must be a positive number, got {value!r}",
                "p=q=1 is DeepWalk; e.g. q=0.5 explores outwards, q=2 stays near the start",
            )


class _WalkSentences:
    """The walks as lists of node ids, for gensim (restartable: read again every epoch)."""

    def __init__(self, walks: np.ndarray, nodes: list[str]) -> None:
        self.walks = walks
        self.names = np.array(nodes, dtype=object)

    def __iter__(self) -> Iterator[list[str]]:
        for lo in range(0, len(self.walks), 4096):
            for row in np.asarray(self.walks[lo : lo + 4096]):
                yield self.names[row[row >= 0]].tolist()


# -- the embedder -------------------------------------------------------------------------------
class NodeVectors(WordVectors):
    """:class:`WordVectors` whose words are graph nodes: ``most_similar("33")`` and so on."""

    def _unknown(self, node: object) -> UnknownWordError:
        examples = ", ".join(repr(n) for n in self.words[:3])
        hint = f"node ids are strings, matched exactly; the graph's {len(self)} nodes include "
        if not isinstance(node, str):
            hint = f"pass node ids as strings, e.g. {str(node)!r}; the graph's nodes include "
        return UnknownWordError(f"the node {node!r} is not in the graph", hint + examples)


class RandomWalkEmbedder(Embedder):
    """What DeepWalk and node2vec share: walks (biased by ``p``, ``q``), then skip-gram."""

    trainable = True

    def __init__(
        self,
        *,
        dim: int = 128,
        walk_length: int = 80,
        walks_per_node: int = 10,
        window: int = 10,
        epochs: int = 1,
        negative: int = 5,
        sample: float = 0.0,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        directed: bool | None = None,
        weighted: bool = True,
        workers: int = 2,
        seed: int = 1,
    ) -> None:
        for name, value, minimum in (
            ("dim", dim, 1),
            ("walk_length", walk_length, 2),
            ("walks_per_node", walks_per_node, 1),
            ("window", window, 1),
            ("epochs", epochs, 1),
            ("negative", negative, 1),
            ("workers", workers, 1),
            ("sample", sample, 0),
            ("alpha", alpha, 0),
            ("min_alpha", min_alpha, 0),
        ):
            check_positive(name, value, minimum)
        super().__init__(
            dim=int(dim),
            walk_length=int(walk_length),
            walks_per_node=int(walks_per_node),
            window=int(window),
            epochs=int(epochs),
            negative=int(negative),
            sample=float(sample),
            alpha=float(alpha),
            min_alpha=float(min_alpha),
            directed=None if directed is None else bool(directed),
            weighted=bool(weighted),
            workers=int(workers),
            seed=int(seed),
        )
        self.bias = (1.0, 1.0)  # (p, q): uniform walks unless node2vec sets them
        self.vectors: NodeVectors | None = None
        self.training: dict[str, Any] = {}

    # -- state ---------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return self.vectors is not None

    def _kv(self) -> NodeVectors:
        if self.vectors is None:
            raise NotFittedError(
                f"this {self.method} model has not been trained yet",
                f"call .fit(graph), or train one with `embedlab graph train EDGES --method "
                f"{self.method} --out DIR`",
            )
        return self.vectors

    def _require_fitted(self) -> None:
        self._kv()

    @property
    def dim(self) -> int:
        return self._kv().dim if self.vectors is not None else self.params["dim"]

    @property
    def nodes(self) -> list[str]:
        """The graph's node ids, in the row order of ``vectors``."""
        return self._kv().words

    # -- training ------------------------------------------------------------------------------
    def fit(self, X: GraphSource, y: Any = None, *, progress: bool = False) -> Self:  # noqa: N803
        """Walk the graph ``X`` (networkx graph, edge-list file or (u, v[, w]) tuples) and train
        skip-gram on the walks; returns self."""
        from gensim.models import Word2Vec

        p = self.params
        started = time.perf_counter()
        graph = read_graph(X, directed=p["directed"], weighted=p["weighted"])
        if not len(graph.indices):
            raise InputError(
                f"the graph's {graph.n_nodes} node(s) have no edges, so there is nowhere to walk",
                "pass a graph with edges",
            )
        sampler = WalkSampler(graph, p=self.bias[0], q=self.bias[1])
        shape = (graph.n_nodes * p["walks_per_node"], p["walk_length"])
        with tempfile.TemporaryDirectory(prefix="embedlab-walks-") as folder:
            walks = np.lib.format.open_memmap(
                Path(folder) / "walks.npy", mode="w+", dtype=np.int32, shape=shape
            )
            sampler.walks(
                p["walks_per_node"], p["walk_length"], seed=p["seed"], out=walks, progress=progress
            )
            visits = _visits(walks, graph.n_nodes)
            walk_seconds = time.perf_counter() - started
            model = Word2Vec(
                vector_size=p["dim"],
                window=p["window"],
                min_count=1,
                sg=1,
                hs=0,
                negative=p["negative"],
                sample=p["sample"],
                alpha=p["alpha"],
                min_alpha=p["min_alpha"],
                epochs=p["epochs"],
                workers=p["workers"],
                seed=p["seed"],
            )
            model.build_vocab_from_freq(
                dict(zip(graph.nodes, visits.tolist(), strict=True)), corpus_count=shape[0]
            )
            trained = time.perf_counter()
            with progress_bar(
                f"training {self.method} (epochs)", p["epochs"], enabled=progress
            ) as advance:
                model.train(
                    _WalkSentences(walks, graph.nodes),
                    total_examples=shape[0],
                    total_words=int(visits.sum()),
                    epochs=p["epochs"],
                    callbacks=[epoch_callback(advance)],
                )
            train_seconds = time.perf_counter() - trained
            del walks
        rows = [model.wv.key_to_index[node] for node in graph.nodes]
        self.vectors = NodeVectors(graph.nodes, model.wv.vectors[rows].copy(), visits)
        self.training = {
            "nodes": graph.n_nodes,
            "edges": graph.n_edges,
            "directed": graph.directed,
            "weighted": graph.weights is not None,
            "walks": shape[0],
            "walk_steps": int(visits.sum()),
            "walk_seconds": round(walk_seconds, 3),
            "train_seconds": round(train_seconds, 3),
            "seconds": round(time.perf_counter() - started, 3),
        }
        return self

    def fit_transform(self, X: GraphSource, y: Any = None) -> np.ndarray:  # noqa: N803
        """Fit on the graph and return every node's vector, in the order of :attr:`nodes`."""
        return self.fit(X).vectors.vectors.copy()  # type: ignore[union-attr]

    # -- embedding -----------------------------------------------------------------------------
    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        kv = self._kv()
        return kv.vectors[[kv.get_index(node) for node in texts]]

    def count_tokens(self, text: str) -> int:
        return 1  # a node id is one item, whatever characters it has

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """A node id is not tokenized: the walkthrough is the one node, its row and its vector
        (the same vector ``embed`` gives), so every tool that shows token steps works here."""
        (node,) = check_texts([text])
        kv = self._kv()
        row = kv.get_index(node)
        vector = np.array(kv.vectors[row], dtype=np.float32)
        degree_note = f"visited {int(kv.counts[row]):,} times in the training walks"
        return TokenEmbeddings(
            text=node,
            model=self.name,
            tokens=[node],
            ids=[row],
            lookup=vector[None],
            vector=vector,
            pooling="none: a graph node's vector is its own row (node ids are not tokenized)",
            notes=[degree_note] if kv.counts is not None else [],
        )

    # -- persistence ---------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        kv = self._kv()
        state = {
            "nodes": save_json(folder, "nodes", kv.words),
            "vectors": save_array(folder, "vectors", kv.vectors),
            "training": self.training,
        }
        if kv.counts is not None:
            state["counts"] = save_array(folder, "counts", kv.counts)
        return state

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        saved = read_saved_vectors(folder, {**meta, "words": meta.get("nodes", "nodes.json")})
        self.vectors = NodeVectors(saved.words, saved.vectors, saved.counts)
        self.training = meta.get("training", {})


def _visits(walks: np.ndarray, n_nodes: int) -> np.ndarray:
    """How often each node occurs in the walks (read in blocks: the walks may be on disk)."""
    counts = np.zeros(n_nodes, dtype=np.int64)
    for lo in range(0, len(walks), 65_536):
        block = np.asarray(walks[lo : lo + 65_536]).ravel()
        counts += np.bincount(block[block >= 0], minlength=n_nodes)
    return counts


class Node2VecEmbedder(RandomWalkEmbedder):
    """node2vec: second-order random walks biased by return ``p`` and in-out ``q``, then
    skip-gram with negative sampling (gensim).

    >>> model = embedlab.load("node2vec", p=1, q=0.5).fit(networkx.karate_club_graph())
    >>> model.embed(["0", "33"]); model.vectors.most_similar("33")
    """

    method = "node2vec"

    def __init__(self, *, p: float = 1.0, q: float = 1.0, **params: Any) -> None:
        _check_bias(p, q)
        super().__init__(**params)
        self.bias = (float(p), float(q))
        self.params.update(p=self.bias[0], q=self.bias[1])


# node2vec takes DeepWalk's options plus p and q; say so, so that the registry (and help) can
# check options by name instead of seeing **params
_shared = inspect.signature(RandomWalkEmbedder.__init__)
Node2VecEmbedder.__init__.__signature__ = _shared.replace(  # type: ignore[attr-defined]
    parameters=[
        *_shared.parameters.values(),
        *(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=1.0, annotation=float)
            for name in ("p", "q")
        ),
    ]
)


class DeepWalkEmbedder(RandomWalkEmbedder):
    """DeepWalk: uniform (edge-weighted) random walks, then skip-gram with negative sampling;
    node2vec with ``p = q = 1``.

    >>> model = embedlab.load("deepwalk", dim=64).fit("edges.csv")
    """

    method = "deepwalk"
