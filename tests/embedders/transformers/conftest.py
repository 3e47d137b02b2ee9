"""MiniLM on the torch runtime for the tests here: they test the torch pipeline itself (parity
with sentence-transformers, tokens, layers) and use it as the fp32 reference for the others."""

from __future__ import annotations

import pytest

import embedlab


@pytest.fixture(scope="session")
def minilm() -> embedlab.Embedder:
    return embedlab.load("minilm", runtime="torch")
