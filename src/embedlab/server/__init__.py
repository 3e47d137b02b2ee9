"""embedlab's HTTP server: an OpenAI-compatible embeddings API with batching, keys and jobs.

Kept apart from the library so that ``import embedlab`` never pulls in FastAPI: everything here is
imported only by ``embedlab serve`` or by code that builds the app itself::

    from embedlab.server import ServerConfig, create_app
    app = create_app(ServerConfig(models=["minilm"]))

Modules, one job each: ``config`` (settings), ``errors`` (OpenAI error shape), ``models`` (loading
embedders and their pre-/post-processing stages), ``batching`` (the dynamic batcher), ``auth``,
``limits``, ``metrics``, ``jobs`` (background file embedding), the routers ``openai_api``,
``tokenize_api``, ``ops_api`` and ``collections_api``, and ``app`` (the factory that wires them).
"""

from __future__ import annotations

from embedlab.server.app import create_app
from embedlab.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
