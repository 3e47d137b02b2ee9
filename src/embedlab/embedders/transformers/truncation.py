"""Telling the user, once per ``embed`` call, that texts were cut at the model's token limit.

Why: truncation silently drops the end of a long text, and a search over such vectors misses
what was there; one warning per call says how many texts and what keeps them whole.
"""

from __future__ import annotations

import warnings

from embedlab.errors import TruncationWarning

SLIDING_WINDOW_HINT = (
    "pass sliding_window=True (e.g. embedlab.load(name, sliding_window=True)) to embed every "
    "part of long texts as overlapping windows"
)


def warn_truncated(cut: int, total: int, limit: int, hint: str, *, stacklevel: int = 4) -> None:
    """Warn (:class:`~embedlab.errors.TruncationWarning`) that ``cut`` of ``total`` texts were
    cut to ``limit`` tokens; nothing when none were. ``stacklevel`` 4 points at the caller of
    ``Embedder.embed`` when called from an embedder's ``_embed_all``."""
    if cut:
        warnings.warn(TruncationWarning(cut, total, limit, hint), stacklevel=stacklevel)
