"""Contextuality: how much a word's vector changes with its context (after Ethayarajh, EMNLP 2019).

- self-similarity: mean cosine between vectors of the same word in different sentences
  (1.0 for any static model: the word has one vector);
- intra-sentence similarity: mean cosine between a sentence's word vectors and their mean;
- anisotropy: mean cosine between vectors of different words, the baseline that the adjusted
  self-similarity subtracts (contextual models put all vectors in a narrow cone).

Word vectors come from ``embed_tokens``: the contextual vectors where the model has them, else the
lookup vectors; sub-word tokens of one word are averaged using their character offsets.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings, l2_normalize
from embedlab.errors import InputError
from embedlab.eval.base import Task
from embedlab.eval.datasets import sts_benchmark
from embedlab.text.readers import read_texts

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "your",
        "not",
        "no",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "into",
        "over",
        "after",
        "before",
        "than",
        "then",
        "so",
        "if",
    ]
)
WORD = re.compile(r"[a-z]+")


def word_vector(walk: TokenEmbeddings, start: int, end: int, word: str) -> np.ndarray | None:
    """The mean of the token vectors covering ``text[start:end]`` (by offsets, else by token text)."""
    vectors = walk.contextual if walk.contextual is not None else walk.lookup
    if walk.offsets:
        rows = [i for i, (s, e) in enumerate(walk.offsets) if e > s and s < end and e > start]
    else:
        rows = [i for i, token in enumerate(walk.tokens) if token.lower() == word]
    rows = [i for i in rows if np.any(vectors[i])]
    return vectors[rows].mean(axis=0) if rows else None


def _mean_pairwise_cosine(vectors: np.ndarray) -> float:
    unit = l2_normalize(vectors)
    sims = unit @ unit.T
    n = len(unit)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


class Contextuality(Task):
    """Self-similarity of frequent STS-B words across their sentences (main score; 1 = static)."""

    name: ClassVar[str] = "contextuality"
    main_score: ClassVar[str] = "self_similarity"

    def __init__(self, *args: Any, words: int = 30, contexts: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_words = words
        self.n_contexts = contexts

    def load(self) -> list[str]:
        if self.data is not None:
            return list(
                dict.fromkeys(read_texts(self.data, field=self.text_field, skip_empty=True))
            )

        return list(dict.fromkeys(s for a, b, _ in sts_benchmark("test") for s in (a, b)))

    def contexts(self, sentences: list[str]) -> dict[str, list[tuple[int, int, int]]]:
        """For the most frequent content words: (sentence index, start, end) of each occurrence."""
        found: dict[str, list[tuple[int, int, int]]] = {}
        for index, sentence in enumerate(sentences):
            seen = set()
            for match in WORD.finditer(sentence.lower()):
                word = match.group()
                if word in STOPWORDS or len(word) < 3 or word in seen:
                    continue
                seen.add(word)
                found.setdefault(word, []).append((index, *match.span()))
        counts = Counter({w: len(v) for w, v in found.items() if len(v) >= self.n_contexts})
        chosen = sorted(counts, key=lambda w: (-counts[w], w))[: self.limit or self.n_words]
        return {w: found[w][: self.n_contexts] for w in chosen}

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        sentences = self.load()
        targets = self.contexts(sentences)
        needed = sorted({i for occ in targets.values() for i, _, _ in occ})
        if model.trainable and not model.is_fitted:
            model.fit([sentences[i] for i in needed])
        walks = {i: model.embed_tokens(sentences[i]) for i in needed}
        per_word: dict[str, float] = {}
        pooled: list[np.ndarray] = []
        for word, occurrences in targets.items():
            vectors = [word_vector(walks[i], s, e, word) for i, s, e in occurrences]
            kept = np.array([v for v in vectors if v is not None])
            if len(kept) >= 2:
                per_word[word] = _mean_pairwise_cosine(kept)
                pooled.append(kept)
        if not per_word:
            raise InputError(
                "no word had two or more usable contexts", "use more sentences or another model"
            )
        self_similarity = float(np.mean(list(per_word.values())))
        rng = np.random.default_rng(0)
        anisotropy = _random_pair_cosine(pooled, rng)
        intra = [_intra_sentence(walk) for walk in walks.values()]
        return (
            {
                "self_similarity": self_similarity,
                "self_similarity_adjusted": self_similarity - anisotropy,
                "intra_sentence_similarity": float(np.mean([v for v in intra if v is not None])),
                "anisotropy": anisotropy,
            },
            len(per_word),
            {"per_word": per_word, "sentences": len(needed)},
        )


def _random_pair_cosine(
    groups: list[np.ndarray], rng: np.random.Generator, pairs: int = 2000
) -> float:
    """Mean cosine of vectors of two different words drawn at random."""
    if len(groups) < 2:
        return 0.0
    sims = []
    for _ in range(pairs):
        g1, g2 = rng.choice(len(groups), size=2, replace=False)
        a = groups[g1][rng.integers(len(groups[g1]))]
        b = groups[g2][rng.integers(len(groups[g2]))]
        sims.append(float(l2_normalize(a[None])[0] @ l2_normalize(b[None])[0]))
    return float(np.mean(sims))


def _intra_sentence(walk: TokenEmbeddings) -> float | None:
    vectors = walk.contextual if walk.contextual is not None else walk.lookup
    if walk.offsets:
        rows = [i for i, (s, e) in enumerate(walk.offsets) if e > s]
    else:
        rows = list(range(len(walk.tokens)))
    rows = [i for i in rows if np.any(vectors[i])]
    if len(rows) < 2:
        return None
    unit = l2_normalize(vectors[rows])
    centre = l2_normalize(unit.mean(axis=0, keepdims=True))[0]
    return float(np.mean(unit @ centre))
