"""Graph node embeddings: DeepWalk and node2vec (random walks over the graph, then skip-gram).

A walk ``a b c b d ...`` is a sentence whose words are nodes, so nodes that share neighbourhoods
get close vectors when gensim's skip-gram (negative sampling) learns from the walks. DeepWalk
(Perozzi et al. 2014) walks uniformly (by edge weight); node2vec (Grover & Leskovec 2016) biases
each step by where the walk came from: back to the previous node with weight ``1/p``, to a
common neighbour of both with weight 1, further away with weight ``1/q`` (low ``q``: explore
outwards, DFS-like; high ``q``: stay local, BFS-like). DeepWalk is node2vec with ``p = q = 1``.

Walks are written once to a memory-mapped temporary file that gensim reads for every epoch, so
memory stays flat; ``workers=1`` makes training bit-for-bit repeatable. Reading graphs is
:mod:`~embedlab.embedders.graph.reading`, walking them :mod:`~embedlab.embedders.graph.walks`.

The trained model is a node Embedder: ``embed(["0", "33"])`` returns those nodes' vectors (node
ids are strings; an unknown one raises :class:`~embedlab.errors.UnknownWordError`), and
``model.vectors`` has gensim's verbs (``most_similar("33")``, ``similarity("0", "33")``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Self

import numpy as np

from embedlab.checks import flag, integer, number, optional_flag, whole
from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts
from embedlab.embedders.graph.reading import GraphSource, read_graph
from embedlab.embedders.graph.walks import WalkSampler, WalkSentences, bias_value, count_visits
from embedlab.embedders.options import Option, declare
from embedlab.embedders.saving import save_array, save_json
from embedlab.embedders.words.vectors import WordVectors, read_saved_vectors
from embedlab.embedders.words.word2vec import epoch_callback
from embedlab.errors import InputError, NotFittedError, UnknownWordError
from embedlab.extras import require
from embedlab.progress import progress_bar


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
    options = declare(
        Option("dim", 128, check=whole()),
        Option("walk_length", 80, check=whole(2)),
        Option("walks_per_node", 10, check=whole()),
        Option("window", 10, check=whole()),
        Option("epochs", 1, check=whole()),
        Option("negative", 5, check=whole()),
        Option("sample", 0.0, check=number(0)),
        Option("alpha", 0.025, check=number(0)),
        Option("min_alpha", 0.0001, check=number(0)),
        Option("directed", None, check=optional_flag),
        Option("weighted", True, check=flag),
        Option("workers", 2, check=whole()),
        Option("seed", 1, check=integer),
    )

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
        **bias: float,
    ) -> None:
        """``bias``: node2vec's ``p`` and ``q``, for the subclass that declares them."""
        super().__init__(
            dim=dim,
            walk_length=walk_length,
            walks_per_node=walks_per_node,
            window=window,
            epochs=epochs,
            negative=negative,
            sample=sample,
            alpha=alpha,
            min_alpha=min_alpha,
            directed=directed,
            weighted=weighted,
            workers=workers,
            seed=seed,
            **bias,
        )
        self.vectors: NodeVectors | None = None
        self.training: dict[str, Any] = {}

    # -- state ---------------------------------------------------------------------------------
    @property
    def bias(self) -> tuple[float, float]:
        """node2vec's (p, q); (1, 1), uniform walks, for DeepWalk."""
        return (self.params.get("p", 1.0), self.params.get("q", 1.0))

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
        require("gensim", "train")
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
            visits = count_visits(walks, graph.n_nodes)
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
                    WalkSentences(walks, graph.nodes),
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
        notes = []
        if kv.counts is not None:
            notes.append(f"visited {int(kv.counts[row]):,} times in the training walks")
        return TokenEmbeddings(
            text=node,
            model=self.name,
            tokens=[node],
            ids=[row],
            lookup=vector[None],
            vector=vector,
            pooling="none: a graph node's vector is its own row (node ids are not tokenized)",
            notes=notes,
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


class Node2VecEmbedder(RandomWalkEmbedder):
    """node2vec: second-order random walks biased by return ``p`` and in-out ``q``, then
    skip-gram with negative sampling (gensim).

    >>> model = embedlab.load("node2vec", p=1, q=0.5).fit(networkx.karate_club_graph())
    >>> model.embed(["0", "33"]); model.vectors.most_similar("33")
    """

    method = "node2vec"
    options = declare(
        RandomWalkEmbedder.options,
        Option("p", 1.0, check=bias_value),
        Option("q", 1.0, check=bias_value),
    )

    def __init__(self, *, p: float = 1.0, q: float = 1.0, **params: Any) -> None:
        super().__init__(p=p, q=q, **params)


class DeepWalkEmbedder(RandomWalkEmbedder):
    """DeepWalk: uniform (edge-weighted) random walks, then skip-gram with negative sampling;
    node2vec with ``p = q = 1``.

    >>> model = embedlab.load("deepwalk", dim=64).fit("edges.csv")
    """

    method = "deepwalk"
