"""Graphs in: an edge-list file (csv, tsv, whitespace, gzipped too), a networkx graph or
(u, v[, weight]) tuples, read into one :class:`Graph` held as sorted neighbour arrays (CSR).

Why its own module: reading and checking edges is a job apart from walking them, and the
evaluation and benchmarks read graphs without training anything.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import DataFormatError, EmbedlabError, InputError
from embedlab.text.readers import _check_file, _decode

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
