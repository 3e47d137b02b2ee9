"""Students taught by MiniLM on real sentences: the teacher cache, training, the CLI, bad input.

One module fixture streams 600 real sentences (the STS Benchmark's training split) through
MiniLM once; every student trains on that cache for seconds and must come closer to the teacher
on held-out sentences (the STS Benchmark's test split, never trained on) than the same student
with random weights, and than its own start (the DAN starts as a least-squares linear model).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import embedlab
from cli_helpers import invoke_cli
from embedlab.catalogue import minilm_path
from embedlab.embedders.methods import method_class
from embedlab.embedders.sentence.tokens import tokenizer_from_folder
from embedlab.errors import InputError, OutputError, UnknownModelError
from embedlab.eval.datasets import sts_benchmark
from embedlab.training.static_student import train_static
from embedlab.training.student_loop import StudentSettings
from embedlab.training.students import train_student
from embedlab.training.teacher_cache import Corpus, TeacherVectors, teacher_vectors

N_TEXTS = 600
SHORT = StudentSettings(minutes=0.05, epochs=30, batch_size=64, validation=100, threads=1)
STATIC = StudentSettings(minutes=0.05, epochs=4, batch_size=64, lr=2e-3, validation=100, threads=1)
UNTRAINED = StudentSettings(max_steps=0, validation=100, threads=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, minilm) -> TeacherVectors:
    folder = tmp_path_factory.mktemp("teacher") / "cache"
    return teacher_vectors("minilm", Corpus("stsb", limit=N_TEXTS), folder, loaded=minilm)


@pytest.fixture(scope="module")
def held_out(minilm) -> tuple[list[str], np.ndarray]:
    texts = list(dict.fromkeys(s for a, b, _ in sts_benchmark("test") for s in (a, b)))[:150]
    return texts, minilm.embed(texts, normalize=True)


def _cosine(folder: Path, held_out: tuple[list[str], np.ndarray]) -> float:
    texts, teacher = held_out
    return float((embedlab.load(folder).embed(texts, normalize=True) * teacher).sum(1).mean())


def _agreement(folder: Path | str, held_out: tuple[list[str], np.ndarray]) -> float:
    """Pearson correlation of the student's pairwise cosines with the teacher's (any dims)."""
    texts, teacher = held_out
    student = embedlab.load(folder).embed(texts, normalize=True)
    upper = np.triu_indices(len(texts), 1)
    return float(np.corrcoef((student @ student.T)[upper], (teacher @ teacher.T)[upper])[0, 1])


def test_the_cache_holds_the_teachers_vectors_of_the_corpus(cache, minilm):
    assert cache.complete and cache.rows == N_TEXTS and cache.dim == 384
    texts = cache.texts()
    assert len(texts) == N_TEXTS and texts[0] == sts_benchmark("train")[0][0]
    expected = minilm.embed(texts[:50], normalize=True)
    assert np.abs(cache.vectors()[:50] - expected).max() < 2e-3  # stored as float16


def _random(method: str, options: dict, tmp_path: Path) -> Path:
    """The student with its network's random initial weights: nothing learned at all."""
    student = method_class(method)(**options)
    tokenizer = tokenizer_from_folder(minilm_path(), 128)
    net = student.torch_net(tokenizer.get_vocab_size())
    student.set_state(tokenizer, {k: v.detach().numpy() for k, v in net.state_dict().items()}, {})
    return student.save(tmp_path / "random")


@pytest.mark.parametrize(
    ("method", "options", "extra"),
    [  # no least-squares start for the DAN: on 480 texts it is as good as training gets
        ("dan", {"hidden": 256}, {"linear_start": False}),
        ("bilstm", {"dim": 128, "hidden": 64}, {}),
    ],
)
def test_student_learns_the_teacher(method, options, extra, cache, held_out, tmp_path: Path):
    start = train_student(method, cache, tmp_path / "start", UNTRAINED, options=options, **extra)
    after = train_student(method, cache, tmp_path / "trained", SHORT, options=options, **extra)
    assert start.steps == 0 and after.steps > 5
    assert after.cosine_after > after.cosine_before + 0.02  # the loop, on held-out cache texts
    random, begun, trained = (
        _cosine(folder, held_out)
        for folder in (_random(method, options, tmp_path), tmp_path / "start", tmp_path / "trained")
    )
    assert trained > random + 0.4 and trained > begun + 0.02 and trained > 0.5, (
        random,
        begun,
        trained,
    )
    saved = json.loads((tmp_path / "trained" / "embedlab.json").read_text())
    assert saved["method"] == method and saved["training"]["teacher"] == "minilm"
    assert saved["training"]["init"].endswith("static-minilm")  # rows start from the distillation


