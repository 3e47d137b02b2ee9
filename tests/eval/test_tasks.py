"""Evaluation tasks on small real data, each figure checked against an independent computation."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, adjusted_rand_score, f1_score, v_measure_score
from sklearn.model_selection import StratifiedKFold

import embedlab
from embedlab import eval as ev
from embedlab.embedders.static import WordVectorEmbedder
from embedlab.errors import EmbedlabError
from embedlab.eval.bias import WEAT, WeatTest, weat
from embedlab.eval.classification import probe_scores
from embedlab.eval.pairs import pair_scores
from embedlab.eval.retrieval import retrieval_scores

TOPICS = ["programming", "cooking", "sport", "space", "music", "finance"]


@pytest.fixture(scope="module")
def topic_data(sample_texts):
    texts = sample_texts[:36]
    labels = [TOPICS[i // 6] for i in range(36)]
    return texts, labels


def test_probe_matches_a_hand_written_cross_validation(minilm, topic_data):
    texts, labels = topic_data
    vectors = minilm.embed(texts)
    scores = probe_scores(vectors, labels, folds=3)
    accuracies, f1s = [], []
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(vectors, labels):
        clf = LogisticRegression(max_iter=2000).fit(vectors[train], np.array(labels)[train])
        predicted = clf.predict(vectors[test])
        accuracies.append(accuracy_score(np.array(labels)[test], predicted))
        f1s.append(f1_score(np.array(labels)[test], predicted, average="macro"))
    assert scores["accuracy"] == pytest.approx(np.mean(accuracies))
    assert scores["f1_macro"] == pytest.approx(np.mean(f1s))
    assert scores["accuracy"] > 0.8  # six clear topics: far above the 1/6 chance level


def test_sentiment_classification_on_a_users_csv_via_the_cli(tmp_path):
    from embedlab.eval.datasets import sentiment

    texts, labels = sentiment("movies")
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "polarity"])
        writer.writerows(zip(texts[:300], labels[:300], strict=True))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "embedlab.cli.main",
            "eval",
            "classification",
            "tfidf",
            "--data",
            str(path),
            "--text",
            "review",
            "--label",
            "polarity",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 300 and result["main_score_name"] == "accuracy"
    assert 0.5 < result["scores"]["accuracy"] <= 1.0
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "embedlab.cli.main",
            "eval",
            "classification",
            "tfidf",
            "--data",
            str(path),
            "--text",
            "text",
            "--label",
            "polarity",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        missing.returncode == 2
        and "no field 'text'" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_clustering_recovers_planted_topics_and_matches_sklearn(minilm, topic_data, tmp_path):
    texts, labels = topic_data
    path = tmp_path / "topics.jsonl"
    path.write_text(
        "".join(json.dumps({"t": t, "l": lab}) + "\n" for t, lab in zip(texts, labels, strict=True))
    )
    result = ev.get_task("clustering", data=path, text_field="t", label_field="l").run(minilm)
    vectors = embedlab.embedders.base.l2_normalize(minilm.embed(texts))
    predicted = KMeans(n_clusters=6, n_init=10, random_state=0).fit_predict(vectors)
    assert result.scores["v_measure"] == pytest.approx(v_measure_score(labels, predicted))
    assert result.scores["adjusted_rand"] == pytest.approx(adjusted_rand_score(labels, predicted))
    assert result.main_score > 0.7


def test_retrieval_metrics_on_a_known_ranking():
    docs = np.eye(4, dtype=np.float32)
    # query 0 ranks doc 0 first; query 1 ranks doc 2 first, then doc 1 (relevant) second.
    queries = np.array([[1, 0, 0, 0], [0, 0.6, 0.8, 0]], dtype=np.float32)
    scores = retrieval_scores(queries, docs, [{0}, {1}])
    assert scores["mrr@10"] == pytest.approx((1 + 1 / 2) / 2)
    assert scores["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3)) / 2)
    assert scores["recall@1"] == pytest.approx(0.5) and scores["recall@5"] == pytest.approx(1.0)


def test_retrieval_on_sts_pairs_ranks_minilm_well(minilm):
    result = ev.get_task("retrieval", limit=60).run(minilm)
    assert result.n > 50 and result.details["corpus"] > 1000
    assert (
        result.scores["ndcg@10"] > 0.8 and result.scores["recall@10"] >= result.scores["recall@1"]
    )


def test_pair_scores_match_brute_force():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 60)
    sims = labels * 0.3 + rng.normal(0, 0.3, 60)
    scores, threshold = pair_scores(sims, labels)
    best = max(np.mean((sims >= t) == labels) for t in np.concatenate([sims, [sims.max() + 1]]))
    assert scores["accuracy"] == pytest.approx(best)
    assert np.mean((sims >= threshold) == labels) == pytest.approx(best)
    order = np.argsort(-sims)
    hits = labels[order]
    precision_at_hits = [hits[: i + 1].mean() for i in range(len(hits)) if hits[i]]
    assert scores["average_precision"] == pytest.approx(np.mean(precision_at_hits))


def _planted_weat_model(shuffle: bool) -> tuple[WordVectorEmbedder, WeatTest]:
    rng = np.random.default_rng(0)
    x, y = [f"x{i}" for i in range(8)], [f"y{i}" for i in range(8)]
    a, b = [f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]
    direction = rng.normal(size=32)
    rows = {}
    for group, sign in ((x, 1), (a, 1), (y, -1), (b, -1)):
        for word in group:
            rows[word] = rng.normal(size=32) + sign * 3.0 * direction / np.linalg.norm(direction)
    words = list(rows)
    vectors = np.array([rows[w] for w in words], dtype=np.float32)
    if shuffle:  # same vectors, associations broken
        vectors = vectors[rng.permutation(len(words))]
    test = WeatTest("planted", "x", tuple(x), "y", tuple(y), "a", tuple(a), "b", tuple(b))
    return WordVectorEmbedder(words=words, vectors=vectors), test


def test_weat_finds_planted_bias_and_none_when_shuffled():
    model, test = _planted_weat_model(shuffle=False)
    planted = WEAT(tests=(test,)).run(model)
    assert planted.scores["planted_effect"] > 1.5 and planted.scores["planted_p"] < 0.01
    model, test = _planted_weat_model(shuffle=True)
    shuffled = WEAT(tests=(test,)).run(model)
    assert abs(shuffled.scores["planted_effect"]) < 1.0 and shuffled.scores["planted_p"] > 0.05


def test_weat_statistic_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    x, y, a, b = (rng.normal(size=(4, 8)) for _ in range(4))

    def s(w):
        cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
        return np.mean([cos(w, v) for v in a]) - np.mean([cos(w, v) for v in b])

    sx, sy = [s(w) for w in x], [s(w) for w in y]
    expected = (np.mean(sx) - np.mean(sy)) / np.std(sx + sy, ddof=1)
    observed = sum(sx) - sum(sy)
    everything = sx + sy
    stats = [
        sum(everything[i] for i in idx) - sum(everything[i] for i in range(8) if i not in idx)
        for idx in itertools.combinations(range(8), 4)
    ]
    effect, p = weat(x, y, a, b)
    assert effect == pytest.approx(expected, rel=1e-5)
    assert p == pytest.approx(np.mean(np.array(stats) >= observed - 1e-9))


def test_glove_shows_the_documented_flowers_insects_effect(glove):
    result = ev.run(glove, ["bias"])[0]
    assert result.scores["weat1_effect"] > 0.8 and result.scores["weat1_p"] < 0.01


def test_contextuality_static_is_one_contextual_is_lower(glove, minilm):
    static = ev.get_task("contextuality", limit=5).run(glove)
    contextual = ev.get_task("contextuality", limit=5).run(minilm)
    assert static.scores["self_similarity"] == pytest.approx(1.0, abs=1e-5)
    assert contextual.scores["self_similarity"] < 0.95
    assert static.n == contextual.n == 5


def test_unknown_task_and_missing_columns_are_clear_errors(tmp_path):
    with pytest.raises(EmbedlabError, match="unknown task 'clasification'.*classification"):
        ev.get_task("clasification")
    with pytest.raises(EmbedlabError, match="--text COLUMN --label COLUMN"):
        ev.get_task("classification", data=tmp_path / "x.csv").load()
