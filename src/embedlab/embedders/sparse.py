"""One-hot, count and TF-IDF embedders: the classic bag-of-words vectors, on scikit-learn.

Tokenisation is scikit-learn's own (``CountVectorizer.build_analyzer``), so these models give the
same vectors as ``CountVectorizer`` / ``TfidfVectorizer`` with the same settings. Fitting differs
in one way: it streams. The corpus is read once and only term counts are kept (memory grows with
the vocabulary, never with the number of documents), so a corpus of any size can be a generator
or a file path.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts
from embedlab.embedders.options import Option, declare
from embedlab.embedders.saving import load_array, load_json, save_array, save_json
from embedlab.errors import InputError, ModelFormatError
from embedlab.progress import progress_bar
from embedlab.text.readers import read_texts

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import CountVectorizer

ANALYZERS = ("word", "char", "char_wb")
NORMS = ("l1", "l2", None)
# Character unigrams are nearly useless as features, so char analyzers default to 3-5 grams.
DEFAULT_NGRAMS = {"word": (1, 1), "char": (3, 5), "char_wb": (3, 5)}
# scikit-learn's default word pattern; used only to recover character offsets of word tokens.
_WORD_PATTERN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class _Settings:
    """The constructor parameters, checked and resolved (``ngram_range`` filled in)."""

    analyzer: str
    ngram_range: tuple[int, int]
    lowercase: bool
    max_features: int | None
    min_df: int | float
    max_df: int | float
    binary: bool


def _check_fraction_or_count(name: str, value: Any) -> None:
    """min_df/max_df follow scikit-learn: an int is a document count, a float a fraction."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"{name} must be an int or a float, got {value!r}", f"e.g. {name}=2")
    if isinstance(value, Integral):
        if value < 0:
            raise InputError(f"{name} must not be negative, got {value}", f"e.g. {name}=1")
    elif not 0.0 <= float(value) <= 1.0:
        raise InputError(
            f"{name} as a float is a fraction of documents and must be in [0, 1], got {value}",
            "pass a float such as 0.9, or an int for a document count",
        )


# every option is fixed once fitted: the vocabulary (and idf) depend on all of them; values are
# kept as given (checked together in _settings), as scikit-learn's clone checks identity
_COMMON_OPTIONS = declare(
    Option("analyzer", "word"),
    Option("ngram_range", None),
    Option("lowercase", True),
    Option("max_features", 4096),
    Option("min_df", 1),
    Option("max_df", 1.0),
)


