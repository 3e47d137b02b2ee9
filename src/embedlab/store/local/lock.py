"""The folder's single-writer lock: ``flock`` on ``write.lock``, re-entrant within one object.

Readers never take it (SQLite WAL and an append-only vector file keep them consistent); every
change to the folder happens under it, so two processes take turns instead of interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from embedlab.store.errors import CollectionLockedError
from embedlab.store.local.layout import LOCK_FILE

LOCK_TIMEOUT = float(os.environ.get("EMBEDLAB_LOCK_TIMEOUT", "60"))  # seconds a writer waits


class WriteLock:
    """``with lock.hold():`` waits up to ``timeout`` s; ``hold(blocking=False)`` yields False
    at once when another process writes."""

    def __init__(self, folder: Path, timeout: float = LOCK_TIMEOUT) -> None:
        self.folder = folder
        self.timeout = timeout
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def hold(self, *, blocking: bool = True) -> Iterator[bool]:
        if self._depth:
            self._depth += 1
            try:
                yield True
            finally:
                self._depth -= 1
            return
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not blocking:
                    os.close(fd)
                    yield False
                    return
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise CollectionLockedError(
                        f"another process has been writing to {self.folder} for over "
                        f"{self.timeout:g} s",
                        "wait for it to finish; readers are never blocked",
                    ) from None
                time.sleep(0.02)
        self._depth = 1
        try:
            yield True
        finally:
            self._depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
