"""Several embedders as one: their vectors side by side, each part weighted.

Lexical and semantic vectors fail differently (TF-IDF misses paraphrases, a transformer blurs
rare names and codes), so one vector carrying both often retrieves better than either alone,
while every consumer (collections, search, compare, the server) still sees a single Embedder.

Each part's vector is L2-normalised, then scaled by ``sqrt(w_i)``, with the weights made to sum
to 1. So for two texts ``a`` and ``b``::

    hybrid(a) . hybrid(b) = sum_i  w_i * cos_i(a, b)

the dot product of hybrid vectors is the weighted mean of the parts' cosines, and the vectors are
unit length (cosine = dot) unless a part gives a text an all-zero vector (TF-IDF on unknown
words), whose cosine then counts as 0. Only relative weights matter: ``[1, 3]`` is
``[0.25, 0.75]``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts
from embedlab.embedders.options import FIT, LOAD, Option, declare
from embedlab.errors import EmbedlabError, InputError, ModelFormatError, NotFittedError
from embedlab.loading import load

PartsArg = Sequence[Embedder | str] | Mapping[str, Embedder | str]
WeightsArg = Sequence[float] | Mapping[str, float]


class HybridEmbedder(Embedder):
    """Concatenates the L2-normalised vectors of ``parts``, part ``i`` scaled by ``sqrt(w_i)``.

    ``parts`` is a list of embedders or load specs (``"minilm"``, a saved folder), named after
    each embedder's ``name``, or a dict ``{name: embedder_or_spec}``. ``weights`` is a list in the
    same order or a dict by name; equal weights when omitted. ``fit()`` fits the parts that are
    not fitted yet; ``save()`` writes each part in a sub-folder with its own ``embedlab.json``.
    """

    method: ClassVar[str] = "hybrid"
    trainable: ClassVar[bool] = True  # it has parts to fit; is_fitted says whether they are

    # parts: kept as given (scikit-learn's clone checks identity), saved as sub-folders, not in
    # params; fixed once fitted. weights: only scale the parts' columns, so a loaded model may
    # change them.
    options = declare(
        Option("parts", None, FIT, saved=False),
        Option("weights", None, LOAD),
    )

    def __init__(self, parts: PartsArg | None = None, weights: WeightsArg | None = None) -> None:
        super().__init__(parts=parts, weights=weights)  # resolves the parts, checks the weights
        self._names: list[str] = []
        self._parts: list[Embedder] = []
        self._weights = np.ones(0)
        if parts is not None:  # None only while Embedder.load fills the parts in _load_state
            self._set_parts(*self._resolved(parts))
            self.name = self._default_name()

    # -- parts and weights -----------------------------------------------------------------
    def _resolved(self, given: Any) -> tuple[list[str], list[Embedder]]:
        """Names and embedders of ``given`` parts, resolved once (a spec loads a model)."""
        known = self.__dict__.get("_resolution")
        if known is not None and known[0] is given:
            return known[1], known[2]
        names, parts = _resolve_parts(given)
        self._resolution = (given, names, parts)
        return names, parts

    def _check_values(self, values: dict[str, Any]) -> None:
        if values["parts"] is not None:
            _check_weights(values["weights"], self._resolved(values["parts"])[0])

    def _params_changed(self, changed: set[str]) -> None:
        default_name = not self._parts or self.name == self._default_name()
        self._set_parts(*self._resolved(self._unsaved["parts"]))
        if default_name:
            self.name = self._default_name()

    def _set_parts(self, names: list[str], parts: list[Embedder]) -> None:
        self._weights = _check_weights(self.params["weights"], names)
        self._names, self._parts = names, parts

    def _default_name(self) -> str:
        return "hybrid(" + ",".join(f"{n}={w:.3g}" for n, w in self._pairs()) + ")"

    def _pairs(self) -> Iterator[tuple[str, float]]:
        return zip(self._names, self._weights.tolist(), strict=True)

    @property
    def parts(self) -> dict[str, Embedder]:
        """The part embedders by name, in column order."""
        return dict(zip(self._names, self._parts, strict=True))

    @property
    def weights(self) -> dict[str, float]:
        """Each part's weight, normalised to sum to 1 (the share of the dot product it makes)."""
        return dict(self._pairs())

    def __repr__(self) -> str:
        return f"HybridEmbedder(parts={self._names!r}, weights={self.params['weights']!r})"

    def _require_parts(self) -> None:
        if not self._parts:
            raise InputError(
                "this hybrid embedder has no parts",
                "pass parts, e.g. HybridEmbedder([embedlab.load('tfidf'), embedlab.load('minilm')])",
            )

    # -- fitting ---------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(self._parts) and all(p.is_fitted for p in self._parts)

    def _require_fitted(self) -> None:
        """Name the unfitted parts, and say that the hybrid's own ``fit`` fits them."""
        self._require_parts()
        unfitted = [n for n, p in zip(self._names, self._parts, strict=True) if not p.is_fitted]
        if unfitted:
            which = ", ".join(repr(n) for n in unfitted)
            raise NotFittedError(
                f"part {which} of the hybrid embedder {self.name} "
                f"{'has' if len(unfitted) == 1 else 'have'} not been fitted yet",
                "call .fit(corpus) on the hybrid, which fits the parts that need it, or build it "
                "from fitted parts",
            )

    def fit(
        self,
        X: Iterable[str] | os.PathLike[str],  # noqa: N803 (scikit-learn's name)
        y: Any = None,
        *,
        progress: bool = False,
        refit: bool = False,
    ) -> Self:
        """Fit the trainable parts that are not fitted yet (all trainable parts with ``refit``).

        Parts already fitted are kept as they are, since they may have been trained on more
        than ``X``. Each part reads the corpus once, so with several parts to fit ``X`` must be
        re-readable: a list or a file path, not a generator.
        """
        self._require_parts()
        todo = [p for p in self._parts if p.trainable and (refit or not p.is_fitted)]
        if len(todo) > 1 and isinstance(X, Iterator):
            raise InputError(
                f"{len(todo)} parts of the hybrid need fitting, and each reads the corpus, but "
                "a generator can be read only once",
                "pass a list of texts or a pathlib.Path to a corpus file",
            )
        for part in todo:
            part.fit(X, progress=progress)  # type: ignore[arg-type]  # trainables read paths
        return self

    # -- embedding -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        self._require_fitted()
        return sum(p.dim for p in self._parts)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Each part embeds all texts its own way (its batching, its threads), then the blocks
        are weighted and put side by side."""
        blocks = [
            math.sqrt(w)
            * part.embed(texts, batch_size=batch_size, normalize=True, progress=progress)
            for part, w in zip(self._parts, self._weights.tolist(), strict=True)
        ]
        return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._embed_all(texts, len(texts), False)

    def count_tokens(self, text: str) -> int:
        """The most tokens any part makes, so a chunking budget suits every part."""
        self._require_parts()
        return max(p.count_tokens(text) for p in self._parts)

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """The walkthrough of the first part that has one; ``vector`` is the hybrid's own.

        Tokens, ids and lookup rows stay the part's (its dimensions), since the hybrid has no
        tokens of its own.
        """
        (text,) = check_texts([text])
        self._require_fitted()
        first_error: EmbedlabError | None = None
        for name, part in zip(self._names, self._parts, strict=True):
            try:
                walk = part.embed_tokens(text)
            except EmbedlabError as exc:  # e.g. a remote part: no walkthrough there
                first_error = first_error or exc
                continue
            walk.notes.append(
                f"tokens and lookup rows are those of the part {name!r} ({part.dim} dims); the "
                f"vector is the hybrid's ({self.dim} dims: "
                + ", ".join(f"{n} x{w:.3g}" for n, w in self._pairs())
                + ")"
            )
            walk.model = self.name
            walk.pooling = f"{walk.pooling}, then the weighted hybrid of {len(self._parts)} parts"
            walk.vector = self.embed(text)
            return walk
        assert first_error is not None
        raise first_error

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Each part in ``part<i>-<name>/`` as a model of its own; names, weights, dims here."""
        entries = []
        for i, (name, part) in enumerate(zip(self._names, self._parts, strict=True)):
            sub = f"part{i}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[:60]}"
            part.save(folder / sub)
            entries.append(
                {
                    "name": name,
                    "folder": sub,
                    "method": part.method,
                    "dim": part.dim,
                    "weight": float(self._weights[i]),
                }
            )
        return {"parts": entries}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        entries = meta.get("parts")
        if not isinstance(entries, list) or not entries:
            raise ModelFormatError(f"{folder} lists no hybrid parts", "re-save the model")
        names, parts = [], []
        for entry in entries:
            sub = entry.get("folder") if isinstance(entry, dict) else None
            if not isinstance(sub, str) or Path(sub).name != sub or sub.startswith("."):
                raise ModelFormatError(
                    f"{folder} has a hybrid part entry without a plain sub-folder name: {entry!r}",
                    "re-save the model",
                )
            part = Embedder.load(folder / sub)
            if part.dim != entry.get("dim"):
                raise ModelFormatError(
                    f"the part {sub} in {folder} has dim {part.dim}, not {entry.get('dim')}",
                    "re-save the model",
                )
            names.append(str(entry.get("name", sub)))
            parts.append(part)
        self._set_parts(names, parts)
        self._unsaved["parts"] = self.parts  # what a clone is built from
        self._resolution = (self._unsaved["parts"], names, parts)


