"""The WordNet usage -> definition retrieval task, on the real WordNet corpus."""

from __future__ import annotations

import pytest

from embedlab.errors import InputError
from embedlab.eval import get_task
from embedlab.eval.wordnet_usage import WordNetUsage, read_synsets, split_synsets, usage_pairs
from embedlab.text.corpora import corpus_path, prepare_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    try:
        return corpus_path("wordnet")
    except InputError:
        return prepare_corpus("wordnet", tmp_path_factory.mktemp("data")).path


def test_synsets_split_by_synset_with_2000_held_out(corpus):
    synsets = read_synsets(corpus)
    assert 30_000 <= len(synsets) <= 36_000  # "about 30,000" synsets have an example
    bank = next(s for s in synsets if "he cashed a check at the bank" in s.examples)
    assert bank.definition.startswith("a financial institution") and '"' not in bank.definition
    train, test = split_synsets(synsets)
    assert len(test) == 2_000 and len(synsets) - 2_100 < len(train) < len(synsets) - 2_000
    assert not {s.definition for s in test} & {s.definition for s in train}  # never seen
    assert split_synsets(synsets)[1] == test  # the split is fixed
    assert len(usage_pairs(train)) > len(train)  # every example is a training pair


def test_the_task_scores_minilm_and_runs_by_name(corpus, minilm):
    task = get_task("wordnet-usage", data=corpus, limit=200)
    assert isinstance(task, WordNetUsage)
    result = task.run(minilm)
    assert result.n == 200 and result.details["corpus"] == 200
    assert 0.3 < result.main_score <= 1.0  # MiniLM ranks most definitions well among 200
