"""``sentences-1m``: a million unique real English sentences, assembled offline, for students.

Why: issue 17's students learn from a transformer's vectors of real sentences, and the more
varied the sentences the closer they get; no data hub is reachable, so the sentences come from
the corpora embedlab already prepares (GCIDE, WordNet, gensim's Wikipedia and Lee samples) and
from Debian documentation packages fetched like GCIDE (``apt-get download`` + ``dpkg-deb -x``,
nothing installed). Sources are read in a fixed order, each split into sentences; fragments
(under four words; for documentation also no capital first or no end mark, or code-like),
repeats and every STS Benchmark dev/test sentence (the benchmark) are dropped, and writing stops
at the target. The order is fixed so the file is the same on every machine with the same packages.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from embedlab.errors import InputError
from embedlab.eval.datasets import gensim_test_file, sts_benchmark
from embedlab.progress import progress_bar
from embedlab.text.corpora import (
    CORPORA,
    DownloadError,
    PreparedCorpus,
    apt_download,
    corpus_path,
    data_home,
    extract_deb,
    gcide_paragraphs,
    lee_documents,
    prepare_corpus,
    prepared_corpus,
    wiki_paragraphs,
)
from embedlab.text.sentence_sources import (
    changelog_entries,
    html_paragraphs,
    man_paragraphs,
    pod_paragraphs,
    read_text,
    real_sentences,
    rst_paragraphs,
    wordnet_sentences,
)

NAME = "sentences-1m"
TARGET = 1_000_000


@dataclass(frozen=True)
class SentenceSource:
    """One source of sentences: its name, the Debian package it needs (if any), and a reader
    of its paragraphs given the unpacked package root."""

    name: str
    package: str | None
    paragraphs: Callable[[Path | None], Iterable[str]]
    strict: bool = True  # documentation: only capitalised, end-marked, letter-heavy sentences


def _files(root: Path | None, under: str, suffixes: tuple[str, ...]) -> Iterator[Path]:
    assert root is not None
    folder = root / under
    if not folder.is_dir():
        raise DownloadError(f"the package has no {under}", "check the package version")
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.endswith(suffixes):
            yield path


def _lines(name: str) -> Iterator[str]:
    with corpus_path(name).open(encoding="utf-8") as handle:
        for line in handle:
            yield line.strip()


def _wordnet(_: Path | None) -> Iterator[str]:
    for line in _lines("wordnet"):
        yield from wordnet_sentences(line)


def _wiki(_: Path | None) -> Iterator[str]:
    return wiki_paragraphs(
        gensim_test_file("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    )


def _perl(root: Path | None) -> Iterator[str]:
    for path in _files(root, "usr/share/perl", (".pod",)):
        yield from pod_paragraphs(read_text(path))


def _man(root: Path | None) -> Iterator[str]:
    for path in _files(root, "usr/share/man", (".gz",)):
        yield from man_paragraphs(read_text(path))


def _html(under: str) -> Callable[[Path | None], Iterator[str]]:
    def read(root: Path | None) -> Iterator[str]:
        for path in _files(root, under, (".html",)):
            yield from html_paragraphs(read_text(path))

    return read


def _rst(under: str, suffixes: tuple[str, ...]) -> Callable[[Path | None], Iterator[str]]:
    def read(root: Path | None) -> Iterator[str]:
        for path in _files(root, under, suffixes):
            if "/translations/" not in str(path):  # English only
                yield from rst_paragraphs(read_text(path))

    return read


def _foldoc(root: Path | None) -> Iterator[str]:
    assert root is not None
    folder = root / "usr/share/dictd"
    return gcide_paragraphs(folder / "foldoc.dict.dz", folder / "foldoc.index")


def _fortunes(root: Path | None) -> Iterator[str]:
    for path in _files(root, "usr/share/games/fortunes", ("",)):
        if path.suffix not in (".dat", ".u8") and not path.is_symlink():
            for entry in re.split(r"\n%\n", read_text(path)):
                yield " ".join(entry.split())


def _changelogs(_: Path | None) -> Iterator[str]:
    for path in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz")):
        yield from changelog_entries(read_text(path))


_LINUX = "usr/share/doc/linux-doc-6.1/Documentation"
# Debian 12 (bookworm) package names; the order is by yield, so the fewest sources reach 1M.
SOURCES: tuple[SentenceSource, ...] = (
    SentenceSource("gcide", None, lambda _: _lines("gcide"), strict=False),
    SentenceSource("wordnet", None, _wordnet, strict=False),
    SentenceSource("wiki", None, _wiki),
    SentenceSource("lee", None, lambda _: lee_documents(gensim_test_file("lee_background.cor"))),
    SentenceSource("perl-doc", "perl-doc", _perl),
    SentenceSource("manpages", "manpages", _man),
    SentenceSource("openjdk-17-doc", "openjdk-17-doc", _html("usr/share/doc")),
    SentenceSource(
        "linux-doc", "linux-doc-6.1", _rst(_LINUX, (".rst", ".rst.gz", ".txt", ".txt.gz"))
    ),
    SentenceSource("qtbase5-doc", "qtbase5-doc-html", _html("usr/share/qt5/doc")),
    SentenceSource("erlang-doc", "erlang-doc", _html("usr/share/doc/erlang-doc")),
    SentenceSource(
        "python-doc",
        "python3.11-doc",
        _rst("usr/share/doc/python3.11/html/_sources", (".rst.txt",)),
    ),
    SentenceSource("postgresql-doc", "postgresql-doc-15", _html("usr/share/doc/postgresql-doc-15")),
    SentenceSource("rust-doc", "rust-doc", _html("usr/share/doc/rust-doc")),
    SentenceSource("foldoc", "dict-foldoc", _foldoc),
    SentenceSource("django-doc", "python-django-doc", _html("usr/share/doc/python-django-doc")),
    SentenceSource("boost-doc", "libboost1.74-doc", _html("usr/share/doc/libboost1.74-doc")),
    SentenceSource("fortunes", "fortunes", _fortunes),
    SentenceSource("git-doc", "git-doc", _html("usr/share/doc/git-doc")),
    SentenceSource("gimp-help", "gimp-help-en", _html("usr/share/gimp/2.0/help/en")),
    SentenceSource("nodejs-doc", "nodejs-doc", _html("usr/share/doc/nodejs")),
    SentenceSource("debian-changelogs", None, _changelogs),
)


def benchmark_sentences() -> set[str]:
    """STS-B dev and test sentences, lower-cased: never trained on, they are the benchmark."""
    return {
        " ".join(s.split()).lower()
        for split in ("dev", "test")
        for a, b, _ in sts_benchmark(split)
        for s in (a, b)
    }


def assemble(
    out: Path,
    work: Path,
    *,
    target: int = TARGET,
    sources: tuple[SentenceSource, ...] = SOURCES,
    debs: dict[str, Path] | None = None,
    on_source: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write up to ``target`` unique real sentences to ``out``, source by source; return the
    count each source gave. ``debs`` maps package names to already downloaded .deb files."""
    skip = benchmark_sentences()
    seen: set[str] = set()
    counts: dict[str, int] = {}
    with out.open("w", encoding="utf-8") as handle:
        for source in sources:
            if len(seen) >= target:
                break
            root = None
            if source.package is not None:
                deb = (debs or {}).get(source.package) or apt_download(source.package, work)
                root = extract_deb(deb, work / source.package)
            count = 0
            for text in real_sentences(source.paragraphs(root), strict=source.strict):
                if text in seen or text.lower() in skip:
                    continue
                seen.add(text)
                handle.write(text + "\n")
                count += 1
                if len(seen) >= target:
                    break
            counts[source.name] = count
            if on_source is not None:
                on_source(source.name, count)
            if root is not None:
                _remove_tree(root)
    return counts


