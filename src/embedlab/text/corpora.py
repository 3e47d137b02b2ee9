"""Real training corpora, prepared as plain text files (one paragraph or document a line).

No data hub is reachable here, so corpora come from what package managers carry: gensim's test data
(a Wikipedia extract and the Lee news corpus, from PyPI) and two Debian packages fetched with
``apt-get download`` and unpacked with ``dpkg-deb -x`` (never installed): the GCIDE dictionary
and WordNet's glosses. Every preparation streams its source and writes the result atomically, so
an interrupted run never leaves a half corpus behind.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from embedlab.errors import DataFormatError, EmbedlabError, InputError
from embedlab.eval.datasets import gensim_test_file
from embedlab.extras import require
from embedlab.paths import cache_home
from embedlab.progress import progress_bar


class DownloadError(EmbedlabError):
    """A package could not be fetched or unpacked through the package manager."""


@dataclass(frozen=True)
class CorpusSpec:
    """What a corpus is, where it comes from, and under which licence."""

    name: str
    description: str
    source: str
    licence: str
    deb_package: str | None = None


CORPORA: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in (
        CorpusSpec(
            "wiki",
            "206 English Wikipedia articles, markup removed, one paragraph a line (~0.4M words)",
            "gensim test data (pip install 'embedlab[train]')",
            "CC BY-SA 3.0",
        ),
        CorpusSpec(
            "lee",
            "300 Australian news articles (Lee corpus), one article a line (~0.07M words)",
            "gensim test data (pip install 'embedlab[train]')",
            "LGPL-2.1 (gensim test data)",
        ),
        CorpusSpec(
            "gcide",
            "GNU Collaborative International Dictionary of English: definitions and quotations, "
            "one paragraph a line (~4M words)",
            "Debian package dict-gcide (apt-get download)",
            "GPL-2+",
            "dict-gcide",
        ),
        CorpusSpec(
            "wordnet",
            "WordNet 3.0 synsets as 'lemmas: gloss', one synset a line (~1.7M words)",
            "Debian package wordnet-base (apt-get download)",
            "WordNet 3.0 licence (BSD-like)",
            "wordnet-base",
        ),
        CorpusSpec(
            "sentences-1m",
            "1,000,000 unique real English sentences, one a line: GCIDE and WordNet (definitions "
            "and examples apart), Wikipedia and Lee samples, then Debian documentation (Java, "
            "Linux, Qt, Erlang, Python, PostgreSQL, Rust ... manuals), fragments, code and STS-B "
            "dev/test sentences dropped (~15M words)",
            "gcide + wordnet corpora, gensim test data, Debian doc packages (apt-get download)",
            "mixed: GPL-2+, WordNet, CC BY-SA 3.0, the doc packages' own (see their copyright)",
        ),
    )
}


@dataclass(frozen=True)
class PreparedCorpus:
    """A corpus file on disk and what was counted while writing it."""

    name: str
    path: Path
    lines: int
    words: int
    seconds: float

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")


def data_home() -> Path:
    """Where corpora live by default: ``$EMBEDLAB_HOME/data`` (``~/.cache/embedlab/data``)."""

    return cache_home() / "data"


def _spec(name: str) -> CorpusSpec:
    spec = CORPORA.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, list(CORPORA), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(
            f"unknown corpus {name!r}", f"{hint}Known corpora: {', '.join(sorted(CORPORA))}"
        )
    return spec


def corpus_path(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The prepared text file of corpus ``name``; says how to prepare it when it is missing."""
    _spec(name)
    path = Path(data_dir or data_home()) / "corpora" / f"{name}.txt"
    if not path.is_file():
        raise InputError(
            f"the corpus {name!r} has not been prepared (no {path})",
            f"run `embedlab data corpus {name}` first",
        )
    return path


def prepared_corpus(
    name: str, data_dir: str | os.PathLike[str] | None = None
) -> PreparedCorpus | None:
    """Corpus ``name`` as its JSON recorded it when it was prepared, or None if it was not
    (a text without its JSON is an unfinished one)."""
    target = Path(data_dir or data_home()) / "corpora" / f"{name}.txt"
    meta_path = target.with_suffix(".json")
    if not (target.is_file() and meta_path.is_file()):
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return PreparedCorpus(name, target, meta["lines"], meta["words"], 0.0)


