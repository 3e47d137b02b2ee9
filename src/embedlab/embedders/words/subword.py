"""fastText's character n-grams: how a word outside the vocabulary still gets a vector.

A word's vector is the mean of its character n-grams' vectors (``<ru``, ``run``, ``uni``, ...),
each n-gram hashed into one of ``bucket`` rows, so a misspelling shares most rows with the real
word. The hashing is fastText's own (FNV-1a over UTF-8 bytes, bytes read as signed chars),
reproduced here so vectors are built without importing gensim.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedlab.embedders.words.vectors import WordVectors
from embedlab.errors import InputError

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_MASK = 0xFFFFFFFF


def ft_hash(data: bytes) -> int:
    """fastText's FNV-1a hash; bytes above 127 are sign-extended as in the C++ code."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ ((byte - 256) & _MASK if byte > 127 else byte)) * _FNV_PRIME) & _MASK
    return h


def char_ngrams(word: str, min_n: int, max_n: int) -> list[bytes]:
    """The UTF-8 character n-grams of ``<word>`` of length min_n..max_n (fastText's rule).

    Lengths count characters, not bytes; the lone boundary markers ``<`` and ``>`` are left out.
    """
    data = f"<{word}>".encode()
    size = len(data)
    out = []
    for i in range(size):
        if data[i] & 0xC0 == 0x80:  # continuation byte: not the start of a character
            continue
        j, n = i, 1
        while j < size and n <= max_n:
            j += 1
            while j < size and data[j] & 0xC0 == 0x80:
                j += 1
            if n >= min_n and not (n == 1 and (i == 0 or j == size)):
                out.append(data[i:j])
            n += 1
    return out


def ngram_buckets(word: str, min_n: int, max_n: int, bucket: int) -> list[int]:
    """The rows of ``word``'s n-grams in a table of ``bucket`` rows."""
    return [ft_hash(gram) % bucket for gram in char_ngrams(word, min_n, max_n)]


class SubwordVectors(WordVectors):
    """Word vectors plus fastText n-gram vectors: unknown words get the mean of their n-grams.

    ``kv["runing"]`` works although "runing" was never seen; ``"runing" in kv`` stays False
    (it asks about the vocabulary), while ``kv.has_vector("runing")`` is True.
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        ngram_vectors: np.ndarray,
        min_n: int,
        max_n: int,
        counts: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        super().__init__(words, vectors, counts)
        if ngram_vectors.ndim != 2 or ngram_vectors.shape[1] != self.dim:
            raise InputError(
                f"n-gram vectors of shape {ngram_vectors.shape} for {self.dim}-dim word vectors",
                "pass a (bucket, dim) array",
            )
        if not 1 <= min_n <= max_n:
            raise InputError(f"bad n-gram lengths {min_n}..{max_n}", "use e.g. min_n=3, max_n=6")
        self.ngram_vectors = ngram_vectors.astype(np.float32, copy=False)
        self.min_n = int(min_n)
        self.max_n = int(max_n)

    @property
    def bucket(self) -> int:
        return int(self.ngram_vectors.shape[0])

    def oov_vector(self, word: str) -> np.ndarray | None:
        if self.bucket == 0 or not word:
            return None
        rows = ngram_buckets(word, self.min_n, self.max_n, self.bucket)
        if not rows:
            return None
        return self.ngram_vectors[rows].mean(axis=0, dtype=np.float32).astype(np.float32)
