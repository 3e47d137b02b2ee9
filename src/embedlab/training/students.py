"""Train a DAN or a BiLSTM-max student on a teacher's cached vectors, and save it.

The student's tokenizer is the teacher's (default) or a WordPiece one trained here on the same
texts. Its token embeddings start from a static model's rows where one is at hand (``init``:
a model2vec folder; ``"auto"`` uses ``static-minilm`` for the MiniLM teacher), matched by token
string, so a student starts from distilled token meanings instead of noise; the rest is learned
with the cosine to the teacher's vectors. The output folder is rewritten at every checkpoint, so
a killed run leaves the last checkpoint there as a loadable model; ``resume`` continues from it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab import catalogue
from embedlab._io import check_output_folder
from embedlab.embedders.base import Embedder
from embedlab.embedders.methods import method_class
from embedlab.embedders.sentence.dan import bag_items
from embedlab.embedders.sentence.student import StudentEmbedder
from embedlab.embedders.sentence.tokens import (
    Flat,
    check_vocab_size,
    encode,
    tokenizer_from_folder,
    train_tokenizer,
    unknown_id,
    weighted_bags,
)
from embedlab.embedders.static import StaticEmbedder
from embedlab.errors import InputError, ModelFormatError
from embedlab.extras import require
from embedlab.loading import load
from embedlab.text.wordpiece import WordPieceIds
from embedlab.training.student_loop import LoopResult, StudentSettings, fit_net
from embedlab.training.teacher_cache import TeacherVectors
from embedlab.training.teachers import hf_folder, load_teacher

STUDENTS = ("dan", "bilstm")
FIT_SAMPLE = 20000  # texts for the DAN's least-squares start
TOKENIZERS = ("teacher", "own")


@dataclass
class StudentResult:
    """What a training run did and achieved (held-out cosine to the teacher before/after)."""

    folder: Path
    method: str
    texts: int
    steps: int
    sentences: int
    epochs: float
    seconds: float
    cosine_before: float
    cosine_after: float
    stopped: str
    init: str | None

    def summary(self) -> str:
        return (
            f"trained {self.method} for {self.steps:,} steps ({self.sentences:,} sentences, "
            f"{self.epochs:.2f} epochs of {self.texts:,} texts) in {self.seconds:.0f} s, stopped "
            f"by {self.stopped}; held-out cosine to the teacher {self.cosine_before:.3f} -> "
            f"{self.cosine_after:.3f}; saved to {self.folder}"
        )


def static_init_folder(init: str | None, teacher_name: str) -> Path | None:
    """The model2vec folder whose rows start the token embeddings, or None for random ones."""
    if init is None or init == "none":
        return None
    if init == "auto":
        teacher = catalogue.find(teacher_name)
        if teacher is not None and teacher.name == "all-MiniLM-L6-v2":
            static = catalogue.find("static-minilm")
            if static is not None and static.installed:
                return static.path()
        return None
    model = load(init)
    if not isinstance(model, StaticEmbedder):
        raise InputError(
            f"--init {init} is a {model.method} model, not a static (model2vec) one",
            "pass a folder made by `embedlab distill`, or 'auto' or 'none'",
        )
    return model.folder


def initial_rows(tokenizer: Any, folder: Path, dim: int, seed: int) -> tuple[np.ndarray, int]:
    """A ``(vocab, dim)`` table: the static model's row for each token string it knows
    (its first ``dim`` dims; PCA orders them), small random rows for the others."""
    static = StaticEmbedder(str(folder))
    theirs = static.tokenizer.get_vocab()
    pairs = [(i, theirs[t]) for t, i in tokenizer.get_vocab().items() if t in theirs]
    ours, rows = (
        (np.array(x, dtype=np.int64) for x in zip(*pairs, strict=True))
        if pairs
        else (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )
    )
    table = static._rows(rows.tolist()) if len(rows) else np.zeros((0, dim), np.float32)
    rng = np.random.default_rng(seed)
    scale = float(np.abs(table).mean()) if table.size else 0.1
    out = rng.normal(0, scale, (tokenizer.get_vocab_size(), dim)).astype(np.float32)
    width = min(dim, table.shape[1])
    out[ours, :width] = table[:, :width]
    return out, len(pairs)


def student_tokenizer(
    kind: str, teacher: Embedder | None, cache: TeacherVectors, vocab_size: int, max_tokens: int
) -> Any:
    if kind not in TOKENIZERS:
        raise InputError(f"unknown tokenizer {kind!r}", "use 'teacher' or 'own'")
    if kind == "own":
        check_vocab_size(vocab_size)
        return train_tokenizer(cache.texts(), vocab_size, max_tokens)
    folder = hf_folder(teacher) if teacher is not None else None
    if folder is None:
        raise InputError(
            f"the teacher {cache.teacher!r} has no tokenizer.json to share",
            "train the student's own tokenizer: --tokenizer own",
        )
    return tokenizer_from_folder(folder, max_tokens)


def encode_corpus(tokenizer: Any, texts: list[str], chunk: int = 8192) -> Flat:
    """All texts' ids as one Flat, encoded in chunks (a million texts fit in ~100 MB)."""
    fallback = unknown_id(tokenizer)
    word_ids = WordPieceIds(tokenizer)
    ids, lengths = [], []
    for start in range(0, len(texts), chunk):
        rows = encode(word_ids, texts[start : start + chunk], fallback)
        lengths.append(np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows)))
        ids.append(np.fromiter((i for r in rows for i in r), dtype=np.int64))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(lengths), out=starts[1:])
    return Flat(np.concatenate(ids), starts)


