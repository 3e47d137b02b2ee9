"""Chunking documents for retrieval: by tokens, with overlap, along sentence and paragraph lines.

Chunks are packed from whole sentences, never cut mid-sentence unless one sentence alone is longer
than the budget, and a new paragraph starts a new chunk when the current one is already half
full, so a chunk tends to hold one idea. Each chunk keeps its character span in the source, so a
search hit can show the text around it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from embedlab.errors import InputError
from embedlab.text.tokenize import words

SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int
    index: int


def word_count(text: str) -> int:
    return len(words(text))


def sentences(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """``(sentence, start, end)`` of one paragraph, with absolute offsets."""
    out, position = [], 0
    for match in SENTENCE_END.finditer(text):
        piece = text[position : match.start()]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append((piece.strip(), offset + position + lead, offset + match.start()))
        position = match.end()
    tail = text[position:]
    if tail.strip():
        lead = len(tail) - len(tail.lstrip())
        out.append(
            (tail.strip(), offset + position + lead, offset + position + lead + len(tail.strip()))
        )
    return out


def _split_long(
    sentence: str, start: int, budget: int, count: Callable[[str], int]
) -> list[tuple[str, int, int]]:
    """A sentence over budget is cut at word boundaries (the only place a sentence is cut)."""
    pieces: list[tuple[str, int, int]] = []
    current: list[str] = []
    current_start = start
    for match in re.finditer(r"\S+", sentence):
        candidate = " ".join([*current, match.group()])
        if current and count(candidate) > budget:
            text = " ".join(current)
            pieces.append((text, current_start, current_start + len(text)))
            current, current_start = [], start + match.start()
        current.append(match.group())
    if current:
        text = " ".join(current)
        pieces.append((text, current_start, start + len(sentence)))
    return pieces


def chunk_text(
    text: str,
    *,
    max_tokens: int = 200,
    overlap: int = 40,
    count_tokens: Callable[[str], int] = word_count,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_tokens`` with about ``overlap`` tokens repeated."""
    if max_tokens < 8:
        raise InputError(f"max_tokens must be at least 8, got {max_tokens}", "use e.g. 200")
    if not 0 <= overlap < max_tokens // 2:
        raise InputError(
            f"overlap must be between 0 and half of max_tokens, got {overlap}", "use e.g. 40"
        )
    units: list[tuple[str, int, int, bool]] = []  # sentence, start, end, starts a paragraph
    position = 0
    for para in PARAGRAPH.split(text):
        at = text.find(para, position)
        position = at + len(para)
        for i, (sentence, start, end) in enumerate(sentences(para, at)):
            for j, piece in enumerate(
                _split_long(sentence, start, max_tokens, count_tokens)
                if count_tokens(sentence) > max_tokens
                else [(sentence, start, end)]
            ):
                units.append((*piece, i == 0 and j == 0))
    chunks: list[Chunk] = []
    current: list[tuple[str, int, int, int]] = []  # text, start, end, tokens

    def flush() -> None:
        if current:
            chunks.append(
                Chunk(
                    text[current[0][1] : current[-1][2]], current[0][1], current[-1][2], len(chunks)
                )
            )

    for sentence, start, end, new_paragraph in units:
        tokens = count_tokens(sentence)
        used = sum(t for *_, t in current)
        if current and (used + tokens > max_tokens or (new_paragraph and used >= max_tokens // 2)):
            flush()
            carried: list[tuple[str, int, int, int]] = []
            for unit in reversed(current):  # repeat the last sentences, up to `overlap` tokens
                if sum(t for *_, t in carried) + unit[3] > overlap or new_paragraph:
                    break
                carried.insert(0, unit)
            fits = sum(t for *_, t in carried) + tokens <= max_tokens
            current = carried if fits else []
        current.append((sentence, start, end, tokens))
    flush()
    return chunks
