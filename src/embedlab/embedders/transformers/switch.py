"""Moving a loaded model onto another runtime or thread count (the CLI's and server's ``--runtime``).

Why apart from the embedder: callers holding any :class:`~embedlab.embedders.base.Embedder`
(a catalogue name, a saved folder) switch it in one call, and non-transformers stay as they are.
"""

from __future__ import annotations

from typing import Any

from embedlab.embedders.base import Embedder
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.embedders.transformers.runtime import AUTO, check_runtime
from embedlab.errors import InputError


def with_runtime(model: Embedder, runtime: str | None, threads: int | None = None) -> Embedder:
    """Put a loaded model on ``runtime`` (the CLI's ``--runtime``); None leaves it as it is.

    Works for saved folders too, whose own parameters ``embedlab.load`` restores.
    """
    if runtime is None and threads is None:
        return model
    if runtime is not None:
        check_runtime(runtime)
    if not isinstance(model, TransformerEmbedder):
        if runtime in (None, "torch", AUTO):  # its own way is its only (and fastest) one
            return model
        raise InputError(
            f"the {runtime} runtime is for transformer models; {model.name} is a "
            f"{model.method} model",
            "leave out --runtime for this model",
        )
    changes: dict[str, Any] = {}
    if runtime is not None:
        changes["runtime"] = runtime
    if threads is not None:
        changes["threads"] = threads
    return model.set_params(**changes)