def _start_as_static(net: Any, flat: Flat, vectors: np.ndarray, vocab: int, buckets: int) -> None:
    """Bigram rows at zero, the output layer at zero, and the shortcut fitted by least squares
    from mean rows to the teacher's vectors: the DAN starts as the best linear static model."""
    torch = require("torch", "train")
    sample = flat.take(np.arange(min(len(flat), FIT_SAMPLE)))
    with torch.no_grad():
        net.bag.weight[vocab:] = 0
        net.output.weight.zero_()
        net.output.bias.zero_()
        ids, starts, weights = bag_items(sample, vocab, buckets)
        table = net.bag.weight.detach().numpy()
        means = weighted_bags(table, ids, starts, weights)
        linear, *_ = np.linalg.lstsq(means, vectors[: len(sample)], rcond=None)
        net.shortcut.weight.copy_(torch.from_numpy(np.ascontiguousarray(linear.T, np.float32)))


def train_student(
    method: str,
    cache: TeacherVectors,
    out: str | os.PathLike[str],
    settings: StudentSettings | None = None,
    *,
    options: dict[str, Any] | None = None,
    tokenizer: str = "teacher",
    vocab_size: int = 30000,
    init: str | None = "auto",
    linear_start: bool = True,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
) -> StudentResult:
    """Train a ``dan`` or ``bilstm`` student on ``cache`` and save it to ``out``.

    ``linear_start`` (DAN): begin as the least-squares linear model of the mean token rows,
    which the layers then improve; without it every weight but the token rows starts random.

    ``options`` are the student's own (``dim``, ``hidden``, ``layers``, ``bigram_buckets``,
    ``max_tokens``, ``normalize``); ``resume`` continues from the model already at ``out``.
    """
    if method not in STUDENTS:
        raise InputError(f"unknown student {method!r}", f"use one of: {', '.join(STUDENTS)}")
    settings = settings or StudentSettings()
    settings.check()
    target = check_output_folder(out, force=force)
    require("torch", "train")
    if resume:
        student = load(target) if (target / "embedlab.json").is_file() else None
        if not isinstance(student, StudentEmbedder) or student.method != method:
            raise InputError(
                f"there is no {method} model at {target} to resume", "train without --resume"
            )
        if student.dim != cache.dim:
            raise ModelFormatError(
                f"the model at {target} makes {student.dim}-dim vectors, the teacher {cache.dim}",
                "resume with the cache of the same teacher",
            )
        token_ids = student.tokenizer
        init_folder = None
    else:
        klass = method_class(method)
        student = klass(**{**(options or {}), "output_dim": cache.dim})
        teacher = load_teacher(cache.teacher) if tokenizer == "teacher" else None
        token_ids = student_tokenizer(
            tokenizer, teacher, cache, vocab_size, student.params["max_tokens"]
        )
        init_folder = static_init_folder(init, cache.teacher)
    assert isinstance(student, StudentEmbedder)
    vocab = int(token_ids.get_vocab_size())
    net = student.torch_net(vocab)  # type: ignore[attr-defined]
    if init_folder is not None:
        table, _ = initial_rows(token_ids, init_folder, student.params["dim"], settings.seed)
        torch = require("torch", "train")
        first = net.bag if method == "dan" else net.embedding
        with torch.no_grad():
            first.weight[:vocab] = torch.from_numpy(table)
    flat = encode_corpus(token_ids, cache.texts())
    vectors = cache.vectors()
    if method == "dan":
        if linear_start and not resume:
            _start_as_static(net, flat, vectors, vocab, student.params["bigram_buckets"])
        net.bag.sparse = True
    else:
        net.embedding.sparse = True
    rng = np.random.default_rng(settings.seed + 1)

    def inputs(batch: Flat, training: bool) -> tuple:
        drop = settings.word_dropout if training and method == "dan" else 0.0
        return student.net_inputs(batch, vocab, drop, rng)  # type: ignore[attr-defined]

    info: dict[str, Any] = {
        "teacher": cache.teacher,
        "texts": cache.rows,
        "tokenizer": tokenizer,
        "init": str(init_folder) if init_folder else None,
        "settings": asdict(settings),
    }

    def save(progress_info: dict[str, Any]) -> None:
        weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        student.set_state(token_ids, weights, {**info, **progress_info})
        student.save(target, force=force)

    result: LoopResult = fit_net(
        net, flat, vectors, inputs, settings, label=method, checkpoint=save, progress=progress
    )
    save({k: v for k, v in asdict(result).items()})
    return StudentResult(
        folder=target,
        method=method,
        texts=cache.rows,
        init=info["init"],
        **asdict(result),
    )