def prepare_corpus(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    deb: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = False,
) -> PreparedCorpus:
    """Prepare corpus ``name`` into ``DATA_DIR/corpora/NAME.txt`` (kept if already there).

    ``deb`` uses an already downloaded ``.deb`` instead of calling ``apt-get download`` (offline
    machines, tests). A JSON file beside the text records source, licence and counts.
    """
    spec = _spec(name)
    if spec.name == "sentences-1m":
        raise InputError(
            "sentences-1m is assembled from several corpora, not prepared alone",
            "run `embedlab data corpus sentences-1m` "
            "(embedlab.text.sentence_corpus.prepare_sentences)",
        )
    done = None if force else prepared_corpus(name, data_dir)
    if done is not None:
        return done
    folder = Path(data_dir or data_home()) / "corpora"
    target = folder / f"{name}.txt"
    meta_path = target.with_suffix(".json")
    if deb is not None and spec.deb_package is None:
        raise InputError(f"the corpus {name!r} does not come from a .deb", "omit --deb")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=folder) as scratch:
        work = Path(scratch)
        paragraphs = _source(spec, work, None if deb is None else Path(deb))
        lines, words = _write_lines(paragraphs, work / "corpus.txt", name, progress)
        if lines == 0:
            raise DataFormatError(
                f"the source of corpus {name!r} gave no text",
                "check the package contents; it may be a different version or corrupt",
            )
        os.replace(work / "corpus.txt", target)
    seconds = time.perf_counter() - started
    meta = {
        "name": name,
        "description": spec.description,
        "source": spec.source,
        "licence": spec.licence,
        "lines": lines,
        "words": words,
        "seconds": round(seconds, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return PreparedCorpus(name, target, lines, words, seconds)


def _source(spec: CorpusSpec, work: Path, deb: Path | None) -> Iterator[str]:

    if spec.name == "wiki":
        return wiki_paragraphs(
            gensim_test_file("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
        )
    if spec.name == "lee":
        return lee_documents(gensim_test_file("lee_background.cor"))
    assert spec.deb_package is not None
    package = deb if deb is not None else apt_download(spec.deb_package, work)
    root = extract_deb(package, work / "unpacked")
    if spec.name == "gcide":
        dict_file = root / "usr" / "share" / "dictd" / "gcide.dict.dz"
        _require(dict_file, package)
        index = dict_file.with_name("gcide.index")
        return gcide_paragraphs(dict_file, index if index.is_file() else None)
    folder = root / "usr" / "share" / "wordnet"
    _require(folder / "data.noun", package)
    return wordnet_glosses(folder)


def _require(path: Path, package: Path) -> None:
    if not path.is_file():
        raise DataFormatError(
            f"{package.name} has no {path.name} where expected",
            "pass the Debian package named in `embedlab data corpus --help`",
        )


def _write_lines(
    paragraphs: Iterator[str], out: Path, name: str, progress: bool
) -> tuple[int, int]:

    lines = words = 0
    with (
        out.open("w", encoding="utf-8") as handle,
        progress_bar(f"preparing {name}", None, enabled=progress) as advance,
    ):
        for paragraph in paragraphs:
            handle.write(paragraph + "\n")
            lines += 1
            words += len(paragraph.split())
            if lines % 1000 == 0:
                advance(1000)
    return lines, words


# -- package manager ----------------------------------------------------------------------------
def apt_download(package: str, dest: Path) -> Path:
    """Fetch ``package``'s .deb into ``dest`` with ``apt-get download`` (nothing is installed).

    When apt does not know the package yet, its lists are refreshed once (``apt-get update``,
    as root only) and the download retried.
    """
    if shutil.which("apt-get") is None:
        raise DownloadError(
            f"apt-get is not available, so the Debian package {package} cannot be fetched",
            f"download {package}'s .deb on a Debian/Ubuntu machine and pass it with --deb",
        )
    dest.mkdir(parents=True, exist_ok=True)

    def download() -> subprocess.CompletedProcess:
        return subprocess.run(
            ["apt-get", "download", "-q", package],
            cwd=dest,
            capture_output=True,
            text=True,
        )

    done = download()
    if done.returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True)
        done = download()
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if done.returncode != 0 or not debs:
        reason = (done.stderr.strip().splitlines() or ["no .deb appeared"])[-1]
        raise DownloadError(
            f"apt-get could not download {package} ({reason})",
            "run `apt-get update` (as root) and check the network, or pass a .deb with --deb",
        )
    return debs[-1]


def extract_deb(deb: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Unpack a .deb's files into ``dest`` with ``dpkg-deb -x`` (no install scripts run)."""
    deb, dest = Path(deb), Path(dest)
    if not deb.is_file():
        raise InputError(f"no file at {deb}", "check the path of the .deb")
    if shutil.which("dpkg-deb") is None:
        raise DownloadError("dpkg-deb is not available", "install dpkg, or run this on Debian")
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise DataFormatError(
            f"{deb} is not a readable Debian package ({reason})", "download it again"
        )
    return dest


# -- sources ------------------------------------------------------------------------------------
_SPACES = re.compile(r"\s+")


def wiki_paragraphs(bz2_dump: Path, min_words: int = 5) -> Iterator[str]:
    """Article paragraphs of a Wikipedia XML dump, markup removed by gensim's ``filter_wiki``.

    Redirects, headings, list bullets and paragraphs under ``min_words`` words are dropped.
    """
    require("gensim", "train")
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(bz2_dump, "rt", encoding="utf-8") as handle:
        for _title, text, _page in extract_pages(handle, filter_namespaces=("0",)):
            clean = filter_wiki(text)
            if clean.lstrip().upper().startswith("#REDIRECT"):
                continue
            for raw in clean.splitlines():
                line = raw.strip()
                if not line or line.startswith(("=", "{", "|", "!")):
                    continue
                line = _SPACES.sub(" ", line.lstrip("*#:; ").replace("'''", "").replace("''", ""))
                if len(line.split()) >= min_words:
                    yield line


def lee_documents(path: Path) -> Iterator[str]:
    """The Lee corpus: one news article a line, stored as latin-1 (re-encoded to UTF-8 here)."""
    with path.open(encoding="latin-1") as handle:
        for raw in handle:
            line = _SPACES.sub(" ", raw).strip()
            if line:
                yield line


_B64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def _dictd_number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _B64[char]
    return value


def _gcide_start(index: Path | None) -> int:
    """Byte where the first real entry begins (the ``00-*`` header entries hold licences)."""
    if index is None:
        return 0
    starts = []
    with index.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and not parts[0].startswith("00-"):
                starts.append(_dictd_number(parts[1]))
    return min(starts, default=0)


_PRONUNCIATION = re.compile(r"\\[^\\\n]*\\")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_PARENS_MARKUP = re.compile(r"\([^()]*[\[\"*`?][^()]*\)|\((?:[A-Z][a-z]*\.\s*)+\)")
_CITATION = re.compile(r"--(?:[A-Z][\w'.]*\s*)+")
_INWORD_MARKS = re.compile(r"(?<=\w)[*\"`](?=\w)")
_NUMBERING = re.compile(r"(?<!\S)(?:\d+|[a-z])\.(?=\s|$)")
_LONE_QUESTION = re.compile(r"(?:^|\s)\?(?=\s|[.,;:]|$)")
_SPACE_BEFORE_MARK = re.compile(r"\s+([,;:.])")
_GCIDE_SKIP = ("Syn:", "Note:")


def _clean_gcide(block: str) -> str:
    text = _PRONUNCIATION.sub(" ", block)
    previous = None
    while previous != text:  # innermost brackets first, so nested etymologies go too
        previous, text = text, _BRACKETS.sub(" ", text)
    text = _PARENS_MARKUP.sub(" ", text)
    text = _INWORD_MARKS.sub("", text.replace("{", "").replace("}", ""))
    text = _CITATION.sub(" ", text)
    text = _NUMBERING.sub(" ", text)
    text = _LONE_QUESTION.sub(" ", text)
    text = _SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", text))
    return text.strip(" ,;")


def gcide_paragraphs(
    dict_file: Path, index: Path | None = None, min_words: int = 4
) -> Iterator[str]:
    """Definition and quotation paragraphs of the GCIDE dictd database, markup removed.

    The ``.dict.dz`` is dictzip, readable as gzip, so it is streamed line by line; paragraphs are
    blank-line separated blocks. Pronunciations, etymologies in brackets, source tags such as
    ``[1913 Webster]``, cross-reference braces and ``--Author`` citations are stripped.
    """
    start = _gcide_start(index)
    try:
        with (
            gzip.open(dict_file, "rb")
            if dict_file.suffix == ".dz"
            else dict_file.open("rb") as handle
        ):
            handle.read(start)
            block: list[str] = []
            for raw in handle:
                line = raw.decode("utf-8", errors="replace").strip()
                if line:
                    block.append(line)
                    continue
                if block:
                    yield from _gcide_block(block, min_words)
                    block = []
            if block:
                yield from _gcide_block(block, min_words)
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{dict_file} is not a readable dictd file ({exc})", "") from None


def _gcide_block(block: list[str], min_words: int) -> Iterator[str]:
    if block[0].startswith(_GCIDE_SKIP):
        return
    text = _clean_gcide(" ".join(block))
    if len(text.split()) >= min_words:
        yield text


def wordnet_glosses(folder: Path) -> Iterator[str]:
    """Each WordNet synset as ``lemma, lemma: gloss``, from ``data.{noun,verb,adj,adv}``.

    Putting the synonyms beside their definition is what makes this small corpus useful for
    word similarity: synonyms share a context.
    """
    for part in ("noun", "verb", "adj", "adv"):
        path = folder / f"data.{part}"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("  ") or " | " not in line:
                    continue  # licence header
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                try:
                    count = int(fields[3], 16)
                except (IndexError, ValueError):
                    continue
                lemmas = [
                    re.sub(r"\(\w+\)$", "", word).replace("_", " ")
                    for word in fields[4 : 4 + 2 * count : 2]
                ]
                yield f"{', '.join(lemmas)}: {_SPACES.sub(' ', gloss).strip()}"
