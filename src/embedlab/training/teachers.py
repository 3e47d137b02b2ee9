"""The teacher of a student: a pretrained sentence model, checked once before any work.

Why a module of its own: ``embedlab train dan|bilstm|static`` and ``embedlab distill`` all take
``--teacher``, and all must refuse the same things in the same words: a name that is no model,
and a model that does not make sentence vectors (TF-IDF, word vectors, a GPT trained for next
words), whose vectors a student would learn to no purpose.
"""

from __future__ import annotations

from pathlib import Path

from embedlab.embedders.base import Embedder
from embedlab.embedders.transformers.config import read_folder_config
from embedlab.errors import InputError
from embedlab.loading import load

SENTENCE_METHODS = ("transformer", "onnx-sentence", "e5")
HINT = "pass a sentence model: 'minilm', 'mpnet', or a sentence-transformers folder"


def load_teacher(name: str) -> Embedder:
    """The loaded teacher ``name`` (fast runtime), or a one-line error saying why not."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("no teacher given", HINT)
    model = load(name)
    if model.method not in SENTENCE_METHODS or not model.is_fitted:
        raise InputError(
            f"the teacher {name!r} is not a sentence model (it is a {model.method} model)",
            HINT,
        )
    config = (
        read_folder_config(Path(model.params["model"])) if model.method == "transformer" else None
    )
    if config is not None and not config.sentence_transformers and config.pooling == "lasttoken":
        raise InputError(
            f"the teacher {name!r} is a left-to-right language model (GPT-style), not a "
            "sentence model: its vectors were never trained to compare sentences",
            HINT,
        )
    return model


def hf_folder(teacher: Embedder) -> Path | None:
    """The Hugging Face folder of a transformer teacher (its tokenizer and weights), if any."""
    if teacher.method == "transformer":
        return read_folder_config(Path(teacher.params["model"])).hf_folder
    if teacher.method == "onnx-sentence":
        tokenizer = teacher.params.get("tokenizer")
        return Path(tokenizer).parent if tokenizer else None
    return None


def teacher_key(name: str, teacher: Embedder) -> str:
    """What identifies the teacher's vectors: its method, folder and pooling options."""
    folder = teacher.params.get("model", "")
    resolved = str(Path(folder).resolve()) if folder and Path(folder).exists() else str(folder)
    return f"{teacher.method}:{resolved}:{teacher.dim}:{name}"
