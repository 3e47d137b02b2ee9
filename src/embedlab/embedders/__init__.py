"""Every embedding approach, one module each; see registry.py for their names."""

from embedlab.embedders.base import Embedder, TokenEmbeddings

__all__ = ["Embedder", "TokenEmbeddings"]
