"""Static embedders: one fixed vector per token, averaged into a text vector.

- ``StaticEmbedder`` runs a model2vec folder (subword vectors, e.g. distilled from MiniLM) as one
  small numpy class, matching ``model2vec.StaticModel.encode`` without importing model2vec.
- ``WordVectors`` and ``WordVectorEmbedder`` (word vectors with gensim's verbs, averaged into text
  vectors) live in :mod:`embedlab.embedders.words.vectors` and are re-exported here; the trained
  word models are in ``gensim_models``, ``doc2vec`` and ``glove``, file formats in
  ``word_formats``.

No torch here: lookups and means are numpy, so these load in well under a second.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.checks import path_text
from embedlab.embedders.base import (
    Embedder,
    TokenEmbeddings,
    check_texts,
    l2_normalize,
)
from embedlab.embedders.options import Option, declare
from embedlab.embedders.sentence.tokens import Flat, weighted_bags
from embedlab.embedders.words.vectors import WordVectorEmbedder, WordVectors
from embedlab.errors import ModelFormatError, UnknownModelError, UnknownWordError
from embedlab.text.wordpiece import WordPieceIds

__all__ = ["StaticEmbedder", "UnknownWordError", "WordVectorEmbedder", "WordVectors"]

# model2vec's defaults when a config does not say
DEFAULT_MAX_LENGTH = 512
STATIC_SUBFOLDER = "model"


# -- subword static models (model2vec) --------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Where a static model's three files sit; model2vec accepts these three layouts."""

    config: str
    embeddings: str
    tokenizer: str
    tensor: str


_LAYOUTS = (
    _Layout("config.json", "model.safetensors", "tokenizer.json", "embeddings"),
    _Layout(
        "config_sentence_transformers.json",
        "model.safetensors",
        "tokenizer.json",
        "embedding.weight",
    ),
    _Layout(
        "config_sentence_transformers.json",
        "0_StaticEmbedding/model.safetensors",
        "0_StaticEmbedding/tokenizer.json",
        "embedding.weight",
    ),
)


@dataclass
class _StaticState:
    tokenizer: Any  # tokenizers.Tokenizer
    embeddings: np.ndarray  # (rows, dim), stored dtype (often float16)
    weights: np.ndarray | None  # per-token-id scale (vocabulary-quantized models)
    mapping: np.ndarray | None  # token id -> embeddings row (vocabulary-quantized models)
    config: dict[str, Any]
    normalize: bool
    max_length: int | None
    max_chars: int | None  # texts are cut to this many characters before tokenizing
    unk_id: int | None
    word_ids: WordPieceIds  # the tokenizer's ids, faster on ASCII text
    _table32: np.ndarray | None = None

    def table32(self) -> np.ndarray:
        """The rows in float32, made once: a sparse product would upcast float16 every call."""
        if self._table32 is None:
            self._table32 = np.ascontiguousarray(self.embeddings, dtype=np.float32)
        return self._table32


