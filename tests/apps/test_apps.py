"""Applications end to end on small real data: clusters, sentiment, recommendations, dedupe, FAQ, maps."""

from __future__ import annotations

import csv
import json
import re
import tracemalloc

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cli_helpers import run_cli
from embedlab.apps.classify import TextClassifier
from embedlab.apps.cluster import cluster_texts
from embedlab.apps.dedupe import FAQMatcher, find_duplicates
from embedlab.apps.recommend import Recommender
from embedlab.errors import EmbedlabError
from embedlab.viz.map import project, write_map

TOPICS = ["programming", "cooking", "sport", "space", "music", "finance"]


cli = run_cli


@pytest.fixture(scope="module")
def topics(sample_texts):
    return sample_texts[:36], [TOPICS[i // 6] for i in range(36)]


def test_clusters_recover_planted_topics(minilm, topics):
    texts, labels = topics
    result = cluster_texts(texts, minilm, k=6)
    assert adjusted_rand_score(labels, result.labels) > 0.5
    assert sum(c.size for c in result.clusters) == 36 and result.silhouette is not None
    cooking = result.labels[7]  # "Knead the bread dough ..."
    cooking_cluster = next(c for c in result.clusters if c.id == cooking)
    assert set(cooking_cluster.terms) & {
        "bread",
        "dough",
        "sauce",
        "pasta",
        "salt",
        "recipe",
        "eggs",
        "oven",
        "minutes",
    }
    assert all(t in texts for t in cooking_cluster.examples)


def test_k_is_chosen_by_silhouette_and_hdbscan_runs(minilm, topics):
    texts, _ = topics
    chosen = cluster_texts(texts, minilm)
    assert chosen.k == max(chosen.tried, key=chosen.tried.get) and 2 <= chosen.k <= 7
    density = cluster_texts(texts, minilm, method="hdbscan", min_cluster_size=3)
    assert density.method == "hdbscan" and len(density.labels) == 36


def test_sentiment_classifier_beats_the_majority_baseline_and_round_trips(tmp_path):
    from embedlab.eval.datasets import sentiment

    texts, labels = sentiment("movies")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(texts), 600, replace=False)
    train_texts, train_labels = [texts[i] for i in pick[:500]], [labels[i] for i in pick[:500]]
    classifier = TextClassifier("static-minilm")
    report = classifier.fit(train_texts, train_labels)
    assert report["accuracy"] > report["majority_baseline"] + 0.1
    held_out = [texts[i] for i in pick[500:]]
    classifier.save(tmp_path / "clf")
    again = TextClassifier.load(tmp_path / "clf")
    np.testing.assert_array_equal(again.predict_proba(held_out), classifier.predict_proba(held_out))
    accuracy = np.mean(
        np.array(again.predict(held_out)) == np.array([labels[i] for i in pick[500:]])
    )
    assert accuracy > 0.6
    assert (
        json.loads((tmp_path / "clf" / "classifier.json").read_text())["embedder"]
        == "static-minilm"
    )


def test_classify_cli_train_and_predict(tmp_path):
    from embedlab.eval.datasets import sentiment

    texts, labels = sentiment("movies")
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        writer.writerows(zip(texts[:300], labels[:300], strict=True))
    trained = cli(
        "classify",
        "train",
        data,
        "--text",
        "review",
        "--label",
        "sentiment",
        "-m",
        "tfidf",
        "-o",
        tmp_path / "clf",
    )
    assert trained.returncode == 0, trained.stderr
    assert re.search(r"cross-validated accuracy 0\.\d+", trained.stdout)
    new = tmp_path / "new.txt"
    new.write_text("A wonderful, moving film.\nDull, tedious and far too long.\n")
    predicted = cli("classify", "predict", tmp_path / "clf", new)
    assert predicted.returncode == 0, predicted.stderr
    assert [line.split("\t")[0] for line in predicted.stdout.strip().splitlines()] != []
    assert all(
        line.split("\t")[0] in ("positive", "negative")
        for line in predicted.stdout.strip().splitlines()
    )


def test_recommendations_rank_the_planted_item_first_and_exclude_seen(minilm, sample_texts):
    ids = [f"item{i}" for i in range(len(sample_texts))]
    recommender = Recommender.from_texts(ids, sample_texts, minilm)
    liked = ["item6", "item9"]  # tomato sauce, fresh pasta
    picks = recommender.for_profile(liked, k=5)
    assert not set(liked) & {item for item, _ in picks}
    assert int(picks[0][0][4:]) in range(6, 12)  # another cooking sentence
    more = recommender.similar("item36", k=3)  # "I sat by the river bank ..."
    assert "item36" not in {i for i, _ in more}
    pushed = recommender.for_profile(["item30"], disliked=["item34"], k=5, seen=["item31"])
    assert not {"item30", "item34", "item31"} & {i for i, _ in pushed}
    plain = recommender.for_profile(["item30"], k=5)
    disliked = recommender.vectors[34]

    def closeness_to_disliked(picks):
        return np.mean([recommender.vectors[int(i[4:])] @ disliked for i, _ in picks])

    assert closeness_to_disliked(pushed) < closeness_to_disliked(
        plain
    )  # pushed away from the dislike
    with pytest.raises(EmbedlabError, match="unknown item"):
        recommender.similar("nope")


def test_dedupe_finds_planted_paraphrases_and_matches_brute_force(minilm, sample_texts):
    paraphrases = [
        "I adore coding in Python since the code reads like ordinary English.",
        "The striker netted two goals after half-time and won the game.",
    ]
    texts = sample_texts + paraphrases
    vectors = minilm.embed(texts)
    pairs = {(i, j) for i, j, _ in find_duplicates(vectors, 0.8, block=7)}
    assert (0, 40) in pairs and (12, 41) in pairs
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    brute = {
        (i, j) for i in range(len(texts)) for j in range(i + 1, len(texts)) if sims[i, j] >= 0.8
    }
    assert pairs == brute


def test_dedupe_memory_is_not_quadratic():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6000, 16)).astype(np.float32)
    vectors[5999] = vectors[17]
    tracemalloc.start()
    pairs = list(find_duplicates(vectors, 0.999, block=256))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (17, 5999) in {(i, j) for i, j, _ in pairs}
    assert peak < 6000 * 6000 * 4 / 10  # far below one n x n float32 matrix (144 MB)