def _remove_tree(root: Path) -> None:
    """An unpacked package (made here, inside the scratch folder) is removed once read."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    root.rmdir()


def prepare_sentences(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    target: int = TARGET,
    debs: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = False,
) -> PreparedCorpus:
    """Assemble ``DATA_DIR/corpora/sentences-1m.txt`` (kept if already there), one sentence a
    line, with a JSON file beside it giving the count from each source.

    ``debs`` is a folder of already downloaded .deb files, used instead of ``apt-get download``.
    The gcide and wordnet corpora are read from their prepared files (prepared first if missing).
    """
    done = None if force else prepared_corpus(NAME, data_dir)
    if done is not None:
        return done
    folder = Path(data_dir or data_home()) / "corpora"
    out = folder / f"{NAME}.txt"
    meta_path = out.with_suffix(".json")
    if target < 1:
        raise InputError(f"target must be at least 1, got {target}", "e.g. 1000000")
    found: dict[str, Path] = {}
    if debs is not None:
        if not Path(debs).is_dir():
            raise InputError(f"no folder at {debs}", "pass the folder holding the .deb files")
        found = {p.name.split("_")[0]: p for p in sorted(Path(debs).glob("*.deb"))}
    for name in ("gcide", "wordnet"):
        prepare_corpus(name, data_dir, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix=f".{NAME}.", dir=folder) as scratch,
        progress_bar(f"preparing {NAME}", target, enabled=progress) as advance,
    ):
        work = Path(scratch)
        counts = assemble(
            work / "corpus.txt",
            work,
            target=target,
            debs=found,
            on_source=lambda _, n: advance(n),
        )
        lines = sum(counts.values())
        words = 0
        with (work / "corpus.txt").open(encoding="utf-8") as handle:
            for line in handle:
                words += len(line.split())
        os.replace(work / "corpus.txt", out)
    seconds = round(time.perf_counter() - started, 2)
    meta = {
        "name": NAME,
        "description": CORPORA[NAME].description,
        "source": CORPORA[NAME].source,
        "licence": CORPORA[NAME].licence,
        "lines": lines,
        "words": words,
        "target": target,
        "sources": counts,
        "seconds": seconds,
    }
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return PreparedCorpus(NAME, out, lines, words, seconds)