def _resolve_parts(parts: Any) -> tuple[list[str], list[Embedder]]:
    """Names and ready embedders from a list or dict of embedders or load specs."""

    example = "e.g. parts=[embedlab.load('tfidf'), embedlab.load('minilm')]"
    if isinstance(parts, Mapping):
        given = list(parts.items())
        if not all(isinstance(k, str) and k for k in parts):
            raise InputError("the names of hybrid parts must be non-empty strings", example)
    elif isinstance(parts, Sequence) and not isinstance(parts, str):
        given = [(None, p) for p in parts]
    else:
        raise InputError(
            f"parts must be a list or dict of embedders, got {type(parts).__name__}", example
        )
    if not given:
        raise InputError("a hybrid embedder needs at least one part", example)
    names: list[str] = []
    embedders: list[Embedder] = []
    for i, (name, part) in enumerate(given):
        if isinstance(part, str):
            part = load(part)
        if not isinstance(part, Embedder):
            raise InputError(
                f"hybrid part {name or i} is a {type(part).__name__}, not an Embedder or a spec",
                example,
            )
        base = name or part.name or part.method
        unique, n = base, 1
        while unique in names:  # two parts of one model: "tfidf", "tfidf-2"
            n += 1
            unique = f"{base}-{n}"
        names.append(unique)
        embedders.append(part)
    return names, embedders


