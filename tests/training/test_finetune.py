"""Fine-tuning MiniLM for a few steps on each kind of real data.

Each run trains on exactly one batch for a few steps, so every step sees the same rows and the
loss must fall; the saved folder must load in embedlab and in sentence-transformers with the
same vectors, and hold its report and lineage.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.apps.classify import TextClassifier
from embedlab.errors import InputError
from embedlab.eval.datasets import sentiment, sts_benchmark
from embedlab.eval.wordnet_usage import Synset, read_synsets
from embedlab.text.corpora import corpus_path, prepare_corpus
from embedlab.training.finetune import FinetuneResult, read_training_data
from embedlab.training.finetune.adapt import pseudo_pairs
from embedlab.training.finetune.callbacks import budget_factor
from embedlab.training.finetune.mining import mine_hard_negatives
from embedlab.training.finetune.sampler import length_grouped_sampler

STEPS = dict(max_steps=3, batch_size=8, max_length=32, learning_rate=1e-4, save_every=100)


def wordnet(scratch: Path) -> list[Synset]:
    """Synsets with usage examples, from `embedlab data corpus wordnet` (prepared if needed)."""
    try:
        path = corpus_path("wordnet")
    except InputError:
        path = prepare_corpus("wordnet", scratch).path
    return read_synsets(path)


@pytest.fixture(scope="module")
def synsets(tmp_path_factory: pytest.TempPathFactory) -> list[Synset]:
    return wordnet(tmp_path_factory.mktemp("data"))


def pairs(synsets: list[Synset], start: int, n: int) -> list[dict[str, str]]:
    return [{"anchor": s.examples[0], "positive": s.definition} for s in synsets[start : start + n]]


def falls(report: dict) -> bool:
    losses = [loss for _, loss in report["losses"]]
    return len(losses) == STEPS["max_steps"] and losses[-1] < losses[0]


def run_pairs(synsets: list[Synset], out: Path) -> FinetuneResult:
    return embedlab.finetune(
        "minilm",
        pairs(synsets, 0, 8),
        out=out,
        eval_data=pairs(synsets, 100, 16),
        dims=[384, 128],
        seed=0,
        **STEPS,
    )


@pytest.fixture(scope="module")
def pairs_run(synsets, tmp_path_factory):
    return run_pairs(synsets, tmp_path_factory.mktemp("runs") / "pairs")


def test_pairs_train_matryoshka_and_save_a_model_both_libraries_load(pairs_run):
    from sentence_transformers import SentenceTransformer

    report = pairs_run.report
    assert (
        pairs_run.kind == "pairs"
        and "MatryoshkaLoss(MultipleNegativesRankingLoss" in report["loss"]
    )
    assert falls(report), report["losses"]
    assert {"ndcg@10", "ndcg@10@128"} <= set(pairs_run.before) & set(pairs_run.after)
    texts = ["he cashed a check at the bank", "a sloping land beside a body of water"]
    ours = embedlab.load(pairs_run.path, runtime="torch").embed(texts)
    theirs = SentenceTransformer(str(pairs_run.path), device="cpu").encode(texts)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    base = embedlab.load("minilm", runtime="torch").embed(texts)
    assert not np.allclose(ours, base, atol=1e-4)  # the weights did change
    meta = json.loads((pairs_run.path / "embedlab.json").read_text())
    assert meta["lineage"]["base"] == "minilm" and meta["lineage"]["steps"] == 3
    assert len(meta["lineage"]["data_sha256"]) == 64
    assert (pairs_run.path / "report.md").read_text().count("| ndcg@10 |") == 1
    assert not pairs_run.path.with_name("pairs.checkpoints").exists()


def test_the_same_seed_trains_the_same_model(pairs_run, synsets, tmp_path):
    again = run_pairs(synsets, tmp_path / "again")
    assert again.report["losses"] == pairs_run.report["losses"]
    texts = ["he cashed a check at the bank", "a sloping land beside a body of water"]
    first = embedlab.load(pairs_run.path, runtime="torch").embed(texts)
    second = embedlab.load(again.path, runtime="torch").embed(texts)
    np.testing.assert_array_equal(first, second)


def test_scored_pairs_train_with_cosent(tmp_path):
    rows = [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in sts_benchmark("train")[:8]]
    held = [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in sts_benchmark("dev")[:24]]
    result = embedlab.finetune(
        "minilm",
        rows,
        out=tmp_path / "sts",
        eval_data=held,
        score_range=(0, 5),
        **{**STEPS, "learning_rate": 2e-5},  # CoSENT overshoots at 1e-4 on one batch
    )
    assert result.kind == "scored" and result.report["loss"] == "CoSENTLoss"
    assert falls(result.report), result.report["losses"]
    assert -1 <= result.before["spearman"] <= 1 and -1 <= result.after["spearman"] <= 1


def test_labelled_texts_train_setfit_and_classify_reads_the_folder(tmp_path):
    texts, labels = sentiment("tweets")
    rows = []
    for label in ("negative", "positive"):
        rows += [{"text": t, "label": y} for t, y in zip(texts, labels, strict=True) if y == label][
            :2
        ]
    result = embedlab.finetune(
        "minilm", rows, out=tmp_path / "clf", eval_split=0, setfit_pairs=2, **STEPS
    )
    assert result.kind == "labelled" and falls(result.report), result.report["losses"]
    classifier = TextClassifier.load(result.path)
    predicted = classifier.predict([r["text"] for r in rows])
    assert set(predicted) <= {"negative", "positive"}
    assert np.mean([p == r["label"] for p, r in zip(predicted, rows, strict=True)]) == 1.0
    assert embedlab.load(result.path).dim == 384


def test_plain_text_adapts_with_tsdae(synsets, tmp_path):
    texts = [s.definition for s in synsets[:8]]
    result = embedlab.finetune("minilm", texts, out=tmp_path / "tsdae", **STEPS)
    assert result.kind == "text" and result.report["loss"] == "DenoisingAutoEncoderLoss"
    assert falls(result.report), result.report["losses"]
    assert result.before == {} and embedlab.load(result.path).dim == 384


def test_hard_negatives_are_real_non_positives(synsets, minilm):
    data = read_training_data(pairs(synsets, 200, 40))
    mined, report = mine_hard_negatives(data, minilm, k=2, margin=0.05)
    assert report.anchors == 40 and report.kept == len(mined) > 20
    positives = set(data.columns["positive"])
    c = mined.columns
    for anchor, positive, n1, n2 in zip(
        c["anchor"], c["positive"], c["negative_1"], c["negative_2"], strict=True
    ):
        assert positive not in (n1, n2) and n1 != n2 and {n1, n2} <= positives
        a, p, v1, v2 = minilm.embed([anchor, positive, n1, n2], normalize=True)
        assert a @ v1 < a @ p - 0.05 + 1e-3 and a @ v2 < a @ p - 0.05 + 1e-3
    # the first negative is the nearest definition below the margin, not just any other one
    docs = sorted(positives)
    a, p, n1 = minilm.embed([c["anchor"][0], c["positive"][0], c["negative_1"][0]], normalize=True)
    scores = minilm.embed(docs, normalize=True) @ a
    ceiling = a @ p - 0.05
    closer = [s for doc, s in zip(docs, scores, strict=True) if s > a @ n1 + 1e-3]
    assert all(s > ceiling - 1e-3 for s in closer)


def test_plain_text_adapts_with_a_masked_language_model(synsets, tmp_path):
    texts = [s.definition for s in synsets[:8]]
    result = embedlab.finetune("minilm", texts, out=tmp_path / "mlm", adapt="mlm", **STEPS)
    assert result.report["loss"].startswith("masked language model")
    losses = [loss for _, loss in result.report["losses"]]
    assert len(losses) == 3 and all(0 < loss < 20 for loss in losses)  # masks differ per step
    words = ["the definition of a word"]
    tuned = embedlab.load(result.path, runtime="torch").embed(words)
    assert not np.allclose(tuned, embedlab.load("minilm", runtime="torch").embed(words), atol=1e-4)


def pools(synsets: list[Synset]) -> list[dict[str, str]]:
    """Unpaired pools: each synset's example sentence as a query, its definition as a document,
    shuffled apart so that nothing but the pool tells which text is which."""
    rows = [{"text": s.examples[0], "pool": "query"} for s in synsets]
    rows += [{"text": s.definition, "pool": "document"} for s in synsets]
    return sorted(rows, key=lambda r: r["text"])


def test_pseudo_pairs_are_mutual_nearest_neighbours_and_mostly_right(synsets, minilm):
    chosen = synsets[300:400]
    data = read_training_data(pools(chosen))
    assert data.kind == "text" and set(data.columns["pool"]) == {"query", "document"}
    found, report = pseudo_pairs(data, minilm, threshold=0.3)
    assert report.queries == report.documents == 100 and report.pairs == len(found) > 10
    queries = [r["text"] for r in pools(chosen) if r["pool"] == "query"]
    documents = [r["text"] for r in pools(chosen) if r["pool"] == "document"]
    q, d = minilm.embed(queries, normalize=True), minilm.embed(documents, normalize=True)
    scores = q @ d.T
    for anchor, positive in zip(found.columns["anchor"], found.columns["positive"], strict=True):
        i, j = queries.index(anchor), documents.index(positive)
        assert scores[i].argmax() == j and scores[:, j].argmax() == i and scores[i, j] >= 0.3
    truth = {s.examples[0]: s.definition for s in chosen}  # only to check, never given
    c = found.columns
    right = [truth[a] == p for a, p in zip(c["anchor"], c["positive"], strict=True)]
    assert np.mean(right) > 0.6, np.mean(right)


def test_plain_text_adapts_with_pseudo_pairs(synsets, tmp_path):
    result = embedlab.finetune(
        "minilm",
        pools(synsets[400:440]),
        out=tmp_path / "pseudo",
        adapt="pseudo",
        pseudo_threshold=0.3,
        symmetric=True,
        **STEPS,
    )
    assert result.kind == "pairs" and result.report["loss"].endswith("symmetric")
    assert all(np.isfinite(loss) for _, loss in result.report["losses"])
    words = ["the definition of a word"]
    tuned = embedlab.load(result.path, runtime="torch").embed(words)
    assert not np.allclose(tuned, embedlab.load("minilm", runtime="torch").embed(words), atol=1e-4)


def test_the_learning_rate_schedule_fits_the_time_budget():
    # warmup over the first 10% of the run (steps or minutes, whichever is further), then down
    assert budget_factor(0.0, 0.1) == 0.0 and budget_factor(0.05, 0.1) == pytest.approx(0.5)
    assert budget_factor(0.1, 0.1) == pytest.approx(1.0)
    assert budget_factor(0.55, 0.1) == pytest.approx(0.5) and budget_factor(1.2, 0.1) == 0.0


def test_length_grouped_batches_have_no_text_twice_and_less_padding(synsets):
    from datasets import Dataset

    rows = [(e, s.definition) for s in synsets[:600] for e in s.examples]  # shared definitions
    data = Dataset.from_dict({"anchor": [a for a, _ in rows], "positive": [p for _, p in rows]})
    sampler = length_grouped_sampler(data, batch_size=16, drop_last=False, seed=3)
    batches = list(sampler)
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen)) and len(seen) >= len(rows) - 16
    for batch in batches:
        texts = [t for i in batch for t in rows[i]]
        assert len(texts) == len(set(texts))  # in-batch negatives are never the positive itself
    sampler.set_epoch(1)
    assert list(sampler) != batches  # reshuffled each epoch

    def padded(batches: list[list[int]]) -> int:
        return sum(len(b) * max(len(rows[i][0]) + len(rows[i][1]) for i in b) for b in batches)

    plain = [list(range(i, min(i + 16, len(rows)))) for i in range(0, len(rows), 16)]
    assert padded(batches) < 0.8 * padded(plain)