def test_static_student_agrees_with_the_teacher_better_than_the_distillation(
    cache, held_out, tmp_path: Path
):
    result = train_static(cache, tmp_path / "static", STATIC)
    assert result.steps > 5 and result.cosine_after > 0.9  # to the teacher's top 256 directions
    model = embedlab.load(tmp_path / "static")
    assert model.method == "static" and model.dim == 256
    config = json.loads((tmp_path / "static" / "model" / "config.json").read_text())
    assert config["model_type"] == "model2vec" and config["tokenlearn"]["teacher"] == "minilm"
    trained, distilled = (
        _agreement(tmp_path / "static", held_out),
        _agreement("static-minilm", held_out),
    )
    assert trained > distilled + 0.02, (distilled, trained)


def test_an_interrupted_cache_resumes_after_its_last_chunk(tmp_path: Path, minilm):
    corpus_file = tmp_path / "corpus.txt"
    lines = [a for a, _, _ in sts_benchmark("dev")[:250]]
    corpus_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = Corpus(corpus_file)
    stored: list[int] = []

    def stop_after_first(rows: int) -> None:
        stored.append(rows)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        teacher_vectors(
            "minilm",
            corpus,
            tmp_path / "c",
            chunk_size=100,
            on_chunk=stop_after_first,
            loaded=minilm,
        )
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["rows"] == 100 and not manifest["complete"]
    done = teacher_vectors(
        "minilm", corpus, tmp_path / "c", chunk_size=100, on_chunk=stored.append, loaded=minilm
    )
    assert stored == [100, 200, 250]  # the first chunk was not computed again
    assert done.texts() == lines
    assert np.abs(done.vectors() - minilm.embed(lines, normalize=True)).max() < 2e-3
    with pytest.raises(InputError, match="holds the vectors of 'minilm'"):
        teacher_vectors("mpnet", corpus, tmp_path / "c")


def test_bad_corpus_and_bad_teachers_are_refused(tmp_path: Path, cache):
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(InputError, match="no text"):
        teacher_vectors("minilm", Corpus(tmp_path / "empty.txt"), tmp_path / "c1")
    assert not (tmp_path / "c1").exists()
    (tmp_path / "one.txt").write_text("a sentence\n", encoding="utf-8")
    with pytest.raises(UnknownModelError, match="nosuchmodel"):
        teacher_vectors("nosuchmodel", Corpus(tmp_path / "one.txt"), tmp_path / "c2")
    for name in ("tfidf", "glove-50d"):
        with pytest.raises(InputError, match="not a sentence model"):
            teacher_vectors(name, Corpus(tmp_path / "one.txt"), tmp_path / "c3")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep\n")
    with pytest.raises(OutputError, match="did not write"):
        teacher_vectors("minilm", Corpus(tmp_path / "one.txt"), tmp_path / "mine")
    with pytest.raises(OutputError):
        train_student("dan", cache, tmp_path / "mine", UNTRAINED)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep\n"


def test_cli_trains_static_from_the_cache_and_distills(cache, tmp_path: Path):
    out = tmp_path / "static-cli"
    result = invoke_cli(
        "train",
        "static",
        "stsb",
        "--limit",
        N_TEXTS,
        "--cache",
        cache.folder,
        "-o",
        out,
        "--minutes",
        "0.03",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "held-out cosine to the teacher" in result.stderr
    assert embedlab.load(out).embed("a cat").shape == (256,)
    distilled = invoke_cli("distill", "minilm", "-o", tmp_path / "distilled")
    assert distilled.returncode == 0, distilled.stderr
    np.testing.assert_allclose(
        embedlab.load(tmp_path / "distilled").embed("a cat"),
        embedlab.load("static-minilm").embed("a cat"),
    )
    refused = invoke_cli("distill", "tfidf", "-o", tmp_path / "d2")
    assert refused.returncode == 2 and "not a sentence model" in refused.stderr
