"""The Task interface, the task registry, and ``run(model, tasks)``.

A task declares its data, its metric and its main score, and runs on any Embedder; results are
plain data so the CLI, ``compare`` and users' notebooks all read the same thing.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embedlab.embedders.base import Embedder
from embedlab.errors import InputError, UnknownModelError
from embedlab.loading import load

# Task name -> "module:Class"; imported on first use so listing tasks stays cheap.
_TASKS: dict[str, str] = {
    "sts": "embedlab.eval.sts:STSBenchmark",
    "words": "embedlab.eval.words:WordBenchmarks",
    "wordsim": "embedlab.eval.words:WordSimilarity",
    "analogy": "embedlab.eval.words:Analogy",
    "classification": "embedlab.eval.classification:Classification",
    "clustering": "embedlab.eval.clustering:Clustering",
    "retrieval": "embedlab.eval.retrieval:Retrieval",
    "pairs": "embedlab.eval.pairs:PairClassification",
    "bias": "embedlab.eval.bias:WEAT",
    "contextuality": "embedlab.eval.contextuality:Contextuality",
    "wordnet-usage": "embedlab.eval.wordnet_usage:WordNetUsage",
    "speakers": "embedlab.eval.media:SpeakerRetrieval",
    "digits": "embedlab.eval.media:DigitRetrieval",
}


def register_task(name: str, target: str) -> None:
    """Register a task as ``"package.module:ClassName"``."""
    _TASKS[name] = target


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str, **options: Any) -> Task:
    """Instantiate the task registered as ``name`` with its options (data path, fields, ...)."""
    target = _TASKS.get(name)
    if target is None:
        import difflib

        close = difflib.get_close_matches(name, task_names(), n=2)
        hint = f"Did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise UnknownModelError(
            f"unknown task {name!r}", f"{hint}Known tasks: {', '.join(task_names())}"
        )
    module_name, class_name = target.split(":")
    klass = getattr(importlib.import_module(module_name), class_name)
    return klass(**{k: v for k, v in options.items() if v is not None})


@dataclass
class TaskResult:
    """What one task measured for one model: every score, and which one is the main score."""

    task: str
    model: str
    main_score_name: str
    scores: dict[str, float]
    n: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def main_score(self) -> float:
        return self.scores[self.main_score_name]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["main_score"] = self.main_score
        return out


class Task(ABC):
    """One evaluation: ``evaluate(model)`` returns ``(scores, n, details)``; ``run`` times it.

    ``data`` (a user file) and ``text_field`` / ``label_field`` let a task run on the user's own
    labelled data instead of its standard benchmark, where the task supports that.
    """

    name: ClassVar[str] = ""
    main_score: ClassVar[str] = ""

    def __init__(
        self,
        data: str | Path | None = None,
        text_field: str | None = None,
        label_field: str | None = None,
        limit: int | None = None,
    ) -> None:
        self.data = Path(data) if data is not None else None
        self.text_field = text_field
        self.label_field = label_field
        if limit is not None and limit < 1:
            raise InputError(
                f"limit must be at least 1, got {limit}", "omit it to use all the data"
            )
        self.limit = limit

    @abstractmethod
    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        """Compute the scores of ``model`` on this task's data."""

    def data_key(self) -> str:
        """What identifies this task's data, for caching results (a file's path and mtime)."""
        if self.data is None:
            return f"{self.name}:standard:{self.limit}"
        stat = self.data.stat()
        return f"{self.name}:{self.data.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{self.limit}"

    def run(self, model: Embedder) -> TaskResult:
        started = time.perf_counter()
        scores, n, details = self.evaluate(model)
        return TaskResult(
            task=self.name,
            model=model.name,
            main_score_name=self.main_score,
            scores={k: float(v) for k, v in scores.items()},
            n=n,
            seconds=time.perf_counter() - started,
            details=details,
        )


def embed_for_task(model: Embedder, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
    """Embed a task's texts; an unfitted trainable model (TF-IDF) is first fitted on them.

    Fitting on the evaluation texts without labels is what a user of such a model would do with
    their own corpus, so unsupervised methods are compared on equal terms.
    """
    if model.trainable and not model.is_fitted:
        model.fit(texts)
    return model.embed(texts, batch_size=batch_size)


def run(model: str | Embedder, tasks: list[str | Task], **options: Any) -> list[TaskResult]:
    """Run ``tasks`` (names or Task objects) on ``model`` (a name or an Embedder)."""

    embedder = load(model) if not isinstance(model, Embedder) else model
    results = []
    for task in tasks:
        task_obj = get_task(task, **options) if isinstance(task, str) else task
        results.append(task_obj.run(embedder))
    return results
