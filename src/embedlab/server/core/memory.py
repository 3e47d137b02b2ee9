"""The server process's memory: freed pages back to the OS, loaded models out of the GC's way.

Why ``release_memory``: CPython and the tokenizer free a large request's strings and id lists
into the C heap, which glibc keeps for reuse, so the process stayed at its peak (measured: 1.3 ->
2.8 GB after one request of 2,048 long inputs). ``malloc_trim(0)`` returns the free pages;
elsewhere than glibc this does nothing.

Why ``freeze_loaded``: a served model brings torch, transformers and the rest, hundreds of
thousands of objects the garbage collector tracks, and every full collection walked them all
while holding the GIL: under load at concurrency 64 that was 3-4 pauses of up to 200-210 ms in
10 s, which
stalled the event loop and the compute thread alike (bench/results/serve_profile.md). Once
the models are loaded they live as long as the server, so they are moved out of the
collector's reach (``gc.freeze``); full collections then take about a millisecond.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading

log = logging.getLogger("embedlab.server")


@functools.cache
def _trim() -> object | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):
        return None


def release_memory() -> bool:
    """``malloc_trim(0)``; True if it ran (call it from a thread: it can take milliseconds)."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)  # type: ignore[operator]
    return True


_servers_frozen = 0  # servers in this process that froze and have not thawed yet
_freeze_lock = threading.Lock()


def freeze_loaded() -> int:
    """Collect once, then leave everything alive now out of later collections (``gc.freeze``);
    how many objects were frozen. :func:`thaw` undoes it when the server stops."""
    global _servers_frozen
    with _freeze_lock:
        _servers_frozen += 1
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector once the last server of this process that
    froze them stops (the freeze is process-wide: several in-process servers share it)."""
    global _servers_frozen
    with _freeze_lock:
        _servers_frozen = max(0, _servers_frozen - 1)
        if _servers_frozen == 0:
            gc.unfreeze()
