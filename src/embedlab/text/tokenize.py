"""Word-level tokenisation shared by the word-level embedders.

Words, numbers and single punctuation marks, with character offsets so the token walkthrough can
point back into the text. Subword tokenisation belongs to each transformer's own tokenizer.
"""

from __future__ import annotations

import re

WORD_PATTERN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


def word_tokens(text: str, *, lowercase: bool = True) -> list[tuple[str, tuple[int, int]]]:
    """Split ``text`` into ``(token, (start, end))`` pairs."""
    out = []
    for match in WORD_PATTERN.finditer(text):
        token = match.group()
        out.append((token.lower() if lowercase else token, match.span()))
    return out


def words(text: str, *, lowercase: bool = True) -> list[str]:
    """Just the tokens of :func:`word_tokens`."""
    return [token for token, _ in word_tokens(text, lowercase=lowercase)]
