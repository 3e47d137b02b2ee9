"""``load()``: from a name, a spec, a folder or a file to a ready Embedder.

Why its own module (not ``load.py``): ``embedlab.load`` is the function re-exported by the
package, and a submodule of the same name would be shadowed by it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

from embedlab import catalogue
from embedlab.embedders.base import Embedder
from embedlab.embedders.methods import METHODS, method_class, methods, suggestion
from embedlab.embedders.options import TRAIN_PREFIX, names, quoted, refuse
from embedlab.embedders.saving import MODEL_FILE
from embedlab.embedders.words.formats import WORD_FILE_SUFFIXES
from embedlab.embedders.words.vectors import WordVectorEmbedder
from embedlab.errors import InputError, ModelFormatError, UnknownModelError


def _is_hf_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


# Hugging Face model types whose folders hold an image tower and a text tower in one space.
IMAGE_TEXT_MODEL_TYPES = frozenset({"clip", "siglip", "siglip2"})


def _hf_model_type(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""  # the transformer loader reports a broken config in its own words
    return str(config.get("model_type", "")) if isinstance(config, dict) else ""


# -- options ------------------------------------------------------------------------------------
def _constructor_options(klass: type[Embedder], *, without: Iterable[str] = ()) -> set[str]:
    """What ``klass(...)`` takes: its declared options and its data arguments."""
    return names(klass, without=without) | set(klass.data_arguments) - set(without)


def _word_file_options() -> set[str]:
    return _word_vector_options() | {"format", "limit"}  # the embedder's, and from_file's own


def _word_vector_options() -> set[str]:
    return names(WordVectorEmbedder)


def _check_options(what: str, params: dict[str, Any], accepted: set[str]) -> None:
    """Refuse, with the list of what is accepted, options that would be ignored or crash."""
    if set(params) - accepted:
        refuse(what, set(params) - accepted, accepted)


def _construct(klass: type[Embedder], params: dict[str, Any], what: str) -> Embedder:
    _check_options(what, params, _constructor_options(klass))
    return klass(**params)


def _apply_load_options(model: Embedder, params: dict[str, Any], source: str) -> Embedder:
    """Give a loaded (fitted) model the options it can take now; refuse the rest clearly.

    What may change is the class's declaration (``Option.when``); options equal to what the
    model already has are accepted as they change nothing.
    """
    return model.change_params(params, source=source, caller="load()") if params else model


# -- load ---------------------------------------------------------------------------------------
def load(name_or_path: str | os.PathLike[str] | Embedder, **params: Any) -> Embedder:
    """Return a ready Embedder for a registry method, a catalogue model, a spec, folder or file.

    - a folder written by ``Embedder.save`` (has ``embedlab.json``); ``params`` may change the
      options that do not need refitting (a transformer's ``runtime``, a word model's
      ``pooling``, ...); others raise an :class:`InputError` that lists what can change;
    - a local Hugging Face / sentence-transformers model folder (has ``config.json``);
    - a word-vector file (word2vec text or binary, GloVe ``.txt``, fastText ``.vec``, gzipped
      too): a word-vector embedder; ``params``: ``pooling``, ``lowercase``, ``limit``, ...;
    - a catalogue model name or alias (``"minilm"``, ``"mpnet"``, ``"glove-50d"``);
    - a method name (``"tfidf"``), unfitted, with ``params`` passed to its constructor;
    - a spec ``"method:argument"`` such as ``"transformer:minilm"`` or ``"transformer:/path"``;
    - ``"train:METHOD"``: the unfitted trainable method, always (``"train:glove"``).

    A name that is both a catalogue model and a method (``"glove"``, ``"static"``) is the
    catalogue model: ``load("glove")`` is the pretrained GloVe 6B 50d users expect, and so is
    ``load("glove", pooling="sif")``. Given options only the method takes (training options
    such as ``dim=``, ``epochs=``), it is the method: ``load("glove", dim=50)`` is an unfitted
    GloVe trainer, as is ``load("train:glove")``. An option nothing here takes is an error,
    never silently ignored.
    """
    if isinstance(name_or_path, Embedder):
        return _apply_load_options(name_or_path, params, "given")
    if not isinstance(name_or_path, str | os.PathLike) or not str(name_or_path).strip():
        raise InputError(
            f"a model name or folder is needed, got {name_or_path!r}",
            "pass e.g. 'minilm', 'tfidf' or the folder a model was saved to",
        )
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        return _load_folder(path, params)

    entry = catalogue.find(text)
    if entry is not None:
        if text in METHODS and params and _wants_method(entry, method_class(text), params):
            return method_class(text)(**params)
        return _load_catalogue(entry, params)
    if text in METHODS:
        return _construct(method_class(text), params, f"the {text} method")
    if path.is_file():
        return _load_word_file(path, params)
    if text.startswith(TRAIN_PREFIX):
        return _trainer(text.removeprefix(TRAIN_PREFIX), params)
    if ":" in text:
        method, _, argument = text.partition(":")
        if method in METHODS:
            inner = catalogue.find(argument)
            if inner is not None and inner.method == method:
                return _load_catalogue(inner, params)
            if method in ("transformer", "clip"):  # "clip:/path/to/folder" as "transformer:..."
                return load(argument, **params)
            if method == "remote":  # "remote:MODEL@BASE_URL"
                klass = method_class(method)
                _check_options("the remote method", params, _constructor_options(klass))
                return klass.from_spec(argument, **params)  # type: ignore[attr-defined]
            raise InputError(
                f"the method {method!r} takes no argument in a spec (got {text!r})",
                f"use load({method!r}, **options) instead",
            )
    _raise_not_found(text, path)


def _raise_not_found(text: str, path: Path) -> NoReturn:
    if path.suffix.lower() in WORD_FILE_SUFFIXES:
        raise InputError(
            f"no word-vector file at {text}",
            "check the path of the .vec/.bin/.txt file, or pass a model name such as 'glove-50d'",
        )
    if any(sep in text for sep in ("/", os.sep)) or text.startswith("."):
        raise UnknownModelError(
            f"no model folder at {text}",
            "check the path, or pass a catalogue name such as 'minilm' (see `embedlab models`)",
        )
    raise UnknownModelError(
        f"unknown model {text!r}", suggestion(text, methods() + catalogue.all_names())
    )


def _load_folder(path: Path, params: dict[str, Any]) -> Embedder:
    if (path / MODEL_FILE).is_file():
        return _apply_load_options(Embedder.load(path), params, f"in {path}")
    if _is_hf_folder(path):
        method = "clip" if _hf_model_type(path) in IMAGE_TEXT_MODEL_TYPES else "transformer"
        klass = method_class(method)
        _check_options(
            f"the model in {path}", params, _constructor_options(klass, without=("model",))
        )
        return klass(model=str(path.resolve()), **params)
    raise ModelFormatError(
        f"{path} is neither a saved embedlab model (no {MODEL_FILE}) "
        "nor a Hugging Face model folder (no config.json)",
        "pass a folder written by Embedder.save() or a model folder with config.json",
    )


def _load_word_file(path: Path, params: dict[str, Any]) -> Embedder:
    """A word2vec / GloVe / fastText ``.vec`` file as a word-vector text embedder."""
    _check_options(f"the word-vector file {path.name}", params, _word_file_options())
    return WordVectorEmbedder.from_file(path, **params)


def _trainer(method: str, params: dict[str, Any]) -> Embedder:
    klass = method_class(method)
    if not klass.trainable:
        raise InputError(
            f"the {method} method is not trained here, so {TRAIN_PREFIX}{method} means nothing",
            f"use load({method!r}, ...) instead; trainable methods: "
            + ", ".join(m for m in methods() if method_class(m).trainable),
        )
    return _construct(klass, params, f"the {method} method")


def _catalogue_options(entry: Any) -> set[str]:
    if entry.method == "word-vectors":
        return _word_vector_options()
    return _constructor_options(method_class(entry.method), without=("model",))


def _wants_method(entry: Any, klass: type[Embedder], params: dict[str, Any]) -> bool:
    """True if ``params`` suit only the method that shares the catalogue model's name."""
    if set(params) <= _catalogue_options(entry):
        return False
    accepted = _constructor_options(klass)
    if not set(params) <= accepted:
        ours = _catalogue_options(entry)
        refuse(
            f"the catalogue model {entry.name}",
            set(params) - ours,
            ours,
            f"; the {klass.method} method of the same name takes {quoted(accepted)}",
        )
    return True


def _load_catalogue(entry: Any, params: dict[str, Any]) -> Embedder:
    folder = entry.path()
    if entry.trained_here:  # a saved embedlab folder, written by `embedlab models prepare`
        model = _load_folder(folder, params)
        model.name = entry.name
        return model
    klass = method_class(entry.method)
    _check_options(f"the catalogue model {entry.name}", params, _catalogue_options(entry))
    if entry.method == "word-vectors":
        model = klass.from_glove_package(**params)  # type: ignore[attr-defined]  # word vectors
    else:
        model = klass(model=str(folder), **{**entry.options(), **params})
    model.name = entry.aliases[0] if entry.aliases else entry.name
    return model