class StaticEmbedder(Embedder):
    """A model2vec static model: tokenize, look up each subword's row, mean, maybe normalise.

    Follows ``StaticModel.encode``: no special tokens, unknown tokens dropped, texts cut to
    ``max_length`` tokens (and first to ``max_length`` x median token length characters), rows
    scaled by per-token weights when the model has them. Vectors are computed in float32, so
    they agree with model2vec's (often float16) output to its precision.
    """

    method = "static"
    options = declare(Option("model", check=path_text))  # the folder; fixed: it is the weights

    def __init__(self, model: str) -> None:
        super().__init__(model=model)
        self._state: _StaticState | None = None

    @property
    def folder(self) -> Path:
        return Path(self.params["model"])

    def _loaded(self) -> _StaticState:
        # Lazy, so a saved model is rebuilt without touching the folder it came from.
        if self._state is None:
            self._state = _load_static(self.folder)
        return self._state

    @property
    def tokenizer(self) -> Any:
        """The subword tokenizer (``tokenizers.Tokenizer``), e.g. to decode token-id input."""
        return self._loaded().tokenizer

    @property
    def dim(self) -> int:
        return int(self._loaded().embeddings.shape[1])

    @property
    def normalize(self) -> bool:
        return self._loaded().normalize

    def _encoding(self, text: str) -> Any:
        """The tokenizer's full encoding of one text (tokens, offsets), for the walkthrough."""
        state = self._loaded()
        if state.max_chars is not None:
            text = text[: state.max_chars]
        return state.tokenizer.encode(text, add_special_tokens=False)

    def _ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's known subword ids (what model2vec averages); the tokens' strings and
        offsets, which only the walkthrough needs, are not made."""
        state = self._loaded()
        if state.max_chars is not None:
            texts = [text[: state.max_chars] for text in texts]
        return [self._known(ids) for ids in state.word_ids.ids(texts)]

    def _known(self, ids: Iterable[int]) -> list[int]:
        unk = self._loaded().unk_id
        return [i for i in ids if i != unk]

    def _rows(self, ids: list[int]) -> np.ndarray:
        """The float32 vector of each token id, as the model uses it (remapped, weighted)."""
        state = self._loaded()
        index = state.mapping[ids] if state.mapping is not None else ids
        rows = state.embeddings[index].astype(np.float32)
        if state.weights is not None:
            rows *= state.weights[ids].astype(np.float32)[:, None]
        return rows

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        state = self._loaded()
        flat = Flat.of(self._ids(texts))
        lengths = flat.lengths
        values = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
        if state.weights is not None:
            values *= state.weights[flat.ids].astype(np.float32)
        rows = flat.ids if state.mapping is None else state.mapping[flat.ids]
        out = weighted_bags(state.table32(), rows, flat.starts, values)  # a text without ids: 0
        return l2_normalize(out) if state.normalize else out

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Subword tokens (no special tokens, unknowns dropped), their rows, and the mean."""
        (text,) = check_texts([text])
        state = self._loaded()
        encoding = self._encoding(text)
        keep = [k for k, i in enumerate(encoding.ids) if i != state.unk_id]
        ids = [encoding.ids[k] for k in keep]
        notes = []
        if len(keep) < len(encoding.ids):
            notes.append(f"{len(encoding.ids) - len(keep)} unknown token(s) dropped")
        if state.max_length is not None and len(encoding.overflowing) > 0:
            notes.append(f"truncated to {state.max_length} tokens")
        elif state.max_chars is not None and len(text) > state.max_chars:
            notes.append(f"cut to the first {state.max_chars} characters before tokenizing")
        if not ids:
            notes.append("no known token: the vector is all zeros")
        lookup = self._rows(ids) if ids else np.zeros((0, self.dim), dtype=np.float32)
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=[encoding.tokens[k] for k in keep],
            ids=ids,
            lookup=lookup,
            vector=self._embed_batch([text])[0],
            pooling="mean" + (" + l2-normalise" if state.normalize else ""),
            offsets=[tuple(encoding.offsets[k]) for k in keep],
            contextual=None,
            notes=notes,
        )

    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Write a model2vec-layout folder (safetensors + JSON) that model2vec can load too."""
        from safetensors.numpy import save_file

        state = self._loaded()
        target = folder / STATIC_SUBFOLDER
        target.mkdir()
        tensors = {"embeddings": np.ascontiguousarray(state.embeddings)}
        if state.weights is not None:
            tensors["weights"] = np.ascontiguousarray(state.weights)
        if state.mapping is not None:
            tensors["mapping"] = np.ascontiguousarray(state.mapping)
        save_file(tensors, str(target / "model.safetensors"))
        source = _find_layout(self.folder)
        shutil.copyfile(self.folder / source.tokenizer, target / "tokenizer.json")
        config = {**state.config, "normalize": state.normalize, "max_length": state.max_length}
        (target / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        return {"weights": STATIC_SUBFOLDER, "source_model": self.params["model"]}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        model = folder / meta.get("weights", STATIC_SUBFOLDER)
        self.params["model"] = str(model)
        self._state = None
        self._loaded()  # read now, so a damaged folder fails at load time


def _find_layout(folder: Path) -> _Layout:
    if not folder.is_dir():
        raise UnknownModelError(
            f"no model folder at {folder}",
            "check the path, or use the catalogue model 'static-minilm'",
        )
    for layout in _LAYOUTS:
        if all(
            (folder / f).is_file() for f in (layout.config, layout.embeddings, layout.tokenizer)
        ):
            return layout
    raise ModelFormatError(
        f"{folder} is not a model2vec folder (it needs config.json, model.safetensors and "
        "tokenizer.json)",
        "pass a folder written by model2vec's save_pretrained()",
    )


def _load_static(folder: Path) -> _StaticState:
    """Read a model2vec folder: the vectors, the tokenizer and the few settings that matter."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    layout = _find_layout(folder)
    try:
        config = json.loads((folder / layout.config).read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(folder / layout.tokenizer))
        with safe_open(str(folder / layout.embeddings), framework="numpy") as tensors:
            names = set(tensors.keys())
            embeddings = tensors.get_tensor(layout.tensor) if layout.tensor in names else None
            weights = tensors.get_tensor("weights") if "weights" in names else None
            mapping = tensors.get_tensor("mapping") if "mapping" in names else None
    except Exception as exc:  # tokenizers and safetensors raise bare Exception subclasses
        raise ModelFormatError(
            f"cannot read the static model in {folder} ({exc})", "re-save the model folder"
        ) from None
    if embeddings is None:
        raise ModelFormatError(
            f"{folder / layout.embeddings} has no {layout.tensor!r} tensor",
            "the file is not a model2vec model; re-save it with model2vec",
        )

    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    if mapping is None and len(vocab) != len(embeddings):
        raise ModelFormatError(
            f"{folder}: the tokenizer has {len(vocab)} tokens but there are {len(embeddings)} vectors",
            "the tokenizer and model.safetensors belong to different models",
        )
    # Same settings as StaticModel: no padding, truncation at max_length tokens, and texts first
    # cut to max_length x median token length characters (a cheap guard against huge inputs).
    padding = tokenizer.padding
    if padding is not None:
        tokenizer.enable_padding(
            pad_id=padding["pad_id"],
            pad_token=padding["pad_token"],
            pad_type_id=padding["pad_type_id"],
            length=0,
        )
    max_length = config.get("max_length", DEFAULT_MAX_LENGTH)
    if max_length is None:
        tokenizer.no_truncation()
        max_chars = None
    else:
        tokenizer.enable_truncation(max_length)
        max_chars = max_length * int(np.median([len(token) for token, _ in vocab]))
    return _StaticState(
        tokenizer=tokenizer,
        embeddings=embeddings,
        weights=weights,
        mapping=mapping,
        config=config,
        normalize=bool(config.get("normalize", False)),
        max_length=max_length,
        max_chars=max_chars,
        unk_id=_unk_id(tokenizer),
        word_ids=WordPieceIds(tokenizer),
    )


def _unk_id(tokenizer: Any) -> int | None:
    """The unknown token's id, which model2vec drops from every text."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):  # WordPiece, BPE, WordLevel
        return None if model.unk_token is None else tokenizer.token_to_id(model.unk_token)
    return json.loads(tokenizer.to_str())["model"].get("unk_id")  # Unigram
