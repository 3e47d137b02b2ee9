"""What the DAN and the BiLSTM students share: tokenizer, weights, stages, the saved folder.

A student is fitted when it has weights, which only a trainer gives it
(:mod:`embedlab.training.students`); its folder is ``embedlab.json`` (options and how it was
trained), ``model.safetensors`` (the weights under torch's own names, read with numpy) and
``tokenizer.json``. Nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embedlab.checks import flag, whole
from embedlab.embedders.base import Embedder, check_texts, l2_normalize
from embedlab.embedders.options import LOAD, Option
from embedlab.embedders.sentence.tokens import (
    Flat,
    PreparedIds,
    encode,
    prepare_ids,
    tokenizer_from_json,
    tokenizer_json,
    unknown_id,
)
from embedlab.errors import ModelFormatError
from embedlab.text.wordpiece import WordPieceIds

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"

STUDENT_OPTIONS = (
    Option("output_dim", 384, check=whole(1)),  # the teacher's dimension
    Option("max_tokens", 128, check=whole(1)),
    Option("normalize", True, when=LOAD, check=flag),
)


class StudentEmbedder(Embedder):
    """A student network over subword ids; subclasses give the forward pass and the torch net."""

    prepare_tokenizes: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._tokenizer: Any = None
        self._weights: dict[str, np.ndarray] = {}
        self._unknown = 0
        self._vocab_size = 0
        self.training: dict[str, Any] = {}

    # -- state -------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(self._weights)

    @property
    def dim(self) -> int:
        return int(self.params["output_dim"])

    @property
    def tokenizer(self) -> Any:
        """The subword tokenizer (``tokenizers.Tokenizer``)."""
        self._require_fitted()
        return self._tokenizer

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """The float32 weights under torch's names (read-only use)."""
        return self._weights

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    def set_state(
        self, tokenizer: Any, weights: dict[str, np.ndarray], training: dict[str, Any]
    ) -> None:
        """Give the student its tokenizer and weights (what a trainer or a checkpoint made)."""
        self._tokenizer = tokenizer
        self._word_ids = WordPieceIds(tokenizer)
        self._unknown = unknown_id(tokenizer)
        self._vocab_size = int(tokenizer.get_vocab_size())  # slow to ask: 14 ms a call
        self._weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
        self.training = dict(training)
        self._weights_changed()

    def _weights_changed(self) -> None:  # noqa: B027 (optional hook)
        """Drop what was derived from the weights (transposed matrices, a torch module)."""

    # -- embedding ---------------------------------------------------------------------------
    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Subword ids of each text (no special tokens; an empty one gets the unknown id)."""
        self._require_fitted()
        return encode(self._word_ids, texts, self._unknown)

    def _forward(self, flat: Flat) -> np.ndarray:
        """Vectors ``(len(flat), dim)`` of id lists, before the optional normalisation."""
        raise NotImplementedError

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self.finish(self._forward(Flat.of(self.ids(texts))))

    def prepare(
        self, texts: Sequence[str], *, max_tokens: int | None = None, truncate: bool = True
    ) -> PreparedIds:
        """Stage 1: subword ids, cut at ``max_tokens`` (within the model's own limit)."""
        self._require_fitted()
        limit = self.params["max_tokens"]
        return prepare_ids(self._word_ids, texts, self._unknown, max_tokens, truncate, limit)

    def run(
        self,
        prepared: Any,
        *,
        batch_size: int = 32,
        advance: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Stage 2: the vectors of prepared ids, in their order (normalised in ``finish``)."""
        self._require_fitted()
        rows = prepared.rows
        parts = []
        for start in range(0, len(rows), batch_size):
            part = rows[start : start + batch_size]
            parts.append(self._forward(Flat.of(part)))
            if advance is not None:
                advance(len(part))
        return np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32)

    def finish(self, vectors: np.ndarray) -> np.ndarray:
        return l2_normalize(vectors) if self.params["normalize"] else vectors

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _walk(
        self, text: str
    ) -> tuple[str, list[str], list[int], list[tuple[int, int]], list[str]]:
        """The token walkthrough's common part: text, tokens, ids, offsets, notes."""
        (text,) = check_texts([text])
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        notes = []
        if encoding.overflowing:
            notes.append(f"truncated to {self.params['max_tokens']} tokens")
        tokens, ids = list(encoding.tokens), list(encoding.ids)
        offsets: list[tuple[int, int]] = [(int(a), int(b)) for a, b in encoding.offsets]
        if not ids:
            notes.append("no token: the unknown token stands for the empty text")
            tokens, ids, offsets = ["[UNK]"], [self._unknown], [(0, 0)]
        return text, tokens, ids, offsets, notes

    # -- saving ------------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        from safetensors.numpy import save_file

        save_file(dict(self._weights), str(folder / WEIGHTS_FILE))
        (folder / TOKENIZER_FILE).write_text(tokenizer_json(self._tokenizer), encoding="utf-8")
        return {"weights": WEIGHTS_FILE, "tokenizer": TOKENIZER_FILE, "training": self.training}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.numpy import load_file  # a core dependency: no extra to require

        for name in (WEIGHTS_FILE, TOKENIZER_FILE):
            if not (folder / name).is_file():
                raise ModelFormatError(
                    f"{folder} has no {name}", "re-save the model; the folder is incomplete"
                )
        try:
            weights = load_file(str(folder / WEIGHTS_FILE))
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise ModelFormatError(
                f"cannot read {folder / WEIGHTS_FILE} ({exc})", "re-save the model"
            ) from None
        text = (folder / TOKENIZER_FILE).read_text(encoding="utf-8")
        tokenizer = tokenizer_from_json(text, self.params["max_tokens"])
        self.set_state(tokenizer, weights, meta.get("training", {}))
        self._check_shapes()

    def _check_shapes(self) -> None:  # noqa: B027 (optional hook)
        """Raise ModelFormatError when the weights do not fit the options."""