class _VocabularyEmbedder(Embedder):
    """Shared machinery: streamed vocabulary fit, sparse transform, token walkthrough, save/load.

    Subclasses set ``method`` and may override :meth:`_weight` (how raw counts become the vector)
    and :meth:`_pooling` (how that is described in the token walkthrough).
    """

    trainable: ClassVar[bool] = True
    _always_binary: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # checks them all (_check_values): fail now, not after a fit
        self._vocab: list[str] | None = None
        self._index: dict[str, int] | None = None
        self._n_documents: int | None = None
        self._vectorizer: CountVectorizer | None = None

    # -- parameters ------------------------------------------------------------------------
    def _check_values(self, values: dict[str, Any]) -> None:
        self._settings(values)

    def _settings(self, values: dict[str, Any] | None = None) -> _Settings:
        """Check the options (``self.params`` unless ``values``) and resolve them.

        Params are stored exactly as given, because scikit-learn's ``clone`` checks identity.
        """
        p = self.params if values is None else values
        analyzer = p.get("analyzer", "word")
        if analyzer not in ANALYZERS:
            raise InputError(
                f"analyzer must be one of {', '.join(ANALYZERS)}, got {analyzer!r}",
                "use 'word' for words, 'char_wb' for character n-grams inside words",
            )
        ngrams = p.get("ngram_range")
        if ngrams is None:
            ngrams = DEFAULT_NGRAMS[analyzer]
        if (
            not isinstance(ngrams, list | tuple)
            or len(ngrams) != 2
            or not all(isinstance(n, Integral) and not isinstance(n, bool) for n in ngrams)
            or not 1 <= ngrams[0] <= ngrams[1]
        ):
            raise InputError(
                f"ngram_range must be two ints (min_n, max_n) with 1 <= min_n <= max_n, got {ngrams!r}",
                "e.g. ngram_range=(1, 2) for words and word pairs",
            )
        max_features = p.get("max_features", 4096)
        if max_features is not None and (
            isinstance(max_features, bool)
            or not isinstance(max_features, Integral)
            or max_features < 1
        ):
            raise InputError(
                f"max_features must be a positive int or None, got {max_features!r}",
                "e.g. max_features=4096, or None for no limit",
            )
        min_df, max_df = p.get("min_df", 1), p.get("max_df", 1.0)
        _check_fraction_or_count("min_df", min_df)
        _check_fraction_or_count("max_df", max_df)
        return _Settings(
            analyzer=analyzer,
            ngram_range=(int(ngrams[0]), int(ngrams[1])),
            lowercase=bool(p.get("lowercase", True)),
            max_features=None if max_features is None else int(max_features),
            min_df=min_df,
            max_df=max_df,
            binary=self._always_binary or bool(p.get("binary", False)),
        )

    def _count_vectorizer(
        self, settings: _Settings, vocabulary: dict[str, int] | None = None
    ) -> CountVectorizer:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            analyzer=settings.analyzer,
            ngram_range=settings.ngram_range,
            lowercase=settings.lowercase,
            binary=settings.binary,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    # -- state -----------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return self._vocab is not None

    @property
    def dim(self) -> int:
        self._require_fitted()
        assert self._vocab is not None
        return len(self._vocab)

    @property
    def vocabulary(self) -> list[str]:
        """The terms in column order (alphabetical, as scikit-learn orders them)."""
        self._require_fitted()
        assert self._vocab is not None
        return list(self._vocab)

    @property
    def n_documents(self) -> int:
        """How many documents the model was fitted on."""
        self._require_fitted()
        assert self._n_documents is not None
        return self._n_documents

    def _set_vocabulary(self, vocab: list[str], n_documents: int) -> None:
        self._vocab = vocab
        self._index = {term: i for i, term in enumerate(vocab)}
        self._n_documents = n_documents
        # Built once and primed, so transform never mutates it (safe to share across threads).
        vectorizer = self._count_vectorizer(self._settings(), self._index)
        vectorizer.transform([""])
        self._vectorizer = vectorizer

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self, corpus: Iterable[str] | os.PathLike[str], y: Any = None, *, progress: bool = False
    ) -> Self:
        """Learn the vocabulary (and idf) in one pass over ``corpus``.

        ``corpus`` is any iterable of strings (a list, a generator) or a path to a .txt/.jsonl/
        .csv/.parquet file; ``y`` is ignored (it is there for scikit-learn pipelines).
        """
        settings = self._settings()
        texts = self._open_corpus(corpus)
        total = len(texts) if isinstance(texts, Sequence) else None
        analyze = self._count_vectorizer(settings).build_analyzer()

        term_counts: Counter[str] = Counter()  # total occurrences, ranks max_features
        doc_counts: Counter[str] = Counter()  # documents containing the term: min_df/max_df/idf
        n_docs = 0
        with progress_bar(f"fitting {self.name}", total, enabled=progress) as advance:
            for i, text in enumerate(texts):
                if not isinstance(text, str):
                    raise InputError(
                        f"corpus item {i} is a {type(text).__name__}, not a string",
                        "convert every item to str before fitting",
                    )
                terms = analyze(text)
                term_counts.update(terms)
                doc_counts.update(set(terms))
                n_docs += 1
                advance(1)

        if n_docs == 0:
            raise InputError(
                "the corpus is empty", "pass at least one text, e.g. fit(['first text', ...])"
            )
        if not doc_counts:
            raise InputError(
                f"no terms found in the {n_docs} corpus texts (scikit-learn's word analyzer "
                "keeps only words of 2+ letters or digits)",
                "pass real text, or use analyzer='char_wb' for very short texts",
            )
        vocab, dfs = self._choose_vocabulary(settings, n_docs, term_counts, doc_counts)
        self._fit_weights(dfs, n_docs)
        self._set_vocabulary(vocab, n_docs)
        return self

    @staticmethod
    def _open_corpus(corpus: Any) -> Iterable[Any]:
        if isinstance(corpus, str | bytes):
            raise InputError(
                "fit() got a single string as the corpus",
                "pass a list of texts, e.g. fit([text]), or a pathlib.Path to a corpus file",
            )
        if isinstance(corpus, os.PathLike):
            return read_texts(Path(corpus), skip_empty=True)
        if isinstance(corpus, np.ndarray):
            return corpus.tolist()
        if not isinstance(corpus, Iterable):
            raise InputError(
                f"the corpus must be an iterable of strings, got {type(corpus).__name__}",
                "pass a list or generator of texts, or a pathlib.Path to a corpus file",
            )
        return corpus

    @staticmethod
    def _choose_vocabulary(
        settings: _Settings, n_docs: int, term_counts: Counter[str], doc_counts: Counter[str]
    ) -> tuple[list[str], np.ndarray]:
        """Pick the vocabulary exactly as ``CountVectorizer.fit`` does; return it and its dfs.

        Mirrors ``_sort_features`` + ``_limit_features``: terms sorted alphabetically, filtered by
        document frequency, then the ``max_features`` most frequent kept, ranked by total count
        (by document count when binary, since scikit-learn binarises before ranking). The same
        ``argsort`` on the same array gives the same tie-breaking.
        """
        terms = sorted(doc_counts)
        dfs = np.fromiter((doc_counts[t] for t in terms), dtype=np.int64, count=len(terms))
        high = (
            settings.max_df if isinstance(settings.max_df, Integral) else settings.max_df * n_docs
        )
        low = settings.min_df if isinstance(settings.min_df, Integral) else settings.min_df * n_docs
        if high < low:
            raise InputError(
                f"max_df={settings.max_df} allows fewer documents than min_df={settings.min_df}",
                "raise max_df or lower min_df",
            )
        mask = (dfs <= high) & (dfs >= low)
        limit = settings.max_features
        if limit is not None and mask.sum() > limit:
            if settings.binary:
                tfs = dfs
            else:
                tfs = np.fromiter((term_counts[t] for t in terms), dtype=np.int64, count=len(terms))
            keep = (-tfs[mask]).argsort()[:limit]
            new_mask = np.zeros(len(dfs), dtype=bool)
            new_mask[np.where(mask)[0][keep]] = True
            mask = new_mask
        kept = np.flatnonzero(mask)
        if kept.size == 0:
            raise InputError(
                f"no term is left after min_df={settings.min_df} and max_df={settings.max_df} "
                f"filtering of {len(terms)} terms in {n_docs} documents",
                "lower min_df or raise max_df",
            )
        return [terms[i] for i in kept], dfs[kept]

    def _fit_weights(self, dfs: np.ndarray, n_docs: int) -> None:
        """Learn per-term weights from document frequencies (TF-IDF's idf); none by default."""

    # -- embedding -------------------------------------------------------------------------
    def _counts(self, texts: list[str]) -> csr_matrix:
        """Raw term counts (or 0/1 when binary) of validated texts, float64 CSR."""
        assert self._vectorizer is not None
        from scipy.sparse import csr_matrix

        return csr_matrix(self._vectorizer.transform(texts))

    def _weight(self, counts: csr_matrix) -> csr_matrix:
        """Turn raw counts into the model's vector; counts are used as they are by default."""
        return counts

    def embed_sparse(self, texts: Sequence[str] | str) -> csr_matrix:
        """Like :meth:`embed` but a float32 ``scipy.sparse.csr_matrix``: these vectors are mostly
        zeros, so sparse output saves memory for large vocabularies."""
        items = check_texts(texts)
        self._require_fitted()
        return self._weight(self._counts(items)).astype(np.float32)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._weight(self._counts(texts)).toarray().astype(np.float32, copy=False)

    # -- token walkthrough -----------------------------------------------------------------
    def _token_weights(self) -> np.ndarray | None:
        """Per-column weight of a token's lookup row (idf for TF-IDF); None means 1."""
        return None

    def _pooling(self) -> str:
        """How the lookup rows add up to the vector, in words: the max of one-hots when counts
        are binary (one-hot, binary count), else their sum; TF-IDF adds its weighting."""
        if self._settings().binary:
            return "max over the one-hot rows (binary presence of each term)"
        return "sum of the one-hot rows (term counts)"

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Terms of ``text`` as the analyzer makes them, their columns and one-hot lookup rows."""
        (text,) = check_texts([text])
        self._require_fitted()
        assert self._vectorizer is not None and self._index is not None
        tokens: list[str] = list(self._vectorizer.build_analyzer()(text))
        ids = [self._index.get(t, -1) for t in tokens]
        lookup = np.zeros((len(tokens), self.dim), dtype=np.float32)
        weights = self._token_weights()
        for row, col in enumerate(ids):
            if col >= 0:
                lookup[row, col] = 1.0 if weights is None else weights[col]
        notes = []
        oov = [t for t, i in zip(tokens, ids, strict=True) if i < 0]
        if not tokens:
            notes.append("the analyzer found no terms in this text, so its vector is all zeros")
        if oov:
            shown = ", ".join(repr(t) for t in dict.fromkeys(oov) if t)
            notes.append(
                f"{len(oov)} of {len(tokens)} tokens are out of vocabulary (id -1, zero lookup "
                f"row) and do not count: {shown[:300]}"
            )
        settings = self._settings()
        if settings.analyzer == "word":
            notes.append("scikit-learn's word analyzer drops punctuation and one-character words")
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=tokens,
            ids=ids,
            lookup=lookup,
            vector=self._embed_batch([text])[0],
            pooling=self._pooling(),
            offsets=_word_offsets(text, tokens, settings),
            contextual=None,
            notes=notes,
        )

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        assert self._vocab is not None
        return {
            "vocabulary_file": save_json(folder, "vocabulary", self._vocab),
            "n_documents": self._n_documents,
        }

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        vocab = load_json(folder, meta.get("vocabulary_file", "vocabulary.json"))
        if (
            not isinstance(vocab, list)
            or not vocab
            or not all(isinstance(t, str) for t in vocab)
            or len(set(vocab)) != len(vocab)
        ):
            raise ModelFormatError(
                f"the vocabulary in {folder} is not a non-empty list of distinct strings",
                "re-save the model",
            )
        n_documents = meta.get("n_documents")
        if isinstance(n_documents, bool) or not isinstance(n_documents, int) or n_documents < 1:
            raise ModelFormatError(
                f"{folder} records no valid n_documents ({n_documents!r})", "re-save the model"
            )
        self._load_weights(folder, meta, len(vocab))
        self._set_vocabulary(vocab, n_documents)

    def _load_weights(self, folder: Path, meta: dict[str, Any], size: int) -> None:
        """Read back what :meth:`_fit_weights` learned; nothing by default."""


def _word_offsets(
    text: str, tokens: list[str], settings: _Settings
) -> list[tuple[int, int]] | None:
    """Character spans of word tokens (n-grams span first to last word), when they line up.

    Rebuilds scikit-learn's word n-gram order; gives None for character analyzers or whenever
    the rebuilt terms do not match the analyzer's (e.g. lowercasing changed the text's length).
    """
    if settings.analyzer != "word":
        return None
    source = text.lower() if settings.lowercase else text
    if len(source) != len(text):
        return None
    matches = list(_WORD_PATTERN.finditer(source))
    words = [m.group() for m in matches]
    spans = [m.span() for m in matches]
    min_n, max_n = settings.ngram_range
    terms: list[str] = []
    offsets: list[tuple[int, int]] = []
    for n in range(min_n, min(max_n, len(words)) + 1):
        for i in range(len(words) - n + 1):
            terms.append(" ".join(words[i : i + n]))
            offsets.append((spans[i][0], spans[i + n - 1][1]))
    return offsets if terms == tokens else None


_COMMON_DOC = """
    analyzer: "word", "char" or "char_wb" (character n-grams padded inside word boundaries).
    ngram_range: (min_n, max_n); default (1, 1) for words, (3, 5) for characters.
    lowercase: lowercase before tokenising.
    max_features: keep only the most frequent terms (the vector length); None for no limit.
    min_df: drop terms in fewer documents (int: a count, float: a fraction).
    max_df: drop terms in more documents (float: a fraction, int: a count)."""


class OneHotEmbedder(_VocabularyEmbedder):
    __doc__ = (
        "Bag of one-hots: 1 where a vocabulary term occurs in the text, else 0.\n\n"
        "Same as ``CountVectorizer(binary=True)``; the simplest baseline.\n" + _COMMON_DOC
    )

    method: ClassVar[str] = "onehot"
    options = _COMMON_OPTIONS
    _always_binary: ClassVar[bool] = True

    def __init__(
        self,
        *,
        analyzer: str = "word",
        ngram_range: Sequence[int] | None = None,
        lowercase: bool = True,
        max_features: int | None = 4096,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
    ) -> None:
        super().__init__(
            analyzer=analyzer,
            ngram_range=ngram_range,
            lowercase=lowercase,
            max_features=max_features,
            min_df=min_df,
            max_df=max_df,
        )


class CountEmbedder(_VocabularyEmbedder):
    __doc__ = (
        "Term counts: how often each vocabulary term occurs in the text.\n\n"
        "Same as ``CountVectorizer``; ``binary=True`` gives presence (as :class:`OneHotEmbedder`).\n"
        + _COMMON_DOC
    )

    method: ClassVar[str] = "count"
    options = declare(_COMMON_OPTIONS, Option("binary", False))

    def __init__(
        self,
        *,
        analyzer: str = "word",
        ngram_range: Sequence[int] | None = None,
        lowercase: bool = True,
        max_features: int | None = 4096,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        binary: bool = False,
    ) -> None:
        super().__init__(
            analyzer=analyzer,
            ngram_range=ngram_range,
            lowercase=lowercase,
            max_features=max_features,
            min_df=min_df,
            max_df=max_df,
            binary=binary,
        )


class TfidfEmbedder(_VocabularyEmbedder):
    __doc__ = (
        "TF-IDF: term frequency scaled by inverse document frequency, L2-normalised.\n\n"
        "Same as ``TfidfVectorizer(sublinear_tf=True)`` by default: log-scaled counts stop one "
        "repeated word dominating, and idf down-weights words every document has.\n"
        + _COMMON_DOC
        + """
    sublinear_tf: use 1 + ln(tf) instead of tf.
    smooth_idf: idf = ln((1 + n) / (1 + df)) + 1, as if one extra document held every term.
    norm: "l2", "l1" or None."""
    )

    method: ClassVar[str] = "tfidf"
    options = declare(
        _COMMON_OPTIONS,
        Option("sublinear_tf", True),
        Option("smooth_idf", True),
        Option("norm", "l2"),
    )

    def __init__(
        self,
        *,
        analyzer: str = "word",
        ngram_range: Sequence[int] | None = None,
        lowercase: bool = True,
        max_features: int | None = 4096,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        sublinear_tf: bool = True,
        smooth_idf: bool = True,
        norm: str | None = "l2",
    ) -> None:
        super().__init__(
            analyzer=analyzer,
            ngram_range=ngram_range,
            lowercase=lowercase,
            max_features=max_features,
            min_df=min_df,
            max_df=max_df,
            sublinear_tf=sublinear_tf,
            smooth_idf=smooth_idf,
            norm=norm,
        )
        self._idf: np.ndarray | None = None

    def _settings(self, values: dict[str, Any] | None = None) -> _Settings:
        norm = (self.params if values is None else values).get("norm", "l2")
        if norm not in NORMS:
            raise InputError(f"norm must be 'l2', 'l1' or None, got {norm!r}", "use norm='l2'")
        return super()._settings(values)

    @property
    def idf_(self) -> np.ndarray:
        """Inverse document frequency of each vocabulary term, in column order (float64)."""
        self._require_fitted()
        assert self._idf is not None
        return self._idf

    def _fit_weights(self, dfs: np.ndarray, n_docs: int) -> None:
        smooth = int(bool(self.params.get("smooth_idf", True)))
        self._idf = np.log((n_docs + smooth) / (dfs.astype(np.float64) + smooth)) + 1.0

    def _weight(self, counts: csr_matrix) -> csr_matrix:
        from sklearn.preprocessing import normalize

        assert self._idf is not None
        if self.params.get("sublinear_tf", True):
            np.log(counts.data, out=counts.data)
            counts.data += 1.0
        counts.data *= self._idf[counts.indices]
        norm = self.params.get("norm", "l2")
        return normalize(counts, norm=norm, copy=False) if norm else counts

    def _token_weights(self) -> np.ndarray | None:
        return self._idf

    def _pooling(self) -> str:
        tf = "1 + ln(count)" if self.params.get("sublinear_tf", True) else "count"
        norm = self.params.get("norm", "l2")
        return f"sum of idf-weighted one-hots with tf = {tf}" + (
            f", {norm}-normalised" if norm else ""
        )

    def _save_state(self, folder: Path) -> dict[str, Any]:
        assert self._idf is not None
        return {**super()._save_state(folder), "idf_file": save_array(folder, "idf", self._idf)}

    def _load_weights(self, folder: Path, meta: dict[str, Any], size: int) -> None:
        idf = load_array(folder, meta.get("idf_file", "idf.npy"))
        if idf.shape != (size,) or idf.dtype.kind != "f" or not np.all(np.isfinite(idf)):
            raise ModelFormatError(
                f"the idf array in {folder} has shape {idf.shape} and dtype {idf.dtype}, "
                f"expected {size} finite floats (one per vocabulary term)",
                "re-save the model",
            )
        self._idf = idf.astype(np.float64, copy=False)


__all__ = ["CountEmbedder", "OneHotEmbedder", "TfidfEmbedder"]
