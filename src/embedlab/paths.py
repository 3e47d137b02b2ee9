"""Where embedlab keeps what it prepares: ``$EMBEDLAB_HOME`` or ``~/.cache/embedlab``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """Where prepared models and exports live: ``$EMBEDLAB_HOME`` or ``~/.cache/embedlab``."""
    return Path(os.environ.get("EMBEDLAB_HOME") or Path.home() / ".cache" / "embedlab")
