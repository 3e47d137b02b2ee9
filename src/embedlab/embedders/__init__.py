"""Every embedding approach, one module or sub-package each; ``methods.py`` names them."""

from embedlab.embedders.base import Embedder, TokenEmbeddings

__all__ = ["Embedder", "TokenEmbeddings"]