def _check_weights(weights: Any, names: list[str]) -> np.ndarray:
    """Positive finite weights, one per part, normalised to sum to 1."""
    if weights is None:
        return np.full(len(names), 1 / len(names)) if names else np.ones(0)
    example = (
        f"e.g. weights={[round(1 / max(len(names), 1), 2)] * len(names)} or a dict by part name"
    )
    if isinstance(weights, Mapping):
        missing = [n for n in names if n not in weights]
        extra = [str(k) for k in weights if k not in names]
        if missing or extra:
            raise InputError(
                "the weights do not match the hybrid's parts"
                + (f": no weight for {', '.join(map(repr, missing))}" if missing else "")
                + (f"; no part named {', '.join(map(repr, extra))}" if extra else ""),
                f"give one weight per part; the parts are {', '.join(map(repr, names))}",
            )
        values = [weights[n] for n in names]
    elif isinstance(weights, Sequence) and not isinstance(weights, str):
        if len(weights) != len(names):
            raise InputError(
                f"{len(weights)} weights for {len(names)} hybrid parts", "give one weight per part"
            )
        values = list(weights)
    else:
        raise InputError(f"weights must be a list or a dict, got {type(weights).__name__}", example)
    for name, w in zip(names, values, strict=True):
        if isinstance(w, bool) or not isinstance(w, Real) or not math.isfinite(w) or w <= 0:
            raise InputError(
                f"the weight of part {name!r} must be a positive finite number, got {w!r}",
                "leave a part out rather than giving it weight 0; " + example,
            )
    array = np.asarray(values, dtype=np.float64)
    return array / array.sum()
