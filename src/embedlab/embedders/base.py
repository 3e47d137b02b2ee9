"""The Embedder interface every approach implements, and the on-disk model format.

An Embedder turns texts into a float32 matrix. Subclasses implement ``_embed_batch`` (and, for the
token walkthrough, ``embed_tokens``); batching, input checks, normalisation, progress bars, the
scikit-learn verbs and saving as a folder of JSON plus arrays live here once.
"""

from __future__ import annotations

import json
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np

from embedlab._io import atomic_folder
from embedlab._version import __version__
from embedlab.apps.explain import Explanation, explain_pair
from embedlab.embedders.methods import method_class
from embedlab.embedders.options import Options, checked_changes, initial_values, same
from embedlab.embedders.saving import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MODEL_FILE,
    jsonable,
    read_model_meta,
)
from embedlab.errors import (
    InputError,
    InputTooLongError,
    ModelFormatError,
    NotFittedError,
    ZeroVectorWarning,
)
from embedlab.progress import progress_bar
from embedlab.text.tokenize import word_tokens, words


@dataclass
class TokenEmbeddings:
    """Every step from a text to its vector, for one text.

    ``lookup`` holds each token's static vector (the embedding-table row, before any context);
    ``contextual`` the vectors after the last layer for contextual models (None for static ones);
    ``vector`` the pooled text vector that ``embed`` returns for the same text.
    """

    text: str
    model: str
    tokens: list[str]
    ids: list[int]
    lookup: np.ndarray
    vector: np.ndarray
    pooling: str
    offsets: list[tuple[int, int]] | None = None
    contextual: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)

    def to_dict(self, dims: int | None = None) -> dict[str, Any]:
        """Plain data (lists, floats) for JSON; ``dims`` keeps only the first dims of each vector."""

        def cut(a: np.ndarray | None) -> Any:
            if a is None:
                return None
            return (a[..., :dims] if dims else a).astype(float).round(6).tolist()

        return {
            "text": self.text,
            "model": self.model,
            "tokens": self.tokens,
            "ids": self.ids,
            "offsets": self.offsets,
            "pooling": self.pooling,
            "lookup": cut(self.lookup),
            "lookup_norms": np.linalg.norm(self.lookup, axis=-1).round(6).tolist(),
            "contextual": cut(self.contextual),
            "vector": cut(self.vector),
            "vector_norm": float(np.linalg.norm(self.vector)),
            "notes": self.notes,
        }


