"""Word-level contextual vectors: subwords merged back into words, and one word across contexts.

A transformer sees subwords ("embeddings" may be "em ##bed ##ding ##s"), but people ask about
words. A word's vector here is the mean of its subwords' vectors, the usual choice (Bommasani et
al., 2020 found mean pooling of subwords as good as any). :func:`compare_contexts` shows the
point of contextual embeddings: the same word gets a different vector in each sentence, and how
far apart those vectors are, layer by layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.embedders.base import TokenEmbeddings, check_texts
from embedlab.errors import InputError

if TYPE_CHECKING:
    from embedlab.embedders.transformers.embedder import TransformerEmbedder
    from embedlab.embedders.transformers.layers import LayerSpec


@dataclass
class WordEmbeddings:
    """The words of one text with their character spans, subword positions and vectors."""

    text: str
    model: str
    words: list[str]
    spans: list[tuple[int, int]]
    token_indices: list[list[int]]
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.words)

    def vector(self, word: str) -> np.ndarray:
        """The vector of the first occurrence of ``word`` (case-insensitive)."""
        for candidate, vector in zip(self.words, self.vectors, strict=True):
            if candidate.lower() == word.lower():
                return vector
        raise InputError(
            f"{word!r} is not a word of {self.text!r}",
            f"the words are: {', '.join(self.words)}",
        )


def merge_subwords(walk: TokenEmbeddings, word_ids: list[int | None] | None) -> WordEmbeddings:
    """Average the contextual vectors of each word's subwords.

    ``word_ids`` (from a fast tokenizer: the word each token belongs to, None for special
    tokens) decides the grouping; without it, tokens whose character spans touch are joined.
    """
    if walk.contextual is None or walk.offsets is None:
        raise InputError(
            f"{walk.model} gives no contextual vectors with character offsets",
            "use a transformer model with a fast tokenizer (tokenizer.json)",
        )
    groups: list[list[int]] = []
    previous: Any = object()
    for i, (start, end) in enumerate(walk.offsets):
        word = word_ids[i] if word_ids is not None else None
        if end <= start or (word_ids is not None and word is None):
            previous = object()
            continue  # a special token ([CLS], <s>, ...): no text of its own
        if word_ids is not None:
            joined = word == previous
        else:
            joined = bool(groups) and walk.offsets[groups[-1][-1]][1] == start
        if joined:
            groups[-1].append(i)
        else:
            groups.append([i])
        previous = word
    spans = [(walk.offsets[g[0]][0], walk.offsets[g[-1]][1]) for g in groups]
    words = [walk.text[a:b].strip() for a, b in spans]
    vectors = np.stack([walk.contextual[g].mean(axis=0) for g in groups]).astype(np.float32)
    return WordEmbeddings(walk.text, walk.model, words, spans, groups, vectors)


def find_word(text: str, word: str) -> list[tuple[int, int]]:
    """Character spans of ``word`` in ``text`` as a whole word (or phrase), ignoring case."""
    if not word.strip():
        raise InputError("the word to look for is empty", "pass a word such as 'bank'")
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, word.split())) + r"(?!\w)"
    return [m.span() for m in re.finditer(pattern, text, flags=re.IGNORECASE)]


@dataclass
class WordInContext:
    """One occurrence of the word: its text, span, subword tokens and vector at every layer."""

    text: str
    span: tuple[int, int]
    tokens: list[str]
    vector: np.ndarray
    layer_vectors: np.ndarray
    lookup: np.ndarray
    occurrences: int = 1


@dataclass
class ContextComparison:
    """How one word's vectors differ across texts: at the chosen layer and layer by layer."""

    word: str
    model: str
    layer: str
    contexts: list[WordInContext]
    similarity: np.ndarray
    layer_similarity: np.ndarray
    lookup_similarity: float
    notes: list[str] = field(default_factory=list)

    def most_different(self) -> tuple[int, int, float]:
        """(i, j, cosine) of the two contexts whose vectors differ most."""
        n = len(self.contexts)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        i, j = min(pairs, key=lambda p: self.similarity[p])
        return i, j, float(self.similarity[i, j])

    def to_dict(self) -> dict[str, Any]:
        return {
            "word": self.word,
            "model": self.model,
            "layer": self.layer,
            "contexts": [
                {"text": c.text, "span": list(c.span), "tokens": c.tokens} for c in self.contexts
            ],
            "cosine_similarity": self.similarity.round(6).tolist(),
            "cosine_distance": (1 - self.similarity).round(6).tolist(),
            "mean_cosine_by_layer": self.layer_similarity.round(6).tolist(),
            "lookup_cosine": round(self.lookup_similarity, 6),
            "notes": self.notes,
        }


