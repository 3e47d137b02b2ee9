"""A model with a bias subspace projected out of every vector it makes.

Linear projection removal (mean-difference or PCA directions learned from definitional pairs, see
:mod:`embedlab.apps.debias`): ``v -> v - U^T (U v)`` for the orthonormal rows of ``U``. It works
on any model, sentence models included, and, being linear, commutes with mean pooling, so for
averaged word vectors it is the "neutralise" step of hard debiasing applied to every word. A
model that returns unit vectors still does after the projection.

Saved as a folder like any model: the base model in ``base/``, the directions as ``.npy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts, l2_normalize
from embedlab.embedders.options import FIT, Option, declare
from embedlab.embedders.saving import load_array, save_array
from embedlab.errors import InputError, ModelFormatError, NotFittedError
from embedlab.loading import load

BASE_FOLDER = "base"
UNIT_TOLERANCE = 1e-3


def orthonormal(directions: Any, dim: int) -> np.ndarray:
    """Rows of ``directions`` made orthonormal (QR), checked against the model's ``dim``."""
    array = np.asarray(directions, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != dim or not 1 <= len(array) < dim:
        raise InputError(
            f"bias directions must be a (k, {dim}) array with 1 <= k < {dim}, got {array.shape}",
            "learn them with embedlab.apps.debias.bias_subspace(model)",
        )
    if not np.all(np.isfinite(array)) or np.linalg.matrix_rank(array) < len(array):
        raise InputError(
            "bias directions must be finite and linearly independent",
            "learn them with embedlab.apps.debias.bias_subspace(model)",
        )
    q, r = np.linalg.qr(array.T)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)  # keep each direction's orientation
    return (q * signs).T.astype(np.float32)


class DebiasedEmbedder(Embedder):
    """``base``'s vectors with the span of ``directions`` removed (see module docstring).

    ``base`` is an Embedder or a load spec (``"minilm"``, a folder); ``directions`` a ``(k, dim)``
    array of bias directions, made orthonormal; ``description`` says what they are (kept in
    ``embedlab.json``).
    """

    method: ClassVar[str] = "debiased"
    options = declare(
        Option("base", None, FIT, saved=False),
        Option("description", "", FIT),
    )
    data_arguments = ("directions",)

    def __init__(
        self,
        base: Embedder | str | None = None,
        directions: np.ndarray | None = None,
        *,
        description: str = "",
    ) -> None:
        super().__init__(base=base, description=description)
        self._base: Embedder | None = None
        self.directions: np.ndarray | None = None
        if base is not None:
            self._base = load(base) if isinstance(base, str) else base
            if not isinstance(self._base, Embedder):
                raise InputError(
                    f"base must be an Embedder or a load spec, got {type(base).__name__}",
                    "e.g. DebiasedEmbedder(embedlab.load('glove-50d'), directions)",
                )
            self.name = f"debiased({self._base.name})"
            if directions is not None:
                self.directions = orthonormal(directions, self._base.dim)

    @property
    def base(self) -> Embedder:
        self._require_fitted()
        assert self._base is not None
        return self._base

    @property
    def is_fitted(self) -> bool:
        return self._base is not None and self.directions is not None and self._base.is_fitted

    def _require_fitted(self) -> None:
        if self._base is None or self.directions is None:
            raise NotFittedError(
                "this debiased embedder has no base model or no bias directions",
                "make one with embedlab.apps.debias.debias(model), or load a saved one",
            )
        super()._require_fitted()

    @property
    def dim(self) -> int:
        return self.base.dim

    def _without_bias(self, rows: np.ndarray) -> np.ndarray:
        """``v -> v - U^T (U v)`` for every row, as float32."""
        assert self.directions is not None
        u = self.directions
        return (rows - (rows @ u.T) @ u).astype(np.float32, copy=False)

    def project(self, matrix: np.ndarray) -> np.ndarray:
        """Rows of ``matrix`` less their part in the bias subspace (unit rows stay unit)."""
        rows = np.asarray(matrix, dtype=np.float32)
        norms = np.linalg.norm(rows, axis=-1)
        out = self._without_bias(rows)
        nonzero = norms > 0
        if nonzero.any() and np.all(np.abs(norms[nonzero] - 1) < UNIT_TOLERANCE):
            out = l2_normalize(out)
        return out.astype(np.float32, copy=False)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        # the base's own stage, not its embed(): the texts are checked and embed() warns once,
        # as the debiased model (a warnings filter here would not be thread-safe)
        return self.project(self.base._embed_all(texts, batch_size, progress))

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._embed_all(texts, len(texts), False)

    def embed_queries(self, texts: Any, **options: Any) -> np.ndarray:
        normalize = options.pop("normalize", False)
        out = self.project(self.base.embed_queries(texts, **options))
        return l2_normalize(out) if normalize else out

    def embed_documents(self, texts: Any, **options: Any) -> np.ndarray:
        normalize = options.pop("normalize", False)
        out = self.project(self.base.embed_documents(texts, **options))
        return l2_normalize(out) if normalize else out

    def count_tokens(self, text: str) -> int:
        return self.base.count_tokens(text)

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """The base's walkthrough with every vector projected (lookup, contextual, pooled)."""
        (text,) = check_texts([text])
        walk = self.base.embed_tokens(text)
        assert self.directions is not None
        walk.lookup = self._without_bias(walk.lookup)
        if walk.contextual is not None:
            walk.contextual = self._without_bias(walk.contextual)
        walk.vector = self.project(walk.vector[None])[0]
        walk.model = self.name
        walk.pooling = f"{walk.pooling}, bias subspace ({len(self.directions)} dims) removed"
        return walk

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        self.base.save(folder / BASE_FOLDER)
        assert self.directions is not None
        return {
            "base": BASE_FOLDER,
            "base_method": self.base.method,
            "directions": save_array(folder, "directions", self.directions),
        }

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        sub = meta.get("base", BASE_FOLDER)
        if not isinstance(sub, str) or Path(sub).name != sub or sub.startswith("."):
            raise ModelFormatError(f"{folder} names no plain base sub-folder", "re-save the model")
        base = Embedder.load(folder / sub)
        directions = load_array(folder, meta.get("directions", "directions.npy"))
        self._base = base
        self._unsaved["base"] = base
        self.directions = orthonormal(directions, base.dim)
