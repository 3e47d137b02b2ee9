"""Subword ids for the students: the teacher's tokenizer or one trained here, and id batches.

Why a module of its own: the DAN and the BiLSTM tokenise alike (no special tokens, cut at
``max_tokens``), the trainer tokenises a whole cached corpus once into one flat id array, and
the staged ``prepare``/``run`` of a server needs the ids as a sliceable object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import InputError, InputTooLongError, ModelFormatError
from embedlab.extras import require
from embedlab.text.wordpiece import WordPieceIds

UNKNOWN = "[UNK]"


def tokenizer_from_json(text: str, max_tokens: int) -> Any:
    """A ``tokenizers.Tokenizer`` from its JSON: no padding, truncation at ``max_tokens``."""
    tokenizers = require("tokenizers", "transformers")
    try:
        tokenizer = tokenizers.Tokenizer.from_str(text)
    except Exception as exc:  # tokenizers raises bare Exception subclasses
        raise ModelFormatError(f"cannot read the tokenizer ({exc})", "re-save the model") from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def tokenizer_from_folder(folder: Path, max_tokens: int) -> Any:
    """The tokenizer.json of a Hugging Face folder (a teacher's), ready for the students."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelFormatError(
            f"{folder} has no tokenizer.json, so its tokenizer cannot be shared",
            "train the student's own tokenizer instead (tokenizer='own')",
        )
    return tokenizer_from_json(path.read_text(encoding="utf-8"), max_tokens)


def train_tokenizer(texts: Iterable[str], vocab_size: int, max_tokens: int) -> Any:
    """A lowercasing WordPiece tokenizer trained on ``texts`` with ``tokenizers`` (seconds)."""
    require("tokenizers", "transformers")
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token=UNKNOWN))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=[UNKNOWN], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def tokenizer_json(tokenizer: Any) -> str:
    return str(tokenizer.to_str())


def unknown_id(tokenizer: Any) -> int:
    """The id given to an empty text (so every text has at least one id)."""
    model = json.loads(tokenizer.to_str())["model"]
    token = model.get("unk_token") or UNKNOWN
    found = tokenizer.token_to_id(token)
    return 0 if found is None else int(found)


def encode(word_ids: WordPieceIds, texts: Sequence[str], fallback: int) -> list[list[int]]:
    """Ids of each text without special tokens; an empty result becomes ``[fallback]``."""
    return [ids or [fallback] for ids in word_ids.ids(texts)]


@dataclass(frozen=True)
class Flat:
    """A batch of id lists as one flat array and offsets: ``ids[starts[i]:starts[i+1]]``."""

    ids: np.ndarray  # int64
    starts: np.ndarray  # (n + 1,) int64

    @staticmethod
    def of(rows: Sequence[Sequence[int]]) -> Flat:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        ids = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(starts[-1]))
        return Flat(ids, starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    def take(self, rows: np.ndarray) -> Flat:
        """The id lists of ``rows`` (any order), as a new Flat."""
        lengths = self.lengths[rows]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        index = np.repeat(self.starts[rows] - starts[:-1], lengths) + np.arange(starts[-1])
        return Flat(self.ids[index], starts)

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.starts[i] : self.starts[i + 1]]


def weighted_bags(
    table: np.ndarray, ids: np.ndarray, starts: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """``out[i] = sum(weights[k] * table[ids[k]] for k in starts[i]:starts[i+1])`` (weights 1
    if None; an empty bag is zeros), as one sparse-times-dense product: 12x faster than
    gathering the rows and ``np.add.reduceat`` over them, and no (items, dim) array is made."""
    from scipy.sparse import csr_matrix

    values = np.ones(len(ids), dtype=np.float32) if weights is None else weights
    bags = csr_matrix((values, ids, starts), shape=(len(starts) - 1, table.shape[0]))
    return np.asarray(bags @ table)


@dataclass(frozen=True)
class PreparedIds:
    """Texts after a student's ``prepare``: ids per text (a server queues, slices, merges these)."""

    rows: list[list[int]]

    @property
    def lengths(self) -> list[int]:
        return [len(r) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def slice(self, start: int, stop: int) -> PreparedIds:
        return PreparedIds(self.rows[start:stop])

    @staticmethod
    def concat(parts: Sequence[PreparedIds]) -> PreparedIds:
        return PreparedIds([r for part in parts for r in part.rows])


def prepare_ids(
    word_ids: WordPieceIds,
    texts: Sequence[str],
    fallback: int,
    max_tokens: int | None,
    truncate: bool,
    limit: int,
) -> PreparedIds:
    """Ids of ``texts`` cut at ``max_tokens`` (the server's limit, within the model's ``limit``)."""
    cut = limit if max_tokens is None else min(max_tokens, limit)
    rows = [ids or [fallback] for ids in word_ids.ids(texts, truncate=truncate)]
    for i, row in enumerate(rows):
        if len(row) > cut:
            if not truncate:
                raise InputTooLongError(i, len(row), cut)
            rows[i] = row[:cut]
    return PreparedIds(rows)


def check_vocab_size(vocab_size: int) -> None:
    if vocab_size < 100:
        raise InputError(
            f"vocab_size {vocab_size} is too small for a subword tokenizer", "use e.g. 30000"
        )