def test_faq_matching_with_a_no_match_threshold(minilm):
    matcher = FAQMatcher(
        [
            "How do I reset my password?",
            "Where can I download my invoice?",
            "How do I cancel my subscription?",
        ],
        [
            "Use the 'forgot password' link.",
            "Invoices are under Billing.",
            "Go to Settings, then Plan.",
        ],
        minilm,
        threshold=0.5,
    )
    hit = matcher.match("I forgot my password, how can I change it?")
    assert hit["matched"] and hit["answer"] == "Use the 'forgot password' link."
    miss = matcher.match("What is the boiling point of water on Mars?")
    assert not miss["matched"] and miss["answer"] is None


def test_maps_are_written_and_open(tmp_path, minilm, topics):
    from PIL import Image

    texts, labels = topics
    points = project(minilm.embed(texts))
    png = write_map(points, texts, tmp_path / "map.png", labels=labels)
    with Image.open(png) as image:
        assert image.size[0] >= 600 and image.size[1] >= 400
    assert png.stat().st_size > 20_000
    page = write_map(points, texts, tmp_path / "map.html", labels=labels).read_text()
    assert page.count('<circle class="point"') == 36
    assert "Knead the bread dough" in page and "[cooking]" in page


def test_map_cli_for_a_word_model(tmp_path):
    done = cli("map", "--words", "200", "-m", "glove-50d", "-o", tmp_path / "words.html")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "words.html").read_text()
    assert page.count('<circle class="point"') == 200 and "<title>the</title>" in page
    bad = cli("map", "--words", "10", "-m", "minilm", "-o", tmp_path / "x.html")
    assert bad.returncode == 2 and "no word vocabulary" in bad.stderr
