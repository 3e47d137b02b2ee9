"""Shared fixtures: real pretrained models (loaded once per session) and real sample text."""

from __future__ import annotations

import os
from importlib import resources

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import embedlab  # noqa: E402


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """The bundled sample: 40 real sentences on six topics (+ two 'bank' sentences)."""
    text = resources.files("embedlab.data").joinpath("sample_texts.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def minilm() -> embedlab.Embedder:
    return embedlab.load("minilm")


@pytest.fixture(scope="session")
def glove() -> embedlab.Embedder:
    return embedlab.load("glove-50d")
