"""Training corpora for word models as restartable streams of token lists.

Word models read their corpus several times (a vocabulary pass, then one pass per epoch), but a
user's corpus may be a one-shot generator or a file too big for memory. ``TokenCorpus`` therefore
tokenizes once, while the first pass streams, into a temporary file of space-separated tokens;
later passes read that file back, which is also several times faster than re-tokenizing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from embedlab.errors import InputError
from embedlab.progress import progress_bar
from embedlab.text.readers import FORMATS, read_texts
from embedlab.text.tokenize import words

# gensim's C loops silently ignore words past this many in one text; longer texts are split.
MAX_TOKENS_PER_TEXT = 10_000

CorpusSource = str | os.PathLike[str] | Iterable[str] | Iterable[list[str]]


def corpus_files(folder: Path) -> list[Path]:
    """The readable text files of a folder (recursively, in a stable order)."""

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
    if not files:
        raise InputError(
            f"the folder {folder} holds no .txt, .jsonl, .csv or .parquet files",
            "pass a folder of text files, a file, or a list of texts",
        )
    return files


def iter_texts(source: CorpusSource, field: str | None = None) -> Iterator[str | list[str]]:
    """Stream the raw items of ``source``: texts from files (a text a line), or the iterable's items."""

    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise InputError(f"no corpus at {path}", "pass a file, a folder or a list of texts")
        for file in corpus_files(path) if path.is_dir() else [path]:
            yielded = False
            try:
                for text in read_texts(file, field=field, skip_empty=True):
                    yielded = True
                    yield text
            except InputError:
                if yielded or not path.is_dir():
                    raise
                # an empty file inside a folder is skipped; an empty corpus is caught later
        return
    if isinstance(source, bytes):
        raise InputError("the corpus is bytes", "decode it to str first")
    try:
        iterator = iter(source)
    except TypeError:
        raise InputError(
            f"a corpus must be a path or an iterable of texts, got {type(source).__name__}",
            "pass a .txt/.jsonl file, a folder of them, or a list of strings",
        ) from None
    yield from iterator  # type: ignore[misc]  # texts, or token lists as gensim takes


class TokenCorpus:
    """Token lists of a corpus, re-iterable: ``for tokens in corpus: ...`` as often as needed.

    ``source`` is a file (.txt a text a line, .jsonl/.csv/.parquet with ``field``), a folder of
    them, or any iterable of texts (or of token lists, as gensim takes). Texts are tokenized with
    :func:`embedlab.text.tokenize.words`, the same tokenizer the embedders use at query time.
    """

    def __init__(
        self,
        source: CorpusSource,
        *,
        field: str | None = None,
        lowercase: bool = True,
        max_tokens: int = MAX_TOKENS_PER_TEXT,
    ) -> None:
        if isinstance(source, str) and not source.strip():
            raise InputError("the corpus path is empty", "pass a file, folder or list of texts")
        if isinstance(source, TokenCorpus):
            source = source.source
        self.source: CorpusSource = source
        self.field = field
        self.lowercase = lowercase
        self.max_tokens = max_tokens
        self.texts = 0  # counted on the first pass (pieces of long texts count once each)
        self.tokens = 0
        self.text_ids = array("q")  # each piece's position in the source (for document tags)
        self.documents = 0  # source positions seen (the last one + 1)
        self._cache: Path | None = None
        self._finalizer: Any = None

    def __iter__(self) -> Iterator[list[str]]:
        if self._cache is not None:
            return self._read_cache()
        return self._first_pass()

    def _first_pass(self) -> Iterator[list[str]]:
        handle, name = tempfile.mkstemp(prefix="embedlab-corpus-", suffix=".txt")
        texts = tokens = 0
        text_ids = array("q")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                for position, item in enumerate(iter_texts(self.source, self.field)):
                    if isinstance(item, str):
                        toks = words(item, lowercase=self.lowercase)
                    elif isinstance(item, list | tuple) and all(isinstance(t, str) for t in item):
                        toks = [t for t in item if t and not t.isspace()]
                    else:
                        raise InputError(
                            f"corpus item {position} is a {type(item).__name__}, not a text",
                            "pass texts (str) or lists of tokens",
                        )
                    if not toks:
                        continue
                    for start in range(0, len(toks), self.max_tokens):
                        piece = toks[start : start + self.max_tokens]
                        out.write(" ".join(piece) + "\n")
                        text_ids.append(position)
                        texts += 1
                        tokens += len(piece)
                        yield piece
        except BaseException:
            os.unlink(name)
            raise
        if tokens == 0:
            os.unlink(name)
            raise InputError(
                "the corpus holds no words", "pass a file or list with at least one non-empty text"
            )
        self.texts, self.tokens, self.text_ids = texts, tokens, text_ids
        self.documents = text_ids[-1] + 1
        self._cache = Path(name)
        self._finalizer = weakref.finalize(self, _remove, name)

    def _read_cache(self) -> Iterator[list[str]]:
        assert self._cache is not None
        with self._cache.open(encoding="utf-8") as handle:
            for line in handle:
                yield line.rstrip("\n").split(" ")

    def scan(self, progress: Callable[[int], None] | None = None) -> TokenCorpus:
        """Run the first pass now (tokenize and cache), so counts are known before training."""
        if self._cache is None:
            for _ in self:
                if progress is not None:
                    progress(1)
        return self

    def close(self) -> None:
        """Delete the token cache now rather than when the corpus is garbage-collected."""
        if self._finalizer is not None:
            self._finalizer()
        self._cache = None


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


@contextlib.contextmanager
def read_corpus(
    corpus: CorpusSource, field: str | None, lowercase: bool, progress: bool
) -> Iterator[TokenCorpus]:
    """Tokenize the corpus once (cached on disk for the later passes), with a progress bar;
    the cache is deleted when the block ends, however it ends (its counts stay readable)."""

    tokens = TokenCorpus(corpus, field=field, lowercase=lowercase)
    try:
        with progress_bar("reading corpus (texts)", None, enabled=progress) as advance:
            tokens.scan(advance)
        yield tokens
    finally:
        tokens.close()


def no_words_error(tokens: TokenCorpus, min_count: int) -> InputError:
    return InputError(
        f"no word occurs at least min_count={min_count} times in the corpus "
        f"({tokens.tokens} tokens in {tokens.texts} texts)",
        "lower min_count, or train on a larger corpus",
    )
