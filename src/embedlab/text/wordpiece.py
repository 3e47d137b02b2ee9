"""Subword ids of BERT-style WordPiece tokenizers, with the words' ids remembered.

Why: the static model spends most of its time in the tokenizer (26 of 37 µs a sentence through
``Tokenizer.encode_batch_fast``), not in its lookups. A BERT tokenizer (``BertNormalizer``,
``BertPreTokenizer``, ``WordPiece``) splits a text into words and punctuation marks and cuts each
word into subwords on its own, so the ids of a word never depend on its neighbours. For ASCII
text the normaliser and the pre-tokeniser reduce to lowercasing and one regular expression; each
word's ids then come from a dictionary filled by the real tokenizer, which is several times
faster than tokenising the text again. Anything the shortcut does not cover exactly (non-ASCII
characters, control characters, added tokens such as ``[MASK]`` in the text, other tokenizer
types) goes to the real tokenizer, so the ids are always the tokenizer's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

MAX_CACHED_WORDS = 1 << 18  # the cache is emptied when it grows past this (~30 MB)

# Characters BertNormalizer's clean_text removes (ASCII controls other than tab, LF and CR) or
# that Python's \s counts as space and BERT does not: such texts take the real tokenizer.
_ODD_ASCII = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class WordPieceIds:
    """``ids(texts)`` equals ``[e.ids for e in tokenizer.encode_batch_fast(texts,
    add_special_tokens=False)]`` for the tokenizer given, with its truncation; faster on ASCII.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        spec = json.loads(tokenizer.to_str())
        self._words = _word_pattern(spec)
        added = [t["content"] for t in spec.get("added_tokens") or [] if t.get("content")]
        self._added = (
            re.compile("|".join(re.escape(t) for t in added), re.IGNORECASE) if added else None
        )
        self._cache: dict[str, list[int]] = {}
        # A copy that never truncates or pads, for single words: the text's cut comes after.
        self._whole = type(tokenizer).from_str(tokenizer.to_str())
        self._whole.no_truncation()
        self._whole.no_padding()

    @property
    def exact_shortcut(self) -> bool:
        """Whether this tokenizer is one the ASCII shortcut reproduces (else all texts go to it)."""
        return self._words is not None

    @staticmethod
    def _cut(ids: list[int], truncation: dict[str, Any] | None) -> list[int]:
        if truncation is None or len(ids) <= truncation["max_length"]:
            return ids
        keep = truncation["max_length"]
        return ids[-keep:] if truncation.get("direction") == "Left" else ids[:keep]

    def _word_ids(self, word: str) -> list[int]:
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) >= MAX_CACHED_WORDS:
                self._cache.clear()
            found = self._whole.encode(word, add_special_tokens=False).ids
            self._cache[word] = found
        return found

    def ids(self, texts: Sequence[str], *, truncate: bool = True) -> list[list[int]]:
        """Each text's subword ids, no special tokens, truncated as the tokenizer is set to
        (or not at all with ``truncate=False``)."""
        out: list[list[int] | None] = []
        others: list[int] = []
        words, added, cache = self._words, self._added, self._cache
        # Read now: the caller may change the tokenizer's truncation between calls.
        truncation = self.tokenizer.truncation if truncate else None
        tokenizer = self.tokenizer if truncate else self._whole
        for k, text in enumerate(texts):
            if (
                words is None
                or not text.isascii()
                or _ODD_ASCII.search(text)
                or (added is not None and added.search(text))
            ):
                out.append(None)
                others.append(k)
                continue
            ids: list[int] = []
            for word in words.findall(text.lower()):
                found = cache.get(word)
                ids += found if found is not None else self._word_ids(word)
            out.append(self._cut(ids, truncation))
        if others:
            encodings = tokenizer.encode_batch_fast(
                [texts[k] for k in others], add_special_tokens=False
            )
            for k, encoding in zip(others, encodings, strict=True):
                out[k] = encoding.ids
        return out  # type: ignore[return-value]  # every None was filled just above


def _word_pattern(spec: dict[str, Any]) -> re.Pattern[str] | None:
    """The words and marks BertPreTokenizer finds in lowercased ASCII text, or None when the
    tokenizer is not a lowercasing BERT WordPiece one (then the shortcut is off)."""
    normalizer = spec.get("normalizer") or {}
    pre = spec.get("pre_tokenizer") or {}
    model = spec.get("model") or {}
    if (
        normalizer.get("type") != "BertNormalizer"
        or not normalizer.get("lowercase", False)
        or pre.get("type") != "BertPreTokenizer"
        or model.get("type") != "WordPiece"
    ):
        return None
    # Every printable ASCII character that is not a letter, digit or space is punctuation to
    # BERT, and each one is a word of its own.
    return re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
