"""Method names, and ``load()``: from a name, a spec or a folder to a ready Embedder.

Methods are registered as import paths, so listing them imports nothing heavy and a new approach
is one line here (or one ``register`` call from a plugin).
"""

from __future__ import annotations

import difflib
import importlib
import os
from pathlib import Path
from typing import Any

from embedlab.embedders.base import MODEL_FILE, Embedder
from embedlab.errors import InputError, ModelFormatError, UnknownModelError

_METHODS: dict[str, str] = {
    "onehot": "embedlab.embedders.sparse:OneHotEmbedder",
    "count": "embedlab.embedders.sparse:CountEmbedder",
    "tfidf": "embedlab.embedders.sparse:TfidfEmbedder",
    "transformer": "embedlab.embedders.transformer:TransformerEmbedder",
    "static": "embedlab.embedders.static:StaticEmbedder",
    "word-vectors": "embedlab.embedders.static:WordVectorEmbedder",
    "word2vec": "embedlab.embedders.gensim_models:Word2VecEmbedder",
    "fasttext": "embedlab.embedders.gensim_models:FastTextEmbedder",
    "doc2vec": "embedlab.embedders.doc2vec:Doc2VecEmbedder",
    "glove": "embedlab.embedders.glove:GloVeEmbedder",
}


def register(method: str, target: str) -> None:
    """Register ``method`` as ``"package.module:ClassName"`` (an Embedder subclass)."""
    _METHODS[method] = target


def methods() -> list[str]:
    return sorted(_METHODS)


def method_class(method: str) -> type[Embedder]:
    """The Embedder class registered for ``method``; imports its module on first use."""
    target = _METHODS.get(method)
    if target is None:
        raise UnknownModelError(
            f"unknown method {method!r}",
            _suggestion(method, methods()) + f" Known methods: {', '.join(methods())}",
        )
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def _suggestion(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(
        name.lower(), [c.lower() for c in candidates], n=3, cutoff=0.5
    )
    lookup = {c.lower(): c for c in candidates}
    if close:
        return "Did you mean " + " or ".join(repr(lookup[c]) for c in close) + "?"
    return "Run `embedlab models` to list what is available."


def _is_hf_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def load(name_or_path: str | os.PathLike[str], **params: Any) -> Embedder:
    """Return a ready Embedder for a registry method, a catalogue model, a spec or a folder.

    - a folder written by ``Embedder.save`` (has ``embedlab.json``);
    - a local Hugging Face / sentence-transformers model folder (has ``config.json``);
    - a catalogue model name or alias (``"minilm"``, ``"mpnet"``, ``"glove-50d"``);
    - a method name (``"tfidf"``), unfitted, with ``params`` passed to its constructor;
    - a spec ``"method:argument"`` such as ``"transformer:minilm"`` or ``"transformer:/path"``.
    """
    from embedlab.models import catalogue

    if isinstance(name_or_path, Embedder):
        return name_or_path
    if not isinstance(name_or_path, str | os.PathLike) or not str(name_or_path).strip():
        raise InputError(
            f"a model name or folder is needed, got {name_or_path!r}",
            "pass e.g. 'minilm', 'tfidf' or the folder a model was saved to",
        )
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return Embedder.load(path)
        if _is_hf_folder(path):
            return method_class("transformer")(model=str(path.resolve()), **params)
        raise ModelFormatError(
            f"{path} is neither a saved embedlab model (no {MODEL_FILE}) "
            "nor a Hugging Face model folder (no config.json)",
            "pass a folder written by Embedder.save() or a model folder with config.json",
        )

    entry = catalogue.find(text)
    if entry is not None:
        return _load_catalogue(entry, **params)
    if text in _METHODS:
        return method_class(text)(**params)
    if ":" in text:
        method, _, argument = text.partition(":")
        if method in _METHODS:
            inner = catalogue.find(argument)
            if inner is not None and inner.method == method:
                return _load_catalogue(inner, **params)
            if method == "transformer":
                return load(argument, **params)
            raise InputError(
                f"the method {method!r} takes no argument in a spec (got {text!r})",
                f"use load({method!r}, **options) instead",
            )
    if any(sep in text for sep in ("/", os.sep)) or text.startswith("."):
        raise UnknownModelError(
            f"no model folder at {text}",
            "check the path, or pass a catalogue name such as 'minilm' (see `embedlab models`)",
        )
    raise UnknownModelError(
        f"unknown model {text!r}", _suggestion(text, methods() + catalogue.all_names())
    )


def _load_catalogue(entry: Any, **params: Any) -> Embedder:
    folder = entry.path()
    klass = method_class(entry.method)
    if entry.method == "word-vectors":
        model = klass.from_glove_package(**params)
    else:
        model = klass(model=str(folder), **params)
    model.name = entry.aliases[0] if entry.aliases else entry.name
    return model
