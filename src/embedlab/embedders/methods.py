"""Method names -> Embedder classes, and ``register()`` for plugins.

Methods are registered as import paths, so listing them imports nothing heavy and a new approach
is one line here (or one ``register`` call from a plugin). This module imports nothing of
embedlab above ``errors``: every other module may import it.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from embedlab.errors import UnknownModelError

if TYPE_CHECKING:
    from embedlab.embedders.base import Embedder

METHODS: dict[str, str] = {
    "onehot": "embedlab.embedders.sparse:OneHotEmbedder",
    "count": "embedlab.embedders.sparse:CountEmbedder",
    "tfidf": "embedlab.embedders.sparse:TfidfEmbedder",
    "transformer": "embedlab.embedders.transformers.embedder:TransformerEmbedder",
    "static": "embedlab.embedders.static:StaticEmbedder",
    "word-vectors": "embedlab.embedders.words.vectors:WordVectorEmbedder",
    "word2vec": "embedlab.embedders.words.word2vec:Word2VecEmbedder",
    "fasttext": "embedlab.embedders.words.word2vec:FastTextEmbedder",
    "doc2vec": "embedlab.embedders.words.doc2vec:Doc2VecEmbedder",
    "glove": "embedlab.embedders.words.glove:GloVeEmbedder",
    "hybrid": "embedlab.embedders.hybrid:HybridEmbedder",
    "debiased": "embedlab.embedders.debiased:DebiasedEmbedder",
    "remote": "embedlab.embedders.remote:RemoteEmbedder",
    "deepwalk": "embedlab.embedders.graph.embedder:DeepWalkEmbedder",
    "node2vec": "embedlab.embedders.graph.embedder:Node2VecEmbedder",
    "onnx-sentence": "embedlab.embedders.packaged.onnx_sentence:OnnxSentenceEmbedder",
    "e5": "embedlab.embedders.packaged.e5:E5Embedder",
    "voice": "embedlab.embedders.audio.voice:VoiceEmbedder",
    "mfcc": "embedlab.embedders.audio.mfcc:MfccEmbedder",
    "clip": "embedlab.embedders.image.clip:ClipEmbedder",
    "pixels": "embedlab.embedders.image.classic:PixelEmbedder",
    "hog": "embedlab.embedders.image.classic:HogEmbedder",
    "image-cnn": "embedlab.embedders.image.cnn:ImageCnnEmbedder",
    "dan": "embedlab.embedders.sentence.dan:DANEmbedder",
    "bilstm": "embedlab.embedders.sentence.bilstm:BiLSTMEmbedder",
}


def register(method: str, target: str) -> None:
    """Register ``method`` as ``"package.module:ClassName"`` (an Embedder subclass).

    The class declares its own options (``options = declare(Option(...), ...)``, see
    ``embedlab.embedders.options``): ``embedlab.load`` takes, checks and refuses options by that
    declaration, for a plugin as for a built-in method.
    """
    METHODS[method] = target


def methods() -> list[str]:
    return sorted(METHODS)


def method_class(method: str) -> type[Embedder]:
    """The Embedder class registered for ``method``; imports its module on first use."""
    target = METHODS.get(method)
    if target is None:
        raise UnknownModelError(
            f"unknown method {method!r}",
            suggestion(method, methods()) + f" Known methods: {', '.join(methods())}",
        )
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def suggestion(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(
        name.lower(), [c.lower() for c in candidates], n=3, cutoff=0.5
    )
    lookup = {c.lower(): c for c in candidates}
    if close:
        return "Did you mean " + " or ".join(repr(lookup[c]) for c in close) + "?"
    return "Run `embedlab models` to list what is available."
