"""The STS task: its scores checked against an independent computation, user files, the published figure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

import embedlab
from embedlab.errors import DataFormatError, InputError
from embedlab.eval import get_task
from embedlab.eval.datasets import sts_benchmark
from embedlab.eval.sts import STSBenchmark


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def independent_scores(pairs: list[tuple[str, str, float]]) -> tuple[float, float]:
    """Spearman and Pearson x100 from sentence-transformers' own vectors and scipy."""
    from sentence_transformers import SentenceTransformer

    from embedlab import catalogue

    model = SentenceTransformer(str(catalogue.minilm_path()), device="cpu")
    a = model.encode([p[0] for p in pairs], normalize_embeddings=True)
    b = model.encode([p[1] for p in pairs], normalize_embeddings=True)
    cosine = (a * b).sum(axis=1)
    gold = [p[2] for p in pairs]
    return 100 * spearmanr(cosine, gold).statistic, 100 * pearsonr(cosine, gold).statistic


def test_limited_slice_matches_an_independent_computation(minilm) -> None:
    task = get_task("sts", limit=150)
    assert isinstance(task, STSBenchmark) and task.split == "test"
    result = task.run(embedlab.load("minilm", runtime="torch"))  # parity: sentence-transformers'
    spearman, pearson = independent_scores(sts_benchmark("test")[:150])
    assert result.n == 150 and result.main_score_name == "cosine_spearman"
    assert result.main_score == pytest.approx(spearman, abs=0.01)
    assert result.scores["cosine_pearson"] == pytest.approx(pearson, abs=0.01)
    assert result.details["source"] == "STS Benchmark, test split"
    assert 60 < result.main_score < 95  # a sane range, and far from a random model's ~0
    dev = STSBenchmark(split="dev", limit=150).run(minilm)
    assert dev.main_score != pytest.approx(result.main_score, abs=0.01)  # another split


def test_users_own_pairs(minilm, tmp_path: Path) -> None:
    pairs = sts_benchmark("dev")[:40]
    path = tmp_path / "pairs.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first", "second", "similarity"])
        writer.writerows(pairs)
    task = get_task("sts", data=path, text_field="first,second", label_field="similarity")
    result = task.run(minilm)
    expected = STSBenchmark(split="dev", limit=40).run(minilm)
    assert result.n == 40 and result.details["source"] == str(path)
    assert result.main_score == pytest.approx(expected.main_score, abs=1e-6)

    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in pairs
        )
    )
    assert STSBenchmark(data=jsonl).run(minilm).main_score == pytest.approx(expected.main_score)


def test_bad_input(tmp_path: Path, minilm) -> None:
    with pytest.raises(InputError, match="unknown STS-B split"):
        STSBenchmark(split="validation")
    path = tmp_path / "bad.csv"
    path.write_text("sentence1,sentence2,score\nA cat.,A dog.,high\nA man.,A woman.,2\n")
    with pytest.raises(DataFormatError, match="row 1 .* 'high', which is not a number"):
        STSBenchmark(data=path).run(minilm)
    with pytest.raises(DataFormatError, match="no field 'label'"):
        STSBenchmark(data=path, label_field="label").run(minilm)
    with pytest.raises(InputError, match="two text columns"):
        STSBenchmark(data=path, text_field="sentence1").run(minilm)
    path.write_text("sentence1,sentence2,score\nA cat.,,1\nA man.,A woman.,2\n")
    with pytest.raises(DataFormatError, match="row 1 .* empty"):
        STSBenchmark(data=path).run(minilm)
    with pytest.raises(InputError, match="at least two"):
        STSBenchmark(limit=1).run(minilm)


@pytest.mark.slow
def test_published_figure_on_the_full_test_split() -> None:
    """all-MiniLM-L6-v2 scores 82.03 (published); int8 must stay within 0.5 of it."""
    fp32 = STSBenchmark().run(embedlab.load("minilm"))
    assert fp32.n == 1379
    assert fp32.main_score == pytest.approx(82.03, abs=0.1)
    int8 = STSBenchmark().run(embedlab.load("minilm", runtime="onnx-int8"))
    assert abs(int8.main_score - 82.03) <= 0.5
    assert np.isfinite(int8.scores["cosine_pearson"])
