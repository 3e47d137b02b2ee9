"""embedlab: every way of turning text into vectors behind one API, and what to do with them.

>>> import embedlab
>>> model = embedlab.load("minilm")
>>> model.embed(["I love programming."]).shape
(1, 384)
"""

from __future__ import annotations

import os

# Nothing is ever fetched from a model hub: weights come from installed packages or local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"

from embedlab.embedders.base import Embedder, TokenEmbeddings  # noqa: E402
from embedlab.embedders.registry import load, methods, register  # noqa: E402
from embedlab.errors import EmbedlabError  # noqa: E402

__all__ = [
    "Embedder",
    "EmbedlabError",
    "TokenEmbeddings",
    "load",
    "methods",
    "register",
    "__version__",
]
