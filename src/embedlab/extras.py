"""Optional dependencies: import one, or say in one line which ``pip install`` brings it.

``pip install embedlab`` is the numpy-level core (sparse, static and word-vector embedders, the
local store, the CLI); transformers, the server, PostgreSQL and training are extras (see
pyproject.toml). Code that needs one imports it through :func:`require` at the point of use, so
a user without the extra gets ``MissingExtraError`` naming the extra instead of a bare
``ModuleNotFoundError`` from deep inside a call.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from embedlab.errors import MissingExtraError

__all__ = ["EXTRA_PACKAGES", "MissingExtraError", "distribution", "require"]

# Import names whose PyPI distribution is spelt differently (the rest: "_" becomes "-").
DISTRIBUTIONS = {
    "faiss": "faiss-cpu",
    "multipart": "python-multipart",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "umap": "umap-learn",
    "yaml": "pyyaml",
}

# What each extra is for, in the words of the error message.
FEATURES = {
    "models": "packaged pretrained models",
    "transformers": "transformer models",
    "server": "HTTP server",
    "postgres": "PostgreSQL store",
    "train": "training",
    "viz": "charts and maps",
    "ray": "distributed embedding",
    "audio": "audio embedding",
    "image": "image embedding",
}

# embedlab packages that import their extra at module top level (FastAPI's routes and models,
# prometheus_client's metrics: needed at class-definition time). Code outside such a package
# imports it only inside the function that needs it, after require(): the one exception to "no
# function-local embedlab imports", checked by tests/test_structure.py.
EXTRA_PACKAGES = {"embedlab.server.core": "server", "embedlab.server.http": "server"}


def distribution(module: str) -> str:
    """The PyPI name that provides the import name ``module`` (``sklearn`` -> ``scikit-learn``)."""
    root = module.partition(".")[0]
    return DISTRIBUTIONS.get(root, root.replace("_", "-"))


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"torch"``, ``"psycopg.types.json"``) and return it, or raise
    :class:`MissingExtraError` naming ``pip install 'embedlab[extra]'``.

    Only a missing package becomes that error; a package that is installed but fails to import
    (a broken build, a missing system library) keeps its own error, which says more.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        raise MissingExtraError(
            feature or FEATURES.get(extra, extra), distribution(missing), extra
        ) from exc
