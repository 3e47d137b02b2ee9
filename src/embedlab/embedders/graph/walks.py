"""Random walks over a :class:`~embedlab.embedders.graph.reading.Graph`, uniform (DeepWalk) or
biased by node2vec's ``p`` and ``q``.

Up to ``CHUNK`` walkers advance in lockstep with numpy. A step proposes a neighbour by edge
weight (one ``searchsorted`` over per-node cumulative weights, or one index for unweighted
graphs); node2vec's bias is applied by rejection sampling, as the fast node2vec implementations
do (PecanPy, KnightKing), with no per-edge alias tables (those take memory in the sum of squared
degrees): accept the proposal x with alpha(x) / max(1, 1/q), a large return weight 1/p folded
out so that it does not lower every other acceptance, and "is x a neighbour of the previous
node" answered by a numpy hash table of the edges (:class:`EdgeTable`). One seed makes the walks
reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from embedlab.checks import check_positive
from embedlab.embedders.graph.reading import Graph
from embedlab.errors import InputError
from embedlab.progress import progress_bar

CHUNK = 65_536  # walkers advanced together; fixed, so one seed always gives the same walks


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
        check_bias(p, q)
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
        self.totals: np.ndarray = self.degrees.astype(np.float64)  # out-weight of every node
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


def check_bias(p: float, q: float) -> None:
    bias_value("p", p)
    bias_value("q", q)


def bias_value(name: str, value: Any) -> float:
    """node2vec's ``p`` or ``q``, checked: a positive number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(
            f"{name} must be a positive number, got {value!r}",
            "p=q=1 is DeepWalk; e.g. q=0.5 explores outwards, q=2 stays near the start",
        )
    return float(value)


class WalkSentences:
    """The walks as lists of node ids, for gensim (restartable: read again every epoch)."""

    def __init__(self, walks: np.ndarray, nodes: list[str]) -> None:
        self.walks = walks
        self.names = np.array(nodes, dtype=object)

    def __iter__(self) -> Iterator[list[str]]:
        for lo in range(0, len(self.walks), 4096):
            for row in np.asarray(self.walks[lo : lo + 4096]):
                yield self.names[row[row >= 0]].tolist()


def count_visits(walks: np.ndarray, n_nodes: int) -> np.ndarray:
    """How often each node occurs in the walks (read in blocks: the walks may be on disk)."""
    counts = np.zeros(n_nodes, dtype=np.int64)
    for lo in range(0, len(walks), 65_536):
        block = np.asarray(walks[lo : lo + 65_536]).ravel()
        counts += np.bincount(block[block >= 0], minlength=n_nodes)
    return counts
