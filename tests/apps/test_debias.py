"""debias: removing a gender subspace lowers WEAT on real GloVe, and the result is a model."""

from __future__ import annotations

import json

import numpy as np
import pytest

import embedlab
from cli_helpers import assert_one_line_error, invoke_cli
from embedlab.apps.debias import GENDER_PAIRS, bias_subspace, debias, measure
from embedlab.embedders.debiased import DebiasedEmbedder
from embedlab.embedders.words.vectors import WordVectorEmbedder
from embedlab.errors import InputError
from embedlab.eval.bias import WEAT

GENDER = ("weat6", "weat7", "weat8")
PROBES = ["nurse", "engineer", "The doctor will call tomorrow.", "homemaker"]


def gender_effect(model: embedlab.Embedder) -> float:
    scores = WEAT(permutations=200).run(model).scores
    return float(np.mean([abs(scores[f"{t}_effect"]) for t in GENDER]))


@pytest.fixture(scope="module")
def glove_effect(glove) -> float:
    return gender_effect(glove)


def test_the_learned_direction_is_gender(glove):
    (u,) = bias_subspace(glove, GENDER_PAIRS)
    she, he, table, king, queen = glove.embed(["she", "he", "table", "king", "queen"])
    assert np.linalg.norm(u) == pytest.approx(1, abs=1e-5)
    assert (she - he) @ u > 0.5 * np.linalg.norm(she - he)  # oriented from he to she
    assert abs(table @ u) < abs((queen - king) @ u)


@pytest.mark.parametrize("method", ["hard", "project"])
def test_debiasing_lowers_weat_and_saves_a_loadable_model(glove, glove_effect, method, tmp_path):
    fair = debias(glove, method=method)
    assert isinstance(fair, WordVectorEmbedder if method == "hard" else DebiasedEmbedder)
    after = gender_effect(fair)
    assert after < 0.75 * glove_effect, (glove_effect, after)
    (u,) = bias_subspace(glove, GENDER_PAIRS, how="pca" if method == "hard" else "mean")
    vectors = fair.embed(PROBES)
    assert np.abs(vectors @ u).max() < 1e-4  # nothing left along the direction
    fair.save(tmp_path / "fair")
    loaded = embedlab.load(tmp_path / "fair")
    assert loaded.method == fair.method and loaded.dim == 50
    assert np.allclose(loaded.embed(PROBES), vectors, atol=1e-6)
    assert gender_effect(loaded) == pytest.approx(after, abs=1e-6)


def test_hard_debiasing_keeps_gendered_words_and_equalises_pairs(glove):
    fair = debias(glove, method="hard")
    (u,) = bias_subspace(glove, GENDER_PAIRS)
    man, woman, king, queen, doctor = fair.embed(["man", "woman", "king", "queen", "doctor"])
    assert (woman - man) @ u > 1.0  # "woman" still differs from "man" by gender
    assert abs(doctor @ u) < 1e-5  # a neutral word lost its gender part
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    assert cos(doctor, man) == pytest.approx(cos(doctor, woman), abs=1e-5)
    assert cos(doctor, king) == pytest.approx(cos(doctor, queen), abs=1e-5)
    before = glove.embed(["doctor", "man", "woman"])
    assert abs(cos(before[0], before[1]) - cos(before[0], before[2])) > 1e-3


def test_sentence_models_are_projected_and_unit_vectors_stay_unit(minilm):
    fair = debias(minilm)
    assert isinstance(fair, DebiasedEmbedder)
    vectors = fair.embed(PROBES)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.abs(vectors @ fair.directions.T).max() < 1e-5
    with pytest.raises(InputError, match="hard debiasing changes a table of word vectors"):
        debias(minilm, method="hard")


def test_measure_reports_weat_and_costs(glove):
    report = measure(glove, debias(glove, method="project"), sts_limit=200, permutations=200)
    names = [row[0] for row in report.weat]
    assert names[:4] == ["weat1", "weat6", "weat7", "weat8"]
    gender = next(row for row in report.weat if row[1] == "gender tests")
    assert gender[3] < gender[2]
    costs = dict((name, (b, a)) for name, b, a in report.costs)
    before, after = costs["sts: cosine_spearman"]
    assert 40 < before < 80 and abs(after - before) < 5  # a small cost, not a broken model
    assert json.loads(json.dumps(report.to_dict()))["weat"][0]["test"] == "weat1"


def test_cli_debias_saves_and_reports(tmp_path):
    out = tmp_path / "glove-fair"
    result = invoke_cli(
        "debias", "glove-50d", "--out", out, "--method", "project", "--sts-limit", "100", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["method"] == "debiased" and data["report"]["costs"]
    assert embedlab.load(out).embed("nurse").shape == (50,)
    assert_one_line_error(
        invoke_cli("debias", "glove-50d", "--out", tmp_path / "x", "--method", "magic"),
        "unknown debias method",
    )
