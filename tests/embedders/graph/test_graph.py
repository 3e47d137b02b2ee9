"""DeepWalk and node2vec: the walks, the graph inputs, quality on real graphs, save/load, CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

import embedlab
from embedlab.embedders import methods as registry
from embedlab.embedders.graph.embedder import DeepWalkEmbedder, Node2VecEmbedder
from embedlab.embedders.graph.reading import read_graph
from embedlab.embedders.graph.walks import EdgeTable, WalkSampler
from embedlab.errors import DataFormatError, InputError, NotFittedError, UnknownWordError
from embedlab.eval.graph import link_prediction, node_classification

FAST = {"dim": 32, "walk_length": 40, "walks_per_node": 10, "window": 5, "workers": 1}


def test_methods_are_registered() -> None:
    assert {"deepwalk", "node2vec"} <= set(registry.methods())


@pytest.fixture(scope="module")
def karate() -> nx.Graph:
    return nx.karate_club_graph()


@pytest.fixture(scope="module")
def karate_model(karate: nx.Graph) -> DeepWalkEmbedder:
    return DeepWalkEmbedder(seed=3, **FAST).fit(karate)


def steps(walks: np.ndarray) -> np.ndarray:
    """Every (from, to) pair of consecutive nodes in the walks."""
    pairs = np.stack([walks[:, :-1].ravel(), walks[:, 1:].ravel()], axis=1)
    return pairs[(pairs >= 0).all(axis=1)]


def return_rate(walks: np.ndarray) -> float:
    """The share of second-order steps that go straight back to the previous node."""
    back = walks[:, 2:] == walks[:, :-2]
    return float(back[walks[:, 2:] >= 0].mean())


# -- walks ------------------------------------------------------------------------------------------
def test_walks_follow_edges_and_start_from_every_node() -> None:
    graph = nx.gnp_random_graph(60, 0.08, seed=1)
    g = read_graph(graph)
    for p, q in ((1, 1), (0.5, 2), (2, 0.5)):
        walks = WalkSampler(g, p=p, q=q).walks(4, 15, seed=0)
        assert walks.shape == (60 * 4, 15)
        assert np.array_equal(np.sort(walks[:, 0]), np.repeat(np.arange(60), 4))
        for a, b in steps(walks):
            assert graph.has_edge(int(g.nodes[a]), int(g.nodes[b]))
        isolated = [i for i, node in enumerate(g.nodes) if graph.degree(int(node)) == 0]
        for row in walks:  # a walk stops only where there is nowhere to go
            assert (row[1:] >= 0).all() or row[0] in isolated


def test_directed_walks_follow_direction_and_stop_at_dead_ends() -> None:
    g = read_graph([("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")], directed=True)
    walks = WalkSampler(g, p=0.5, q=2).walks(20, 6, seed=0)
    edges = {("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")}
    assert {(g.nodes[a], g.nodes[b]) for a, b in steps(walks)} <= edges
    for row in walks:
        path = [g.nodes[i] for i in row if i >= 0]
        assert path[-1] == "d" and len(path) <= 4  # every walk ends at the sink, d
    assert read_graph(nx.DiGraph([(1, 2)])).directed and not read_graph([(1, 2)]).directed


def test_weighted_steps_follow_the_weights() -> None:
    g = read_graph([("a", "b", 1.0), ("a", "c", 3.0), ("b", "a"), ("c", "a")], directed=True)
    assert g.weights is not None
    walks = WalkSampler(g).walks(2000, 3, seed=0)
    from_a = steps(walks)
    from_a = from_a[from_a[:, 0] == g.nodes.index("a")]
    share_c = np.mean(from_a[:, 1] == g.nodes.index("c"))
    assert abs(share_c - 0.75) < 0.02
    unweighted = WalkSampler(read_graph([("a", "b", 1.0), ("a", "c", 3.0)], weighted=False))
    assert unweighted.graph.weights is None


@pytest.mark.parametrize(("p", "q"), [(0.25, 4.0), (4.0, 0.25), (0.5, 2.0), (1.0, 0.5), (2.0, 1.0)])
@pytest.mark.parametrize("directed", [False, True])
def test_biased_steps_match_node2vec_probabilities(p: float, q: float, directed: bool) -> None:
    """P(next = x | previous t, current v) is weight(v, x) * alpha / sum, alpha = 1/p back to t,
    1 to a neighbour of t, 1/q further: checked exactly against node2vec's definition."""
    rng = np.random.default_rng(5)
    graph = nx.gnp_random_graph(12, 0.4, seed=3, directed=directed)
    for u, v in graph.edges:
        graph[u][v]["weight"] = float(rng.integers(1, 5))
    g = read_graph(graph)
    index = {node: i for i, node in enumerate(g.nodes)}
    sampler = WalkSampler(g, p=p, q=q)
    for t, v in list(graph.edges)[:4]:
        if not graph.adj[v]:
            continue
        n = 40_000
        drawn = sampler.biased_step(
            np.full(n, index[str(t)]), np.full(n, index[str(v)]), np.random.default_rng(1)
        )
        expected = np.zeros(g.n_nodes)
        for x, data in graph.adj[v].items():
            alpha = 1 / p if x == t else (1.0 if graph.has_edge(t, x) else 1 / q)
            expected[index[str(x)]] = data["weight"] * alpha
        observed = np.bincount(drawn, minlength=g.n_nodes) / n
        np.testing.assert_allclose(observed, expected / expected.sum(), atol=0.012)


