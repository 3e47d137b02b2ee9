"""embedlab: every way of turning text into vectors behind one API, and what to do with them.

>>> import embedlab
>>> model = embedlab.load("minilm")
>>> model.embed(["I love programming."]).shape
(1, 384)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Nothing is ever fetched from a model hub: weights come from installed packages or local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"

from embedlab.embedders.base import Embedder, TokenEmbeddings  # noqa: E402
from embedlab.embedders.registry import load, methods, register  # noqa: E402
from embedlab.errors import EmbedlabError  # noqa: E402

if TYPE_CHECKING:
    from embedlab.store import Collection, create_collection, open_collection

# Re-exported on first use (module __getattr__), so `import embedlab` loads only what load()
# needs and the store, with its backends, is imported by those who use it.
_LAZY = {
    "Collection": "embedlab.store",
    "create_collection": "embedlab.store",
    "open_collection": "embedlab.store",
}

__all__ = [
    "Collection",
    "Embedder",
    "EmbedlabError",
    "TokenEmbeddings",
    "create_collection",
    "load",
    "methods",
    "open_collection",
    "register",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a lazily re-exported name (``embedlab.Collection``) on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embedlab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
