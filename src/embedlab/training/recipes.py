"""The catalogue's students trained here: ``embedlab models prepare dan-minilm`` and its kin.

Why: no offline weights exist for a deep averaging network, a BiLSTM-max or a tokenlearn-style
static model, so embedlab makes them from MiniLM with one fixed recipe: the first million lines
of ``sentences-1m`` plus the STS Benchmark's unlabelled training sentences, seed 0, one torch
thread, and a fixed number of epochs (not minutes, so the result does not depend on how fast or
busy the machine is). The epochs are those ``bench/trained_encoders.py`` reached in its measured
run. The teacher's vectors are cached and shared by the three, so only the first build pays for
them. A build trains into a hidden folder beside the target and renames it when done: a killed
build leaves no half model under the catalogue name.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab import catalogue
from embedlab.errors import InputError, UnknownModelError
from embedlab.eval.datasets import sts_benchmark
from embedlab.paths import cache_home
from embedlab.text.corpora import CORPORA, corpus_path, prepared_corpus
from embedlab.text.sentence_corpus import NAME as SENTENCES
from embedlab.text.sentence_corpus import prepare_sentences
from embedlab.training.static_student import train_static
from embedlab.training.student_loop import StudentSettings
from embedlab.training.students import StudentResult, train_student
from embedlab.training.teacher_cache import Corpus, TeacherVectors, teacher_vectors

CORPUS = SENTENCES
TEXTS = 1_000_000
TEACHER = "minilm"


@dataclass(frozen=True)
class Recipe:
    """How one catalogue student is trained (the rest is StudentSettings' defaults)."""

    method: str  # static, dan, bilstm
    epochs: float
    batch_size: int
    lr: float
    word_dropout: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> StudentSettings:
        return StudentSettings(
            minutes=None,  # epochs decide, so every machine trains the same model
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            word_dropout=self.word_dropout,
            seed=0,
            threads=1,  # two threads on a shared 2-core machine measured slower
            checkpoint_minutes=5.0,
        )


RECIPES: dict[str, Recipe] = {
    "static-minilm-tl": Recipe("static", epochs=4.0, batch_size=128, lr=5e-3),
    "dan-minilm": Recipe("dan", epochs=2.0, batch_size=128, lr=2e-3, word_dropout=0.1),
    "bilstm-minilm": Recipe("bilstm", epochs=0.25, batch_size=64, lr=2e-3, options={"hidden": 256}),
}


def recipe_corpus(
    target: Path, corpus: str = CORPUS, texts: int = TEXTS, stsb_train: bool = True
) -> tuple[Path, str]:
    """The first ``texts`` distinct lines of a prepared corpus (a name such as
    ``sentences-1m``, or a file of one sentence a line), then the STS-B training sentences it
    lacks, written to ``target``; the corpus comes first, so a larger run's teacher cache starts
    with a smaller one's. Returns the file and a description with the corpus' per-source counts.
    An unchanged file keeps its date, so the teacher-vector cache keyed by it stays valid."""
    source = corpus_path(corpus) if corpus in CORPORA else Path(corpus)
    if not source.is_file():
        raise InputError(
            f"no corpus file at {source}", f"prepare it: embedlab data corpus {corpus}"
        )
    seen: set[str] = set()
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(target.name + ".new")
    with source.open(encoding="utf-8") as handle, fresh.open("w", encoding="utf-8") as out:
        for line in handle:
            text = " ".join(line.split())
            if len(seen) >= texts:
                break
            if text and text not in seen:
                seen.add(text)
                out.write(text + "\n")
        taken = len(seen)
        if stsb_train:
            for text in dict.fromkeys(s for a, b, _ in sts_benchmark("train") for s in (a, b)):
                if text not in seen:
                    seen.add(text)
                    out.write(text + "\n")
    if target.is_file() and target.read_bytes() == fresh.read_bytes():
        fresh.unlink()
    else:
        fresh.replace(target)
    meta = source.with_suffix(".json")
    parts = ""
    if meta.is_file():
        sources = json.loads(meta.read_text(encoding="utf-8")).get("sources", {})
        if sum(sources.values()) == taken:
            parts = " = " + ", ".join(f"{n:,} {name}" for name, n in sources.items() if n)
    extra = f" + {len(seen) - taken:,} stsb-train sentences" if stsb_train else ""
    return target, f"{len(seen):,} texts ({taken:,} from {corpus}{parts}{extra})"


def train_recipe(
    recipe: Recipe, cache: TeacherVectors, out: Path, *, progress: bool = False
) -> StudentResult:
    """Train ``recipe``'s student on ``cache`` into ``out`` (replacing what is there)."""
    settings = recipe.settings()
    if recipe.method == "static":
        return train_static(cache, out, settings, force=True, progress=progress)
    return train_student(
        recipe.method,
        cache,
        out,
        settings,
        options=recipe.options,
        force=True,
        progress=progress,
    )


def build(
    name: str,
    *,
    corpus: str = CORPUS,
    texts: int = TEXTS,
    stsb_train: bool = True,
    progress: bool = False,
    say: Callable[[str], None] = lambda line: None,
) -> Path:
    """Train the catalogue student ``name`` once into the cache and return its folder.

    ``corpus``, ``texts`` and ``stsb_train`` exist for tests and experiments: the catalogue's
    figures are for the defaults.
    """
    if name not in RECIPES:
        raise UnknownModelError(
            f"{name!r} is not a student embedlab trains", f"use one of: {', '.join(RECIPES)}"
        )
    target = catalogue.trained_here_folder(name)
    if (target / "embedlab.json").is_file():
        return target
    recipe = RECIPES[name]
    if corpus == SENTENCES and prepared_corpus(SENTENCES) is None:
        say(f"{name}: assembling the {SENTENCES} corpus first (about 13 minutes)")
        prepare_sentences(progress=progress)
    corpus_file = cache_home() / "data" / "recipes" / f"{Path(corpus).name}-{texts}.txt"
    path, described = recipe_corpus(corpus_file, corpus, texts, stsb_train)
    say(f"{name}: corpus {described}")
    cache = teacher_vectors(TEACHER, Corpus(path), progress=progress, chunk_size=4096)
    building = target.with_name(f".{name}.building")
    if building.exists():  # ours: the hidden folder of an interrupted build
        shutil.rmtree(building)
    target.parent.mkdir(parents=True, exist_ok=True)
    result = train_recipe(recipe, cache, building, progress=progress)
    building.rename(target)
    say(f"{name}: {result.summary().replace(str(building), str(target))}")
    return target