def test_return_parameter_changes_how_often_walks_go_back(karate: nx.Graph) -> None:
    g = read_graph(karate)
    rate = {p: return_rate(WalkSampler(g, p=p, q=1).walks(10, 40, seed=0)) for p in (0.1, 1, 10)}
    assert rate[0.1] > 2.5 * rate[1] and rate[10] < 0.4 * rate[1], rate
    # on a cycle a walk can only go back (weight 1/p) or on (1/q): P(back) = (1/p) / (1/p + 1/q)
    cycle = read_graph(nx.cycle_graph(10))
    for p, q in ((0.5, 2.0), (2.0, 0.5), (1.0, 1.0)):
        measured = return_rate(WalkSampler(cycle, p=p, q=q).walks(50, 30, seed=1))
        assert abs(measured - (1 / p) / (1 / p + 1 / q)) < 0.02


def test_in_out_parameter_changes_how_far_walks_go() -> None:
    """Low q explores outwards (DFS-like), high q stays near the start (BFS-like): the mean
    distance from a walk's start to its sixth node on a 15 x 15 grid is 2.9 / 2.4 / 1.5 for
    q = 0.25 / 1 / 4."""
    grid = nx.convert_node_labels_to_integers(nx.grid_2d_graph(15, 15))
    g = read_graph(grid)
    distances = dict(nx.all_pairs_shortest_path_length(grid))

    def reach(q: float) -> float:
        walks = WalkSampler(g, p=1, q=q).walks(10, 6, seed=0)
        return float(np.mean([distances[int(g.nodes[w[0]])][int(g.nodes[w[-1]])] for w in walks]))

    assert reach(0.25) > reach(1) + 0.3 > reach(4) + 0.8


def test_same_seed_same_walks(karate: nx.Graph) -> None:
    g = read_graph(karate)
    for p, q in ((1, 1), (0.5, 2)):
        first = WalkSampler(g, p=p, q=q).walks(5, 20, seed=7)
        assert np.array_equal(first, WalkSampler(g, p=p, q=q).walks(5, 20, seed=7))
        assert not np.array_equal(first, WalkSampler(g, p=p, q=q).walks(5, 20, seed=8))


def test_edge_table_finds_every_edge_and_no_other() -> None:
    graph = nx.gnp_random_graph(300, 0.05, seed=2, directed=True)
    g = read_graph(graph)
    table = EdgeTable(g)
    sources = np.repeat(np.arange(g.n_nodes), g.degrees)
    assert np.array_equal(table.find(sources, g.indices), np.arange(len(g.indices)))
    a, b = np.random.default_rng(0).integers(0, g.n_nodes, (2, 5000))
    linked = np.array(
        [graph.has_edge(int(g.nodes[i]), int(g.nodes[j])) for i, j in zip(a, b, strict=True)]
    )
    assert np.array_equal(table.find(a, b) >= 0, linked)


