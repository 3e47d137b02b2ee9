"""A static model trained on a teacher's sentence vectors (model2vec's tokenlearn recipe).

model2vec's distillation gives each subword the teacher's vector of that subword alone, which
knows nothing of how subwords combine in sentences. Here the rows are trained so that their mean
over a sentence matches the teacher's vector of the whole sentence. Steps:

1. start from a distilled model (``static-minilm`` for MiniLM, else ``distill`` of the teacher,
   or any model2vec folder given as ``init``);
2. project the teacher's vectors onto their top singular directions (as many as the static
   model has dims; uncentred, so cosines keep their meaning);
3. fit one linear map from mean static rows to those targets (least squares) and fold it into
   the table: a linear map commutes with the mean;
4. train the table with the cosine to the targets (torch, sparse Adam).

The result is a model2vec folder (``model/`` under an embedlab.json): the same numpy
:class:`~embedlab.embedders.static.StaticEmbedder` runs it, and model2vec loads it too.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import check_output_folder
from embedlab.embedders.sentence.tokens import Flat, weighted_bags
from embedlab.embedders.static import StaticEmbedder
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.loading import load
from embedlab.training.distill import DEFAULT_PCA_DIMS, distilled_folder
from embedlab.training.student_loop import StudentSettings, fit_net
from embedlab.training.students import StudentResult
from embedlab.training.teacher_cache import TeacherVectors

FIT_SAMPLE = 20000  # texts used for the least-squares start


def _start_folder(init: str | None, cache: TeacherVectors, target: Path, resume: bool) -> Path:
    if resume:
        if not (target / "embedlab.json").is_file():
            raise InputError(f"there is no static model at {target} to resume", "drop --resume")
        model = load(target)
        if not isinstance(model, StaticEmbedder):
            raise InputError(f"the model at {target} is not a static model", "drop --resume")
        return model.folder
    if init is None or init == "auto":
        return distilled_folder(cache.teacher, DEFAULT_PCA_DIMS)
    model = load(init)
    if not isinstance(model, StaticEmbedder):
        raise InputError(
            f"--init {init} is a {model.method} model, not a static (model2vec) one",
            "pass a folder made by `embedlab distill`, or 'auto'",
        )
    return model.folder


def _projection(vectors: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """``(teacher_dim, dim)``: the top right singular vectors of (a sample of) the vectors."""
    rng = np.random.default_rng(seed)
    sample = vectors[rng.permutation(len(vectors))[:50000]]
    _, _, vt = np.linalg.svd(sample, full_matrices=False)
    return np.ascontiguousarray(vt[:dim].T)


def known_ids(static: StaticEmbedder, texts: list[str]) -> tuple[Flat, np.ndarray]:
    """Ids the static model uses for each text (unknowns dropped), and which texts have any."""
    rows: list[list[int]] = []
    for start in range(0, len(texts), 8192):
        rows += static._ids(texts[start : start + 8192])
    keep = np.array([bool(r) for r in rows], dtype=bool)
    return Flat.of([r for r in rows if r]), keep


def train_static(
    cache: TeacherVectors,
    out: str | os.PathLike[str],
    settings: StudentSettings | None = None,
    *,
    init: str | None = "auto",
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
) -> StudentResult:
    """Train a static model's rows on ``cache``'s sentence vectors; save it at ``out``."""
    settings = settings or StudentSettings(lr=5e-3)
    settings.check()
    target = check_output_folder(out, force=force)
    torch = require("torch", "train")
    folder = _start_folder(init, cache, target, resume)
    static = StaticEmbedder(str(folder))
    state = static._loaded()
    vocab = len(static.tokenizer.get_vocab())
    table = static._rows(list(range(vocab)))
    flat, keep = known_ids(static, cache.texts())
    teacher = cache.vectors()[keep]
    dim = min(table.shape[1], cache.dim)
    targets = teacher if dim == cache.dim else teacher @ _projection(teacher, dim, settings.seed)
    if not resume:  # fold the least-squares map from mean rows to targets into the table
        sample = np.arange(min(len(flat), FIT_SAMPLE))
        part = flat.take(sample)
        means = weighted_bags(table, part.ids, part.starts) / part.lengths[:, None]
        linear, *_ = np.linalg.lstsq(means, targets[sample], rcond=None)
        table = (table @ linear).astype(np.float32)
    net = torch.nn.EmbeddingBag(vocab, dim, mode="mean", sparse=True)
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(np.ascontiguousarray(table, dtype=np.float32)))

    def inputs(batch: Flat, training: bool) -> tuple:
        return (torch.from_numpy(batch.ids), torch.from_numpy(batch.starts[:-1]))

    def save(info: dict[str, Any]) -> None:
        state.embeddings = net.weight.detach().numpy().copy()
        state.weights = None
        state.mapping = None
        state.config = {
            **state.config,
            "hidden_dim": dim,
            "embedding_dtype": "float32",
            "tokenlearn": {
                "teacher": cache.teacher,
                "texts": cache.rows,
                "settings": asdict(settings),
                **info,
            },
        }
        static.save(target, force=force)

    result = fit_net(
        net, flat, targets, inputs, settings, label="static", checkpoint=save, progress=progress
    )
    save(asdict(result))
    return StudentResult(
        folder=target,
        method="static",
        texts=cache.rows,
        init=str(folder),
        **asdict(result),
    )
