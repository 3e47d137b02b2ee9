"""The embedded local backend: a collection is a folder (see :mod:`.backend` for the layout)."""

from __future__ import annotations

from embedlab.store.local.backend import LocalBackend
from embedlab.store.local.layout import read_manifest

__all__ = ["LocalBackend", "read_manifest"]
