"""embedlab: every way of turning text into vectors behind one API, and what to do with them.

>>> import embedlab
>>> model = embedlab.load("minilm")
>>> model.embed(["I love programming."]).shape
(1, 384)

Every public name is re-exported lazily (module ``__getattr__``): ``import embedlab`` imports
no heavy library and leaves the process environment as it was.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from embedlab._version import __version__

if TYPE_CHECKING:
    from embedlab.embedders.base import Embedder, TokenEmbeddings
    from embedlab.embedders.methods import methods, register
    from embedlab.errors import EmbedlabError
    from embedlab.loading import load
    from embedlab.store import Collection, create_collection, open_collection
    from embedlab.training.finetune import finetune

_LAZY = {
    "Collection": "embedlab.store",
    "create_collection": "embedlab.store",
    "open_collection": "embedlab.store",
    "Embedder": "embedlab.embedders.base",
    "TokenEmbeddings": "embedlab.embedders.base",
    "EmbedlabError": "embedlab.errors",
    "finetune": "embedlab.training.finetune",
    "load": "embedlab.loading",
    "methods": "embedlab.embedders.methods",
    "register": "embedlab.embedders.methods",
}

__all__ = [
    "Collection",
    "Embedder",
    "EmbedlabError",
    "TokenEmbeddings",
    "create_collection",
    "finetune",
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
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
