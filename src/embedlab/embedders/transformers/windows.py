"""Sliding windows: a text longer than the model takes, as overlapping pieces cut between words.

Why: ``sliding_window`` embeds every part of a long text (the windows' vectors are averaged)
instead of dropping what is past ``max_length``.
"""

from __future__ import annotations

from typing import Any


def window_texts(tokenizer: Any, texts: list[str], size: int, stride: int) -> list[list[str]]:
    """Each text as itself if it fits ``size`` tokens (no special tokens), else its windows.

    ``tokenizer`` is a fast Hugging Face tokenizer (it must give character offsets and word ids);
    the caller quiets its "longer than the maximum" warning, which is the point here.
    """
    encoded = tokenizer(
        texts, add_special_tokens=False, return_offsets_mapping=True, truncation=False
    )
    out = []
    for i, text in enumerate(texts):
        offsets = encoded["offset_mapping"][i]
        if len(offsets) <= size:
            out.append([text])
            continue
        words = encoded.word_ids(i)
        out.append([text[offsets[a][0] : offsets[b - 1][1]] for a, b in spans(words, size, stride)])
    return out


def spans(word_ids: list[int | None], size: int, stride: int) -> list[tuple[int, int]]:
    """Token windows ``[start, end)`` of at most ``size``, ``stride`` apart, cut between words."""
    n = len(word_ids)

    def word_start(i: int) -> bool:
        return i <= 0 or i >= n or word_ids[i] is None or word_ids[i] != word_ids[i - 1]

    out = []
    start = 0
    while True:
        end = min(start + size, n)
        if end < n:
            cut = end
            while cut > start + 1 and not word_start(cut):
                cut -= 1
            end = cut if word_start(cut) else end  # one word longer than a window: cut it
        out.append((start, end))
        if end >= n:
            return out
        nxt = min(start + stride, end)
        while nxt > start + 1 and not word_start(nxt):
            nxt -= 1
        start = max(nxt, start + 1)