def compare_contexts(
    model: TransformerEmbedder, word: str, texts: list[str], *, layer: LayerSpec = None
) -> ContextComparison:
    """The vectors of ``word`` in each of ``texts`` and their cosine similarities.

    ``layer`` as in ``embed_tokens``; ``layer_similarity[k]`` is the mean pairwise cosine at
    hidden state k (0 = the embedding layer), which shows where context pulls them apart.
    """
    texts = check_texts(texts)
    if len(texts) < 2:
        raise InputError("comparing contexts needs at least two texts", "pass two or more texts")
    if not hasattr(model, "hidden_states"):
        raise InputError(
            f"{model.name} is a {model.method} model, which gives a word the same vector in "
            "every context",
            "use a contextual (transformer) model such as 'minilm'",
        )
    found = [find_word(text, word) for text in texts]  # check every text before any model work
    for n, (text, spans) in enumerate(zip(texts, found, strict=True), start=1):
        if not spans:
            raise InputError(
                f"{word!r} does not occur in text {n} ({text!r})",
                "every text must contain the word; matching ignores case and needs whole words",
            )
    contexts = []
    notes = []
    label = ""
    for n, (text, spans) in enumerate(zip(texts, found, strict=True), start=1):
        walk = model.embed_tokens(text, layer=layer)
        label = next((note for note in walk.notes if note.startswith("contextual")), "last layer")
        index = _tokens_in_span(walk, spans[0])
        if not index:
            raise InputError(
                f"{word!r} in text {n} lies beyond the {len(walk)} tokens the model reads",
                "shorten the text, or move the word nearer its start",
            )
        states = model.hidden_states(text)
        contexts.append(
            WordInContext(
                text=text,
                span=spans[0],
                tokens=[walk.tokens[i] for i in index],
                vector=walk.contextual[index].mean(axis=0),  # type: ignore[index]
                layer_vectors=states[:, index].mean(axis=1),
                lookup=walk.lookup[index].mean(axis=0),
                occurrences=len(spans),
            )
        )
        if len(spans) > 1:
            notes.append(f"text {n} has {word!r} {len(spans)} times; the first is compared")
    vectors = np.stack([c.vector for c in contexts])
    similarity = _cosine_matrix(vectors)
    upper = np.triu_indices(len(contexts), k=1)
    by_layer = np.stack([c.layer_vectors for c in contexts], axis=1)  # (states, texts, dim)
    layer_similarity = np.array([_cosine_matrix(v)[upper].mean() for v in by_layer])
    lookup = _cosine_matrix(np.stack([c.lookup for c in contexts]))[upper].mean()
    return ContextComparison(
        word, model.name, label, contexts, similarity, layer_similarity, float(lookup), notes
    )


def _tokens_in_span(walk: TokenEmbeddings, span: tuple[int, int]) -> list[int]:
    start, end = span
    return [
        i
        for i, (a, b) in enumerate(walk.offsets or [])
        if b > a and a < end and b > start  # overlaps (byte-level tokens carry their space)
    ]


def _cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms == 0, 1, norms)
    return np.clip(unit @ unit.T, -1.0, 1.0)