# -- inputs -----------------------------------------------------------------------------------------
EDGES = [("a", "b", 2.0), ("b", "c", 1.0), ("c", "a", 1.0), ("c", "d", 0.5)]


def assert_same_graph(left, right) -> None:
    assert left.nodes == right.nodes and left.directed == right.directed
    assert np.array_equal(left.indptr, right.indptr)
    assert np.array_equal(left.indices, right.indices)
    assert np.array_equal(left.weights, right.weights)


def edge_set(g) -> set[tuple[str, str, float]]:
    weights = np.ones(len(g.indices)) if g.weights is None else g.weights
    sources = np.repeat(np.arange(g.n_nodes), g.degrees)
    return {
        (g.nodes[a], g.nodes[b], float(w))
        for a, b, w in zip(sources, g.indices, weights, strict=True)
    }


def test_edge_list_files_read_like_tuples(tmp_path: Path) -> None:
    expected = read_graph(EDGES)
    assert expected.n_nodes == 4 and expected.n_edges == 4 and not expected.directed
    assert sorted(expected.neighbors("c")) == ["a", "b", "d"]
    files = {
        "edges.csv": "source,target,weight\n" + "".join(f"{u},{v},{w}\n" for u, v, w in EDGES),
        "edges.tsv": "".join(f"{u}\t{v}\t{w}\n" for u, v, w in EDGES),
        "edges.txt": "# a comment\n\n" + "".join(f"{u}  {v} {w}\n" for u, v, w in EDGES),
        "edges.edgelist": "".join(f"{u} {v} {w}\n" for u, v, w in EDGES),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert_same_graph(read_graph(tmp_path / name), expected)
    with gzip.open(tmp_path / "edges.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(files["edges.csv"])
    assert_same_graph(read_graph(str(tmp_path / "edges.csv.gz")), expected)
    unweighted = tmp_path / "plain.txt"
    unweighted.write_text("1 2\n2 3\n", encoding="utf-8")
    g = read_graph(unweighted)
    assert g.nodes == ["1", "2", "3"] and g.weights is None and g.n_edges == 2


def test_networkx_and_tuples_agree(karate: nx.Graph) -> None:
    edges = [(u, v, d["weight"]) for u, v, d in karate.edges(data=True)]
    from_networkx, from_tuples = read_graph(karate), read_graph(edges)
    assert from_networkx.nodes == [str(n) for n in karate.nodes]  # the graph's own order
    assert from_tuples.nodes[:10] == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "10"]
    assert edge_set(from_networkx) == edge_set(from_tuples)
    assert_same_graph(read_graph(np.array([[0, 1], [1, 2]])), read_graph([("0", "1"), (1, 2)]))
    weighted_rows = read_graph(np.array([[0, 1, 2.5], [1, 2, 1.0]]))
    assert weighted_rows.nodes == ["0", "1", "2"] and weighted_rows.weights.tolist()[0] == 2.5
    assert not read_graph(nx.Graph([(1, 2)]), directed=True).directed  # its edges go both ways
    symmetric = read_graph(nx.DiGraph([(1, 2)]), directed=False)
    assert symmetric.neighbors("2") == ["1"] and symmetric.n_edges == 1
    with_isolated = nx.Graph([(1, 2)])
    with_isolated.add_node(3)
    assert read_graph(with_isolated).nodes == ["1", "2", "3"]
    later_wins = read_graph([("a", "b", 1.0), ("b", "a", 4.0), ("a", "c", 2.0)])
    assert later_wins.n_edges == 2 and later_wins.weights.tolist() == [4.0, 2.0, 4.0, 2.0]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("a,b\n\n# comment\nc\n", ["line 4", "1 field"]),
        ("a,b,heavy\nb,c,x\n", ["line 2", "'x'", "not a number"]),
        ("a,b,-1\n", ["line 1", "positive"]),
        ("a,b,1,extra\n", ["line 1", "4 field"]),
        ("# only a comment\n", ["holds no edges"]),
    ],
)
def test_bad_edge_list_files_say_where(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        read_graph(path)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_unreadable_graph_inputs_are_clear_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 b\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        read_graph(latin)
    with pytest.raises(InputError, match="no file"):
        read_graph(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="edge 0"):
        read_graph(["a b", "b c"])  # texts, not edges
    with pytest.raises(InputError, match="not a number"):
        read_graph([("a", "b", "heavy")])
    with pytest.raises(InputError, match="same string form"):
        read_graph(nx.Graph([(1, "1")]))
    with pytest.raises(InputError, match="cannot read a graph"):
        read_graph(42)
    with pytest.raises(InputError, match="no edges"):
        DeepWalkEmbedder().fit(nx.empty_graph(3))


# -- the embedder -----------------------------------------------------------------------------------
def test_karate_club_node_classification(karate: nx.Graph, karate_model: DeepWalkEmbedder) -> None:
    """The club split (17 / 17 nodes): a cross-validated probe on the vectors reaches 0.97 here
    (seeds 0-9: 0.94-0.97) against the 0.5 majority baseline."""
    labels = nx.get_node_attributes(karate, "club")
    scores = node_classification(karate_model, labels)
    assert scores["majority"] == 0.5
    assert scores["accuracy"] >= 0.85, scores
    node2vec = Node2VecEmbedder(p=1, q=0.5, seed=3, **FAST).fit(karate)
    assert node_classification(node2vec, labels)["accuracy"] >= 0.85


def test_les_miserables_link_prediction() -> None:
    """25 held-out edges against 25 non-edges by cosine: AUC 0.91-0.96 over model seeds 0-9 on
    this split (0.5 is chance)."""
    result = link_prediction(DeepWalkEmbedder(seed=1, **FAST), nx.les_miserables_graph(), seed=0)
    assert result["held_out"] == 25
    assert result["auc"] >= 0.8, result


def test_embed_nodes_and_keyed_vector_verbs(karate_model: DeepWalkEmbedder) -> None:
    vectors = karate_model.embed(["0", "33"])
    assert vectors.shape == (2, 32) and vectors.dtype == np.float32
    assert karate_model.nodes[:3] == ["0", "1", "2"]
    np.testing.assert_array_equal(vectors[1], karate_model.vectors["33"])
    np.testing.assert_array_equal(karate_model.embed("33"), vectors[1])
    assert karate_model.training["nodes"] == 34 and karate_model.training["edges"] == 78
    assert karate_model.training["walks"] == 340
    # the two leaders' neighbourhoods: 0's nearest nodes are mostly in its own club
    clubs = nx.get_node_attributes(nx.karate_club_graph(), "club")
    nearest = [int(n) for n, _ in karate_model.vectors.most_similar("0", topn=5)]
    assert sum(clubs[n] == clubs[0] for n in nearest) >= 4
    assert karate_model.vectors.similarity("0", "1") > karate_model.vectors.similarity("0", "33")
    walkthrough = karate_model.embed_tokens("33")
    assert walkthrough.tokens == ["33"] and walkthrough.ids == [33]
    np.testing.assert_array_equal(walkthrough.vector, vectors[1])
    assert karate_model.count_tokens("33") == 1
    matrix = DeepWalkEmbedder(seed=1, **FAST).fit_transform(nx.karate_club_graph())
    assert matrix.shape == (34, 32)


def test_unknown_node_is_a_clear_error(karate_model: DeepWalkEmbedder) -> None:
    with pytest.raises(UnknownWordError, match="the node '99' is not in the graph") as error:
        karate_model.embed(["0", "99"])
    assert isinstance(error.value, KeyError) and "'0', '1', '2'" in str(error.value)
    with pytest.raises(UnknownWordError, match="not in the graph"):
        karate_model.vectors.most_similar("99")
    with pytest.raises(InputError, match="not a string"):
        karate_model.embed([0])
    with pytest.raises(NotFittedError, match="embedlab graph train"):
        Node2VecEmbedder().embed(["0"])


def test_save_load_round_trip(karate_model: DeepWalkEmbedder, tmp_path: Path) -> None:
    karate_model.save(tmp_path / "dw")
    files = sorted(p.name for p in (tmp_path / "dw").iterdir())
    assert files == ["counts.npy", "embedlab.json", "nodes.json", "vectors.npy"]
    assert json.loads((tmp_path / "dw" / "nodes.json").read_text())[:2] == ["0", "1"]
    loaded = embedlab.load(tmp_path / "dw")
    assert isinstance(loaded, DeepWalkEmbedder) and loaded.get_params() == karate_model.get_params()
    np.testing.assert_array_equal(loaded.embed(loaded.nodes), karate_model.embed(loaded.nodes))
    assert loaded.training == karate_model.training
    node2vec = Node2VecEmbedder(p=0.5, q=2, dim=8, walk_length=10, walks_per_node=2, workers=1)
    node2vec.fit(EDGES).save(tmp_path / "n2v")
    again = embedlab.load(str(tmp_path / "n2v"))
    assert isinstance(again, Node2VecEmbedder) and (again.params["p"], again.params["q"]) == (
        0.5,
        2,
    )
    np.testing.assert_array_equal(again.embed(["a", "d"]), node2vec.embed(["a", "d"]))


def test_settings_are_checked() -> None:
    with pytest.raises(InputError, match="q must be a positive number"):
        Node2VecEmbedder(q=0)
    with pytest.raises(InputError, match="walk_length must be at least 2"):
        DeepWalkEmbedder(walk_length=1)
    with pytest.raises(InputError, match="'p'"):  # DeepWalk walks uniformly: no p to take
        embedlab.load("deepwalk", p=2)
    model = embedlab.load("node2vec", q=0.5, dim=16)
    assert isinstance(model, Node2VecEmbedder) and model.params["q"] == 0.5
    assert isinstance(embedlab.load("train:deepwalk"), DeepWalkEmbedder)


def test_training_is_repeatable_with_one_worker() -> None:
    first = Node2VecEmbedder(q=0.5, seed=4, **FAST).fit(EDGES)
    second = Node2VecEmbedder(q=0.5, seed=4, **FAST).fit(EDGES)
    np.testing.assert_array_equal(first.vectors.vectors, second.vectors.vectors)


# -- CLI --------------------------------------------------------------------------------------------
def test_cli_train_and_neighbors(karate: nx.Graph, tmp_path: Path) -> None:
    from embedlab.cli.main import app

    edges = tmp_path / "karate.csv"
    edges.write_text(
        "source,target,weight\n"
        + "".join(f"{u},{v},{d['weight']}\n" for u, v, d in karate.edges(data=True)),
        encoding="utf-8",
    )
    runner = CliRunner()
    out = tmp_path / "model"
    args = ["graph", "train", str(edges), "--out", str(out), "--method", "node2vec", "--q", "0.5"]
    args += ["--dim", "16", "--walk-length", "20", "--workers", "1", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trained node2vec on 34 nodes and 78 edges (undirected, weighted)" in result.output
    assert "try: embedlab graph neighbors" in result.output
    shown = runner.invoke(app, ["graph", "neighbors", str(out), "33", "-k", "3", "--json"])
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.output)
    assert answer["node"] == "33" and len(answer["results"]) == 3
    assert "33" not in [r["node"] for r in answer["results"]]
    table = runner.invoke(app, ["graph", "neighbors", str(out), "0"], env={"COLUMNS": "120"})
    assert table.exit_code == 0 and "nearest to node '0'" in table.output
    unknown = runner.invoke(app, ["graph", "neighbors", str(out), "99"])
    assert isinstance(unknown.exception, UnknownWordError)
    biased = runner.invoke(
        app, ["graph", "train", str(edges), "-o", str(out), "-m", "deepwalk"] + ["--p", "2"]
    )
    assert isinstance(biased.exception, InputError) and "--method node2vec" in str(biased.exception)
