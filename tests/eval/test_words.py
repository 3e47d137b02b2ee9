"""Word-level evaluation: Spearman checked against scipy on the same vectors, planted analogies,
out-of-vocabulary counting, user data files, and models without a vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import embedlab
from embedlab.embedders.words.vectors import WordVectorEmbedder
from embedlab.errors import DataFormatError, InputError
from embedlab.eval import get_task
from embedlab.eval.datasets import gensim_test_file
from embedlab.eval.words import Analogy, WordBenchmarks, WordSimilarity


def independent_spearman(model: WordVectorEmbedder, file_name: str) -> tuple[float, int, int]:
    """Spearman of cosine vs. gold over the pairs whose lowercased words are both known."""
    kv = model.vectors
    gold, cosine, skipped = [], [], 0
    for line in gensim_test_file(file_name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        a, b, score = line.split("\t")[:3]
        a, b = a.lower(), b.lower()
        if a not in kv or b not in kv:
            skipped += 1
            continue
        va, vb = kv[a], kv[b]
        gold.append(float(score))
        cosine.append(float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb)))
    return spearmanr(gold, cosine).statistic, len(gold), skipped


def test_wordsim_matches_scipy_on_glove(glove: WordVectorEmbedder) -> None:
    result = get_task("wordsim").run(glove)
    assert isinstance(get_task("wordsim"), WordSimilarity)
    for name, file_name in [("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")]:
        expected, used, skipped = independent_spearman(glove, file_name)
        assert result.scores[name] == pytest.approx(expected, abs=1e-6)
        assert result.details[name]["used"] == used
        assert result.scores[f"{name}_oov_pairs"] == skipped
    assert result.n == 353 + 999 and result.main_score == result.scores["wordsim353"]
    assert 0.45 < result.scores["wordsim353"] < 0.55  # published figure for GloVe 6B 50d: 0.50


def test_pairs_outside_the_vocabulary_are_skipped_and_counted(glove: WordVectorEmbedder) -> None:
    kv = glove.vectors
    keep = [w for w in kv.words[:5000] if w not in ("tiger", "cat")]
    small = WordVectorEmbedder(keep, np.asarray(kv.vectors[[kv.get_index(w) for w in keep]]))
    result = WordSimilarity().run(small)
    expected, used, skipped = independent_spearman(small, "wordsim353.tsv")
    assert skipped > 0 and result.scores["wordsim353_oov_pairs"] == skipped
    assert result.scores["wordsim353"] == pytest.approx(expected, abs=1e-6)
    assert "tiger" in result.details["wordsim353"]["oov_words"]


def planted_analogies() -> WordVectorEmbedder:
    """Vectors built so that b - a + c lands exactly on d for gender and on capitals."""
    rng = np.random.default_rng(0)
    base = {w: rng.normal(size=16) for w in ["man", "king", "boy", "france", "italy", "spain"]}
    gender, capital = rng.normal(size=16), rng.normal(size=16)
    vectors = dict(base)
    vectors["woman"] = base["man"] + gender
    vectors["queen"] = base["king"] + gender
    vectors["girl"] = base["boy"] + gender
    vectors["paris"] = base["france"] + capital
    vectors["rome"] = base["italy"] + capital
    vectors["madrid"] = base["spain"] + capital
    words = list(vectors)
    return WordVectorEmbedder(words, np.array([vectors[w] for w in words], dtype=np.float32))


def test_analogy_on_planted_vectors(tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text(
        ": gender\nman woman king queen\nman woman boy girl\nking queen man woman\n"
        ": gram-capitals\nFrance Paris Italy Rome\nItaly Rome Spain Madrid\n"
        "France Paris Germany Berlin\n",
        encoding="utf-8",
    )
    result = Analogy(data=questions).run(planted_analogies())
    assert result.scores["analogy"] == 1.0 and result.n == 6
    assert result.scores["analogy_oov_questions"] == 1  # Germany and Berlin are unknown
    assert result.details["sections"]["gram-capitals"] == {
        "questions": 3,
        "answered": 2,
        "correct": 2,
    }
    assert result.scores["analogy_syntactic"] == 1.0 and result.scores["analogy:gender"] == 1.0
    # a wrong planted answer is counted wrong
    model = planted_analogies()
    model.vectors.vectors[model.vectors.get_index("girl")] = np.random.default_rng(1).normal(
        size=16
    )
    model.vectors._unit = None
    assert Analogy(data=questions).run(model).scores["analogy:gender"] == pytest.approx(2 / 3)


def test_google_analogies_on_glove_with_a_limit(glove: WordVectorEmbedder) -> None:
    result = get_task("analogy", limit=300).run(glove)
    assert result.n == 300 and result.details["answered"] == 300
    assert list(result.details["sections"]) == ["capital-common-countries"]
    assert result.scores["analogy"] > 0.6  # GloVe 6B 50d knows most capitals
    assert np.isnan(result.scores["analogy_syntactic"])


def test_words_runs_all_three_and_models_without_vocabulary() -> None:
    model = embedlab.load("static-minilm")  # subword model: words are embedded as texts
    result = get_task("words", limit=60).run(model)
    assert isinstance(get_task("words"), WordBenchmarks)
    assert {"wordsim353", "simlex999", "analogy"} <= set(result.scores)
    assert "question set" in result.details["analogy"]["candidates"]
    assert result.scores["wordsim353_oov_pairs"] == 0


def test_user_files_and_bad_data(tmp_path: Path, glove: WordVectorEmbedder) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("word1\tword2\tscore\ncat\tdog\t9\ncat\tcar\t2\nking\tqueen\t8\n")
    result = WordSimilarity(data=pairs).run(glove)
    assert result.main_score_name == "spearman" and result.n == 3
    assert np.isfinite(result.scores["spearman"])
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\tdog\t9\ncat\tdog\tnine\n")
    with pytest.raises(DataFormatError, match="line 2"):
        WordSimilarity(data=bad).run(glove)
    questions = tmp_path / "q.txt"
    questions.write_text(": s\nman king woman\n")
    with pytest.raises(DataFormatError, match="expected 4"):
        Analogy(data=questions).run(glove)
    with pytest.raises(InputError, match="standard sets"):
        WordBenchmarks(data=pairs)
