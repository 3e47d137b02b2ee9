"""The model to fine-tune: any transformer embedlab loads, as a sentence-transformers model.

A catalogue name, a local Hugging Face or sentence-transformers folder, an embedlab-saved
transformer, or an earlier fine-tune's output all resolve to one folder plus the pooling and
normalisation embedlab applies, so training starts from exactly the vectors the user saw.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab._hub import hub_offline
from embedlab.embedders.base import Embedder
from embedlab.embedders.transformers.config import quiet_transformers, read_folder_config
from embedlab.errors import InputError, ModelFormatError
from embedlab.extras import require
from embedlab.loading import load


@dataclass(frozen=True)
class BaseModel:
    """Where the base model's weights are and how embedlab pools and normalises them."""

    name: str
    hf_folder: Path
    pooling: str
    normalize: bool
    max_length: int | None
    lowercase: bool
    dim: int


def resolve_base(base: str | os.PathLike[str] | Embedder) -> tuple[BaseModel, Embedder]:
    """Resolve ``base`` without loading weights; a model that is not a transformer is refused.

    Also returns the embedlab model itself (it mines hard negatives).
    """
    embedder = base if isinstance(base, Embedder) else load(base)
    if embedder.method != "transformer":
        raise InputError(
            f"the base model {embedder.name} is a {embedder.method} model, not a transformer",
            "fine-tune a transformer: a catalogue name such as 'minilm', or a model folder",
        )
    params = embedder.params
    config = read_folder_config(Path(params["model"]))
    found = BaseModel(
        name=str(base) if not isinstance(base, Embedder) else embedder.name,
        hf_folder=config.hf_folder,
        pooling=params.get("pooling") or config.pooling,
        normalize=config.normalize if params.get("normalize") is None else params["normalize"],
        max_length=params.get("max_length") or config.max_length,
        lowercase=config.lowercase,
        dim=_hidden_size(config.hf_folder),
    )
    return found, embedder


def sentence_transformer(base: BaseModel, *, max_length: int | None = None) -> Any:
    """A fresh sentence-transformers model of Transformer, Pooling (and Normalize) modules."""
    require("sentence_transformers", "transformers")
    hub_offline()
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    length = max_length or base.max_length
    with quiet_transformers():
        encoder = Transformer(
            str(base.hf_folder), max_seq_length=length, do_lower_case=base.lowercase
        )
        pooling = Pooling(encoder.get_embedding_dimension(), pooling_mode=base.pooling)
        modules = [encoder, pooling] + ([Normalize()] if base.normalize else [])
        return SentenceTransformer(modules=modules, device="cpu")


def _hidden_size(folder: Path) -> int:
    """The encoder's width from config.json (no torch): what Matryoshka sizes are checked against."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    for key in ("hidden_size", "d_model", "n_embd", "dim"):
        if isinstance(config.get(key), int):
            return int(config[key])
    raise ModelFormatError(
        f"{folder / 'config.json'} names no hidden size", "pass a standard transformer folder"
    )
