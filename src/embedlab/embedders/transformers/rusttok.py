"""Tokenising straight on the Rust tokenizer, configured once, for the hot path of ``prepare``.

Why: Hugging Face's ``tokenizer(texts, truncation=True, max_length=n)`` reconfigures the Rust
tokenizer and converts every encoding through several Python layers on each call: about twice
the cost of the Rust work itself for a single sentence, which a server pays on every request
(profiled; the notes in bench/results/serve.md). Here each token limit gets its own copy of the Rust
tokenizer, truncation set once, and the ids are read off the encodings directly.

The result must be exactly the Hugging Face call's: it is compared once per limit on real
sentences, and a tokenizer where it is not (a slow tokenizer, Python-side pre-processing) keeps
the Hugging Face call.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("embedlab")

CHECK_TEXTS = [
    "A man is playing a guitar.",
    "Ünïcödé, accents and CAPITALS: naïve café façade!",
    "tokens,punctuation;and-hyphens... (brackets) [CLS] 12,345.67 e-mail@example.com",
    "   leading and trailing spaces   ",
    "a " * 600,  # longer than any limit: truncation
]
FEW_TEXTS = 8  # up to this many texts are encoded one by one (see _encode)
# the inputs this path gives (Hugging Face's names); a model that reads others keeps the HF call
_FIELDS = ("input_ids", "token_type_ids", "attention_mask")


class RustEncoder:
    """``encode(texts, limit)`` -> {input name: id lists}, as the Hugging Face call gives them,
    or None where this tokenizer must keep the Hugging Face call."""

    def __init__(self, tokenizer: Any, input_names: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.names = list(input_names)
        self.usable = (
            bool(getattr(tokenizer, "is_fast", False))
            and "input_ids" in self.names
            and all(name in _FIELDS for name in self.names)
        )
        self._by_limit: dict[int, Any] = {}  # limit -> configured copy, or None (unusable)
        self._lock = threading.Lock()  # building a copy; encoding needs none

    def encode(self, texts: list[str], limit: int) -> dict[str, list[list[int]]] | None:
        if not self.usable:
            return None
        backend = self._by_limit.get(limit, False)
        if backend is False:
            backend = self._build(limit)
        if backend is None:
            return None
        return self._features(_encode(backend, texts))

    def _features(self, encodings: list[Any]) -> dict[str, list[list[int]]]:
        ids = [e.ids for e in encodings]
        out = {"input_ids": ids}
        if "attention_mask" in self.names:  # unpadded: all ones (checked against the HF call)
            out["attention_mask"] = [[1] * len(row) for row in ids]
        if "token_type_ids" in self.names:
            out["token_type_ids"] = [e.type_ids for e in encodings]
        return {name: out[name] for name in self.names}

    def _build(self, limit: int) -> Any:
        with self._lock:
            if limit in self._by_limit:
                return self._by_limit[limit]
            backend = None
            try:
                from tokenizers import Tokenizer

                hf = self.tokenizer
                backend = Tokenizer.from_str(hf.backend_tokenizer.to_str())
                backend.no_padding()
                backend.enable_truncation(
                    limit, stride=0, strategy="longest_first", direction=hf.truncation_side
                )
                backend.encode_special_tokens = bool(getattr(hf, "split_special_tokens", False))
                if not self._same_as_hf(backend, limit):
                    log.info("tokenizer differs from its Rust backend; using the Python call")
                    backend = None
            except Exception as exc:  # any surprise: the Hugging Face call stays
                log.info("no direct Rust tokenizer (%s); using the Python call", exc)
                backend = None
            self._by_limit[limit] = backend
            return backend

    def _same_as_hf(self, backend: Any, limit: int) -> bool:
        hf = self.tokenizer(CHECK_TEXTS, truncation=True, max_length=limit)
        ours = self._features(_encode(backend, CHECK_TEXTS))
        batched = self._features(_encode(backend, CHECK_TEXTS * 2)[len(CHECK_TEXTS) :])
        return (
            list(ours) == self.names
            and ours == batched
            and all(ours[name] == list(hf[name]) for name in self.names)
        )


def _encode(backend: Any, texts: list[str]) -> list[Any]:
    """A few texts one by one, holding the GIL (``encode_batch`` lets it go and must take it
    back, which on a server's event loop means waiting for the compute thread: measured 25 us a
    sentence alone, 82 us beside a busy thread); many as one batch, which lets other threads run."""
    if len(texts) <= FEW_TEXTS:
        return [backend.encode(text, add_special_tokens=True) for text in texts]
    return backend.encode_batch(texts, add_special_tokens=True)
