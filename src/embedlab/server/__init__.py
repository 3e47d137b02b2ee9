"""embedlab's embeddings server: an OpenAI-compatible API with batching, keys, jobs, collections.

Kept apart from the library so that ``import embedlab`` never pulls in FastAPI::

    from embedlab.server import ServerConfig, create_app
    app = create_app(ServerConfig(models=["minilm"]))

Two layers, one way down:

- ``core/``: the served models and their stages (``served``), the dynamic batcher (``batcher``),
  background jobs (``jobs``), the batcher as an Embedder for library code (``proxy``), the open
  collections (``collections``) and ``metrics``. It raises embedlab's errors only
  (``core/errors.py``) and knows nothing of HTTP.
- ``http/``: the FastAPI app (``app``), the routers (``openai_api``, ``tokenize_api``,
  ``ops_api``, ``collections_api``, ``jobs_api``), error -> status in OpenAI's shape
  (``errors``), ``auth``, ``limits``, ``timeouts``, the metrics middleware and the hot-path
  ``fastpath``.

``config`` (the settings) is shared by both. Names here are re-exported lazily, so importing
``embedlab.server.core`` pulls in no web framework.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from embedlab.extras import require

if TYPE_CHECKING:
    from embedlab.server.config import ServerConfig
    from embedlab.server.http.app import create_app

_LAZY = {"ServerConfig": "embedlab.server.config", "create_app": "embedlab.server.http.app"}
__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embedlab.server' has no attribute {name!r}")
    if module.startswith("embedlab.server.http."):  # FastAPI and uvicorn: the [server] extra
        for package in ("fastapi", "uvicorn"):
            require(package, "server")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