def check_texts(texts: Sequence[str] | str) -> list[str]:
    """Validate user texts once, with messages that point at the offending item."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError:
        raise InputError(
            f"texts must be a list of strings, got {type(texts).__name__}",
            "pass a list such as ['first text', 'second text']",
        ) from None
    if not texts:
        raise InputError("no texts to embed", "pass at least one non-empty text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(
                f"text {i} is a {type(text).__name__}, not a string",
                "convert every item to str before embedding",
            )
        if not text.strip():
            raise InputError(
                f"text {i} is empty",
                "remove empty texts before embedding, e.g. [t for t in texts if t.strip()]",
            )
    return texts


def warn_zero_rows(matrix: np.ndarray, texts: list[str], model: str) -> None:
    """One :class:`ZeroVectorWarning` for the all-zero rows of an embed call, if any.

    Why here: word, static and sparse models give a text with no known token a zero vector,
    which compares as cosine 0 to everything; saying so once per call beats a silent 0.
    """
    zero = np.flatnonzero(~matrix.any(axis=1))
    if len(zero):
        first = int(zero[0])
        warnings.warn(
            ZeroVectorWarning(len(zero), len(texts), first, texts[first], model), stacklevel=3
        )


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation that leaves all-zero rows at zero instead of NaN."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32, copy=False)


T = TypeVar("T")


@dataclass(frozen=True)
class PreparedItems(Generic[T]):
    """Inputs after a model's ``prepare`` (stage 1 of the server), with a length each.

    The same shape as a transformer's ``Encoded`` (``lengths``, ``slice``, ``concat``), so a
    server queues, splits and merges every model's prepared inputs alike.
    """

    items: list[T]
    lengths: list[int]  # tokens per input (the batcher's budgets count them)

    def __len__(self) -> int:
        return len(self.lengths)

    def slice(self, start: int, stop: int) -> Self:
        return type(self)(self.items[start:stop], self.lengths[start:stop])

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        if len(parts) == 1:
            return parts[0]
        return cls(
            [x for part in parts for x in part.items], [n for part in parts for n in part.lengths]
        )


class PreparedTexts(PreparedItems[str]):
    """Texts after the default :meth:`Embedder.prepare`: cut to the token limit, words counted
    (at least 1 per text)."""

    @property
    def texts(self) -> list[str]:
        return self.items


class Embedder(ABC):
    """Turns texts into a float32 ``(n, dim)`` matrix; see module docstring for the contract.

    Also a scikit-learn transformer (``fit`` / ``transform`` / ``get_params``), so any embedder
    drops into a ``Pipeline``.
    """

    method: ClassVar[str] = ""
    trainable: ClassVar[bool] = False
    # what ``embed`` takes: "text" (checked by check_texts); audio and image embedders
    # (embedlab.media.embedder.MediaEmbedder) say "audio" or "image" and take files, bytes or
    # arrays, so collections, the server and the CLI can tell a model's inputs before calling it
    input_kind: ClassVar[str] = "text"
    # every constructor option, once: default, when it may change, check (see options.py)
    options: ClassVar[Options] = ()
    # constructor arguments that are data, not options: never saved, not taken by load(folder)
    data_arguments: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        """Keep the declared options: those given (checked), the rest at their defaults."""
        values = initial_values(type(self), params)
        self._check_values(values)
        self.params: dict[str, Any] = {}
        self._unsaved: dict[str, Any] = {}
        self._store(values)
        self.name: str = self.method

    # -- what subclasses provide -----------------------------------------------------------
    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of the vectors ``embed`` returns."""

    @abstractmethod
    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch of already validated texts into a ``(len(texts), dim)`` array."""

    @abstractmethod
    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """The token walkthrough of one text: tokens, ids, lookup vectors, pooled vector."""

    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Write arrays and vocabularies into ``folder``; return extra JSON for embedlab.json."""
        return {}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Read back what ``_save_state`` wrote."""

    @property
    def is_fitted(self) -> bool:
        return True

    # -- embedding -------------------------------------------------------------------------
    def embed(
        self,
        texts: Sequence[str] | str,
        *,
        batch_size: int = 32,
        normalize: bool = False,
        progress: bool = False,
    ) -> np.ndarray:
        """Embed texts into float32 ``(n, dim)``; a single string gives ``(dim,)``."""
        single = isinstance(texts, str)
        items = check_texts(texts)
        self._require_fitted()
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}", "use e.g. 32")
        matrix = self._embed_all(items, batch_size, progress)
        warn_zero_rows(matrix, items, self.name)
        if normalize:
            matrix = l2_normalize(matrix)
        return matrix[0] if single else matrix

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Run ``_embed_batch`` over batches; transformer embedders override to sort by length."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with progress_bar(f"embedding with {self.name}", len(texts), enabled=progress) as advance:
            for start in range(0, len(texts), batch_size):
                batch = texts[start : start + batch_size]
                out[start : start + len(batch)] = self._embed_batch(batch)
                advance(len(batch))
        return out

    def encode(
        self,
        sentences: Sequence[str] | str,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = False,
        **_: Any,
    ) -> np.ndarray:
        """sentence-transformers' spelling of :meth:`embed`, for drop-in use."""
        return self.embed(
            sentences,
            batch_size=batch_size,
            normalize=normalize_embeddings,
            progress=show_progress_bar,
        )

    def embed_queries(self, texts: Sequence[str] | str, **options: Any) -> np.ndarray:
        """Embed search queries; same options as :meth:`embed`.

        Why a separate verb: some models encode queries and documents differently (E5's
        ``"query: "`` prefix, asymmetric retrieval models). Search, RAG, FAQ matching and the
        retrieval evaluation call this for what they look up, so such a model is used as it
        was trained; for every other model it is :meth:`embed`.
        """
        return self.embed(texts, **options)

    def embed_documents(self, texts: Sequence[str] | str, **options: Any) -> np.ndarray:
        """Embed texts to be searched; :meth:`embed` unless a model encodes documents apart."""
        return self.embed(texts, **options)

    def encode_query(self, sentences: Sequence[str] | str, **options: Any) -> np.ndarray:
        """sentence-transformers' spelling of :meth:`embed_queries`."""
        return self._encode_as(self.embed_queries, sentences, options)

    def encode_document(self, sentences: Sequence[str] | str, **options: Any) -> np.ndarray:
        """sentence-transformers' spelling of :meth:`embed_documents`."""
        return self._encode_as(self.embed_documents, sentences, options)

    @staticmethod
    def _encode_as(
        verb: Any, sentences: Sequence[str] | str, options: dict[str, Any]
    ) -> np.ndarray:
        return verb(
            sentences,
            batch_size=options.get("batch_size", 32),
            normalize=options.get("normalize_embeddings", False),
            progress=options.get("show_progress_bar", False),
        )

    # -- embedding in stages, for servers: finish(run(prepare(texts))) == embed(texts) ------
    # Why: a server tokenises requests as they arrive while the model computes the last batch
    # (infinity's pre / core / post). The defaults count words in ``prepare`` and embed in
    # ``run``; transformer embedders override all three to tokenise in ``prepare``.
    prepare_tokenizes: ClassVar[bool] = False  # True: prepare uses the tokenizer and run does not

    def prepare(
        self, texts: Sequence[str], *, max_tokens: int | None = None, truncate: bool = True
    ) -> Any:
        """Stage 1: count tokens (here: words), cutting inputs at ``max_tokens``.

        With ``truncate=False`` an input over the limit raises :class:`InputTooLongError`.
        Texts are not validated (``embed`` does that). Returns an object with ``lengths``,
        ``__len__``, ``slice`` and ``concat``, handed to :meth:`run`.
        """
        out, lengths = [], []
        for i, text in enumerate(texts):
            tokens = word_tokens(text, lowercase=False)
            if max_tokens is not None and len(tokens) > max_tokens:
                if not truncate:
                    raise InputTooLongError(i, len(tokens), max_tokens)
                text = text[: tokens[max_tokens - 1][1][1]]
                tokens = tokens[:max_tokens]
            out.append(text)
            lengths.append(max(1, len(tokens)))
        return PreparedTexts(out, lengths)

    def run(
        self,
        prepared: Any,
        *,
        batch_size: int = 32,
        advance: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Stage 2: vectors of all that :meth:`prepare` gave, in its order, before :meth:`finish`."""
        self._require_fitted()
        texts = list(prepared.texts)
        parts = []
        for start in range(0, len(texts), batch_size):
            part = texts[start : start + batch_size]
            parts.append(self._embed_all(part, batch_size, False))
            if advance is not None:
                advance(len(part))
        return np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32)

    def finish(self, vectors: np.ndarray) -> np.ndarray:
        """Stage 3: post-processing of :meth:`run`'s vectors; none by default."""
        return vectors

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is for this model (chunking budgets); words unless overridden."""
        return len(words(text))

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts; a text the model knows no token of gives 0, with a
        :class:`ZeroVectorWarning` that says so (a zero vector is unknown, not "unrelated")."""
        va, vb = self.embed([a, b], normalize=True)
        return float(np.dot(va, vb))

    def explain(self, a: str, b: str) -> Explanation:
        """Why ``a`` and ``b`` are close: :meth:`similarity` split over token pairs, exactly
        for mean-pooled and bag-of-words models, approximately (integrated gradients, error
        stated) for CLS pooling; see :mod:`embedlab.apps.explain`."""
        return explain_pair(self, a, b)

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"the {self.name} embedder has not been fitted yet",
                "call .fit(corpus) first, or load a fitted model with embedlab.load(folder)",
            )

    # -- scikit-learn verbs ----------------------------------------------------------------
    def fit(self, X: Iterable[str], y: Any = None, *, progress: bool = False) -> Self:  # noqa: N803
        """Pretrained embedders need no fitting; trainable ones override this (streaming X)."""
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:  # noqa: N803
        return self.embed(list(X))

    def fit_transform(self, X: Iterable[str], y: Any = None) -> np.ndarray:  # noqa: N803
        texts = list(X)
        return self.fit(texts).transform(texts)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every declared option's current value (scikit-learn's ``clone`` builds from these)."""
        return {
            o.name: (self.params if o.saved else self._unsaved).get(o.name, o.default)
            for o in self.options
        }

    def set_params(self, **params: Any) -> Self:
        """Change options: all are checked before any changes, then ``_params_changed`` runs."""
        return self.change_params(params)

    def change_params(
        self, params: dict[str, Any], *, source: str = "", caller: str = "set_params()"
    ) -> Self:
        """:meth:`set_params`, with the words ``load()`` uses in its refusals.

        Unknown options, and fit-time options of a fitted model, are refused with the list of
        what may change; a bad value leaves the model as it was.
        """
        changes = checked_changes(self, params, source=source, caller=caller)
        old = self.get_params()
        values = {**old, **changes}
        self._check_values(values)
        self._store(values)
        changed = {k for k in changes if not same(old[k], values[k])}
        if changed:
            self._params_changed(changed)
        return self

    def _store(self, values: dict[str, Any]) -> None:
        for o in self.options:
            target = self.params if o.saved else self._unsaved
            if o.omit_default and same(values[o.name], o.default):
                target.pop(o.name, None)
            else:
                target[o.name] = values[o.name]

    def _check_values(self, values: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Check options together (each alone passed its own check); raise InputError."""

    def _params_changed(self, changed: set[str]) -> None:  # noqa: B027 (optional hook)
        """Drop what the changed options invalidate (caches, loaded weights, sessions)."""

    def _unknown_options(self, unknown: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Raise a more specific error for options this class does not take (else a list)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write the model as a folder: ``embedlab.json`` plus arrays (``.npy``/safetensors).

        The folder is written beside the target and renamed into place, so a crash never leaves
        a half-written model where a good one was. An earlier embedlab output there is replaced;
        anything else only with ``force``, and a file never (see ``embedlab._io``).
        """
        self._require_fitted()
        with atomic_folder(path, force=force) as tmp:
            extra = self._save_state(tmp)
            meta = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "method": self.method,
                "name": self.name,
                "dim": self.dim,
                "params": jsonable(self.params),
                "embedlab_version": __version__,
                **extra,
            }
            (tmp / MODEL_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Embedder:
        """Load a folder written by :meth:`save`; the method recorded there picks the class."""
        folder = Path(path)
        meta = read_model_meta(folder)
        klass = method_class(meta["method"])
        if cls is not Embedder and not issubclass(klass, cls):
            raise ModelFormatError(
                f"{folder} holds a {meta['method']} model, not a {cls.method or cls.__name__}",
                "load it with embedlab.load(path), which picks the right class",
            )
        model = klass(**meta.get("params", {}))
        model.name = meta.get("name", klass.method)
        try:
            model._load_state(folder, meta)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(
                f"the saved model in {folder} is corrupt ({exc})",
                "re-save the model, or delete the folder and train it again",
            ) from None
        if model.dim != meta.get("dim", model.dim):
            raise ModelFormatError(
                f"the saved model in {folder} says dim {meta['dim']} but its arrays give {model.dim}",
                "re-save the model",
            )
        return model
