"""Word vectors with gensim's verbs, and the text embedder that averages them.

``WordVectors`` is only the vectors (and, when known, each word's corpus count), kept apart from
any model or training state as gensim's ``KeyedVectors`` are, so the same object serves lookups,
analogies, evaluation and file export. ``WordVectorEmbedder`` makes any word model a text
Embedder: a text's vector is the plain or SIF-weighted mean of its words' vectors, optionally
minus its projection on the corpus's common components (the second step of SIF).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from numbers import Real
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from embedlab import catalogue
from embedlab.checks import flag, one_of
from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts, l2_normalize
from embedlab.embedders.options import LOAD, Option, declare
from embedlab.embedders.saving import load_array, load_json, save_array, save_json
from embedlab.embedders.words.corpus import iter_texts
from embedlab.embedders.words.formats import read_word_vectors, save_word_vectors
from embedlab.errors import InputError, ModelFormatError, NotFittedError, UnknownWordError
from embedlab.progress import progress_bar
from embedlab.text.tokenize import word_tokens

POOLINGS = ("mean", "sif")
DEFAULT_SIF_A = 1e-3

WordOrVector = str | np.ndarray


class WordVectors:
    """Vectors by word: ``kv["king"]``, ``"king" in kv``, ``most_similar``, ``analogy``, ...

    ``words`` are in row order (frequency order for trained and most published vectors, which
    ``restrict_vocab`` relies on); ``counts`` are corpus counts when the training corpus is known.
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        counts: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        words = list(words)
        if vectors.ndim != 2 or len(words) != vectors.shape[0]:
            raise InputError(
                f"{len(words)} words but vectors of shape {vectors.shape}",
                "pass one vector (row) per word",
            )
        self.words: list[str] = words
        # float32 as given; a memory-mapped array stays mapped (nothing is read until needed)
        self.vectors: np.ndarray = (
            vectors if vectors.dtype == np.float32 else vectors.astype(np.float32)
        )
        self.index: dict[str, int] = dict(zip(words, range(len(words)), strict=True))
        if len(self.index) != len(words):
            raise InputError("the word list has duplicates", "pass each word once")
        self.counts: np.ndarray | None = None
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(words),):
                raise InputError(
                    f"{len(counts)} counts for {len(words)} words", "pass one count per word"
                )
            self.counts = counts
        self._unit: np.ndarray | None = None

    # -- vocabulary --------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    vector_size = dim  # gensim's name

    @property
    def index_to_key(self) -> list[str]:
        """gensim's name for :attr:`words`."""
        return self.words

    @property
    def key_to_index(self) -> dict[str, int]:
        """gensim's name for :attr:`index`."""
        return self.index

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} words, dim={self.dim})"

    def get_index(self, word: str) -> int:
        """The row of ``word``; unknown words raise :class:`UnknownWordError` with a hint."""
        try:
            return self.index[word]
        except (KeyError, TypeError):
            raise self._unknown(word) from None

    def _unknown(self, word: object) -> UnknownWordError:
        hint = f"check the spelling; the vocabulary has {len(self)} words"
        if isinstance(word, str) and word.lower() in self.index and word != word.lower():
            hint = f"the vocabulary is lowercase: try {word.lower()!r}"
        return UnknownWordError(f"the word {word!r} is not in the vocabulary", hint)

    def get_count(self, word: str) -> int:
        """How often ``word`` occurred in the training corpus."""
        index = self.get_index(word)
        if self.counts is None:
            raise InputError(
                "these vectors carry no word counts",
                "counts are known for models trained here; files and packaged vectors lack them",
            )
        return int(self.counts[index])

    def most_frequent(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` most frequent words with their counts (rows are frequency-ordered)."""
        if self.counts is None:
            return [(w, 0) for w in self.words[:n]]
        order = np.argsort(-self.counts, kind="stable")[:n]
        return [(self.words[i], int(self.counts[i])) for i in order]

    # -- vectors -----------------------------------------------------------------------------
    def oov_vector(self, word: str) -> np.ndarray | None:
        """A vector for a word outside the vocabulary, if the model can make one (subwords)."""
        return None

    def has_vector(self, word: str) -> bool:
        """True if ``kv[word]`` works: the word is known, or subwords can build it."""
        return word in self.index or self.oov_vector(word) is not None

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """A copy of ``word``'s vector (unit length with ``norm=True``)."""
        index = self.index.get(word) if isinstance(word, str) else None
        vector: np.ndarray | None
        if index is not None:
            vector = np.array(self.vectors[index], dtype=np.float32)
        else:
            vector = self.oov_vector(word) if isinstance(word, str) else None
            if vector is None:
                raise self._unknown(word)
        return l2_normalize(vector) if norm else vector

    def __getitem__(self, word: str | Sequence[str]) -> np.ndarray:
        if isinstance(word, str):
            return self.get_vector(word)
        return np.stack([self.get_vector(w) for w in word])

    @property
    def unit_vectors(self) -> np.ndarray:
        """Row-normalised copy for cosine searches, made on first use."""
        if self._unit is None:
            self._unit = l2_normalize(np.ascontiguousarray(self.vectors, dtype=np.float32))
        return self._unit

    def _query(self, item: WordOrVector) -> tuple[np.ndarray, int | None]:
        """A unit vector for a word or raw vector, and the word's row (to exclude from results)."""
        if isinstance(item, np.ndarray):
            if item.shape != (self.dim,):
                raise InputError(
                    f"a query vector has shape {item.shape}", f"pass vectors of {self.dim} dims"
                )
            return l2_normalize(item.astype(np.float32)), None
        index = self.index.get(item) if isinstance(item, str) else None
        if index is not None:
            return self.unit_vectors[index], index
        return self.get_vector(item, norm=True), None

    # -- verbs -------------------------------------------------------------------------------
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self._query(a)[0] @ self._query(b)[0])

    def most_similar(
        self,
        positive: WordOrVector | Sequence[WordOrVector] = (),
        negative: WordOrVector | Sequence[WordOrVector] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest words by cosine to mean(positive) - mean(negative), query words excluded.

        ``most_similar(positive=["king", "woman"], negative=["man"])`` is the classic analogy
        (3CosAdd). ``restrict_vocab`` searches only the first N (most frequent) words.
        """
        positive = _as_list(positive)
        negative = _as_list(negative)
        if not positive and not negative:
            raise InputError("most_similar needs at least one word", "pass positive=['king']")
        queries = [self._query(item) for item in positive + negative]
        signs = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
        query = l2_normalize((signs[:, None] * np.stack([q for q, _ in queries])).mean(axis=0))
        exclude = {index for _, index in queries if index is not None}
        return self._top(query, topn, restrict_vocab, exclude)

    def similar_by_vector(
        self, vector: np.ndarray, topn: int = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]]:
        """Nearest words to a raw vector (nothing excluded)."""
        return self._top(self._query(np.asarray(vector))[0], topn, restrict_vocab, set())

    similar_by_word = most_similar

    def _top(
        self, query: np.ndarray, topn: int, restrict_vocab: int | None, exclude: set[int]
    ) -> list[tuple[str, float]]:
        if topn < 1:
            raise InputError(f"topn must be at least 1, got {topn}", "use e.g. topn=10")
        unit = self.unit_vectors if restrict_vocab is None else self.unit_vectors[:restrict_vocab]
        scores = unit @ query
        excluded = [i for i in exclude if i < len(scores)]
        scores[excluded] = -np.inf
        count = min(topn, len(scores) - len(excluded))
        if count <= 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> str | list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ...? ``analogy("man", "king", "woman")`` -> "queen".

        The word nearest to b - a + c (3CosAdd), the three query words excluded; with ``topn``
        above 1, the ``topn`` best ``(word, score)`` pairs instead.
        """
        best = self.most_similar(positive=[b, c], negative=[a], topn=topn)
        if topn == 1:
            if not best:
                raise InputError("the vocabulary has no other word", "use a larger vocabulary")
            return best[0][0]
        return best

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of all of them ("breakfast cereal dinner lunch")."""
        words = _as_list(words)
        if len(words) < 2:
            raise InputError("doesnt_match needs at least two words", "pass e.g. 3 or 4 words")
        unit = np.stack([self._query(w)[0] for w in words])
        mean = l2_normalize(unit.mean(axis=0))
        return str(words[int(np.argmin(unit @ mean))])

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write a word2vec text/binary, GloVe .txt or fastText .vec file (by extension)."""

        return save_word_vectors(self, path, format=format)

    def save_word2vec_format(self, path: str | os.PathLike[str], binary: bool = False) -> Path:
        """gensim's spelling of :meth:`save` for the word2vec formats."""
        return self.save(path, format="word2vec-binary" if binary else "word2vec")

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], format: str | None = None, limit: int | None = None
    ) -> WordVectors:
        """Read a word2vec text/binary, GloVe .txt or fastText .vec file (never a pickle)."""

        return load_word_vectors(path, format=format, limit=limit)

    @classmethod
    def load_word2vec_format(
        cls, path: str | os.PathLike[str], binary: bool | None = None, limit: int | None = None
    ) -> WordVectors:
        """gensim's spelling of :meth:`load` (``binary=None`` detects the format)."""
        fmt = None if binary is None else ("word2vec-binary" if binary else "word2vec")
        return cls.load(path, format=fmt, limit=limit)


def _as_list(items: Any) -> list[Any]:
    if isinstance(items, str | np.ndarray):
        return [items]
    return list(items)


def sif_weights(kv: WordVectors, a: float = DEFAULT_SIF_A) -> np.ndarray:
    """SIF weights a / (a + p(w)) per row (Arora et al. 2017): frequent words count less.

    p(w) comes from the corpus counts when known; otherwise it is estimated from the row's rank
    with Zipf's law (p ~ 1 / rank), as published vectors are stored most frequent first.
    """
    if kv.counts is not None and kv.counts.sum() > 0:
        proba = kv.counts / kv.counts.sum()
    else:
        inverse_rank = 1.0 / np.arange(2, len(kv) + 2)
        proba = inverse_rank / inverse_rank.sum()
    return (a / (a + proba)).astype(np.float32)


def _check_sif_a(name: str, sif_a: Any) -> float:
    if isinstance(sif_a, bool) or not isinstance(sif_a, Real) or not float(sif_a) > 0:
        raise InputError(f"sif_a must be positive, got {sif_a}", "use e.g. 1e-3")
    return float(sif_a)


# how a text's vector is pooled from its words' vectors: a fitted or loaded model may change
# these (the vectors stay the same); pooling and sif_a stay out of params at their defaults, so
# folders saved before they existed read the same
TEXT_OPTIONS = declare(
    Option("lowercase", True, LOAD, flag),
    Option(
        "pooling",
        "mean",
        LOAD,
        one_of(POOLINGS, f"use one of: {', '.join(POOLINGS)}"),
        omit_default=True,
    ),
    Option("sif_a", DEFAULT_SIF_A, LOAD, _check_sif_a, omit_default=True),
)


class WordVectorEmbedder(Embedder):
    """A text's vector is the mean (or SIF-weighted mean) of its words' vectors.

    Unknown words are skipped, unless the vectors build them from subwords (fastText). Build it
    from your own ``words`` and ``vectors``, from a file with :meth:`from_file`, or from the
    packaged GloVe with :meth:`from_glove_package`; trained word models subclass it.

    ``remove_components=k`` (default 0: off) completes SIF (Arora et al. 2017): averaged word
    vectors share a few large directions (frequent words, syntax) that swamp what a text is
    about, so ``fit(corpus)`` finds the corpus's top ``k`` principal directions of the text
    vectors (uncentred, as in the paper) and ``embed`` subtracts each vector's projection on
    them. The directions are saved with the model (``components.npy``).
    """

    method = "word-vectors"
    options = declare(
        TEXT_OPTIONS,
        # fitted on a corpus with the model (fit / fit_common_components), so fixed; 0 turns
        # the fitted components off
        Option(
            "remove_components",
            0,
            check=lambda _, k: _check_components(k),
            omit_default=True,
            off=0,
        ),
    )
    data_arguments: ClassVar[tuple[str, ...]] = ("words", "vectors", "counts")

    def __init__(
        self,
        words: Sequence[str] | None = None,
        vectors: np.ndarray | None = None,
        *,
        counts: Sequence[int] | np.ndarray | None = None,
        lowercase: bool = True,
        pooling: str = "mean",
        sif_a: float = DEFAULT_SIF_A,
        remove_components: int = 0,
    ) -> None:
        super().__init__(
            lowercase=lowercase, pooling=pooling, sif_a=sif_a, remove_components=remove_components
        )
        self._start(words, vectors, counts)

    def _start(
        self,
        words: Sequence[str] | None,
        vectors: np.ndarray | None,
        counts: Sequence[int] | np.ndarray | None,
    ) -> None:
        """The state besides the options: the vectors, SIF weights and common components."""
        if (words is None) != (vectors is None):
            raise InputError("words and vectors go together", "pass both, or neither")
        self.vectors: WordVectors | None = (
            WordVectors(words, np.asarray(vectors), counts) if words is not None else None
        )
        self._sif: np.ndarray | None = None
        # (k, dim) unit directions removed from every text vector; fitted by fit_common_components
        # for the vectors in _components_of (retrained vectors need them fitted again)
        self.components: np.ndarray | None = None
        self._components_of: WordVectors | None = None

    @classmethod
    def from_vectors(cls, vectors: WordVectors, **params: Any) -> Self:
        """Wrap an existing :class:`WordVectors` (no copy)."""
        model = cls(**params)
        model.vectors = vectors
        return model

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        limit: int | None = None,
        **params: Any,
    ) -> Self:
        """Word vectors from a word2vec text/binary, GloVe .txt or fastText .vec file."""

        model = cls.from_vectors(load_word_vectors(path, format=format, limit=limit), **params)
        model.name = Path(path).name
        return model

    @classmethod
    def from_glove_package(cls, **params: Any) -> Self:
        """The packaged GloVe 6B 50d: 400k lowercase words; the matrix is memory-mapped."""
        import pyarrow.parquet as pq

        vectors_path, index_path = catalogue.glove_files()
        table = pq.read_table(index_path)
        words = table.column(0).to_pylist()
        vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        return cls(words, vectors, **params)

    # -- state -------------------------------------------------------------------------------
    @property
    def pooling(self) -> str:
        return self.params.get("pooling", "mean")

    @property
    def remove_components(self) -> int:
        return int(self.params.get("remove_components", 0))

    @property
    def is_fitted(self) -> bool:
        return self.vectors is not None and (
            self.components is not None or not self.remove_components
        )

    def _require_fitted(self) -> None:
        self._kv()  # "no vectors yet" says more than base's "not fitted"
        if self.components is None and self.remove_components:
            call = "" if self.trainable else ".fit(corpus) or "  # a trainer's fit trains
            raise NotFittedError(
                f"remove_components={self.remove_components} needs the common components of a "
                "corpus, which are not fitted yet",
                f"call {call}.fit_common_components(corpus) with texts like the ones you will "
                "embed, or drop remove_components",
            )

    def _kv(self) -> WordVectors:
        if self.vectors is None:
            if self.trainable:
                raise NotFittedError(
                    f"this {self.method} model has not been trained yet",
                    f"call .fit(corpus), or train one with `embedlab train {self.method}`",
                )
            raise NotFittedError(
                "this word-vector embedder has no vectors yet",
                "pass words= and vectors=, or use WordVectorEmbedder.from_file(path)",
            )
        return self.vectors

    @property
    def dim(self) -> int:
        return self._kv().dim

    def _params_changed(self, changed: set[str]) -> None:
        k = self.remove_components
        if k == 0 or (self.components is not None and len(self.components) != k):
            self.components = None  # off, or fitted for another k: fit again
        self._sif = None

    def _unknown_options(self, unknown: dict[str, Any]) -> None:
        if "remove_components" in unknown:  # trained models: their folders keep no such option
            raise InputError(
                f"{self.method} models take no remove_components setting",
                "call .fit_common_components(corpus, n_components) instead; the components "
                "are saved with the model all the same",
            )

    # -- common components (SIF's second step) -----------------------------------------------
    def fit(self, X: Any, y: Any = None, *, progress: bool = False) -> Self:  # noqa: N803
        """Pretrained vectors need no training; with ``remove_components`` set, this fits the
        common components on the corpus ``X`` (texts, a text file or a folder, streamed)."""
        if self.remove_components:
            self.fit_common_components(X, progress=progress)
        return self

    def fit_common_components(
        self,
        corpus: Any,
        n_components: int | None = None,
        *,
        batch_size: int = 1024,
        progress: bool = False,
    ) -> Self:
        """Fit the top principal directions of the corpus's text vectors, to remove in embed.

        ``corpus`` is streamed (a list of texts, a .txt/.jsonl/... file or a folder); only a
        ``(dim, dim)`` sum of outer products is kept, so any corpus size fits in memory. The
        vectors are those of the current pooling, before any removal; ``n_components`` defaults
        to ``remove_components`` (or 1).
        """
        if type(self)._embed_batch is not WordVectorEmbedder._embed_batch:  # e.g. Doc2Vec
            raise InputError(
                f"common-component removal is for averaged word vectors, not {self.method}",
                "use it with word-vector models (glove-50d, word2vec, fastText, glove)",
            )
        k = n_components or self.remove_components or 1
        _check_components(k)
        dim = self._kv().dim
        if k > dim:
            raise InputError(
                f"cannot remove {k} components from {dim}-dimensional vectors",
                f"use at most {dim - 1}; SIF removes 1",
            )
        gram = np.zeros((dim, dim), dtype=np.float64)
        seen = 0
        with progress_bar("fitting common components", None, enabled=progress) as advance:
            for batch in _batches(_corpus_texts(corpus), batch_size):
                vectors = super()._embed_all(batch, batch_size, False).astype(np.float64)
                gram += vectors.T @ vectors
                seen += len(batch)
                advance(len(batch))
        if not seen:
            raise InputError("the corpus holds no texts", "pass texts like the ones you will embed")
        if not gram.any():
            raise InputError(
                f"none of the corpus's {seen} texts has a word in the vocabulary",
                "fit on texts in the language (and casing) of the vectors",
            )
        values, vectors = np.linalg.eigh(gram)  # ascending; right singular vectors of the matrix
        top = vectors[:, np.argsort(values)[::-1][:k]].T
        signs = np.sign(top[np.arange(k), np.abs(top).argmax(axis=1)])  # a stable orientation
        self.components = (top * signs[:, None]).astype(np.float32)
        self._components_of = self.vectors
        return self

    def _remove_common(self, matrix: np.ndarray) -> np.ndarray:
        """Each row minus its projection on the fitted common components (if any)."""
        if self.components is None:
            return matrix
        if self._components_of is not self.vectors:
            raise NotFittedError(
                "the word vectors changed after the common components were fitted",
                "call .fit_common_components(corpus) again",
            )
        return (matrix - (matrix @ self.components.T) @ self.components).astype(np.float32)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        return self._remove_common(super()._embed_all(texts, batch_size, progress))

    def _weights(self) -> np.ndarray | None:
        if self.pooling != "sif":
            return None
        if self._sif is None:
            self._sif = sif_weights(self._kv(), self.params.get("sif_a", DEFAULT_SIF_A))
        return self._sif

    # -- embedding ---------------------------------------------------------------------------
    def _tokens(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        return word_tokens(text, lowercase=self.params.get("lowercase", True))

    def _rows(self, tokens: list[str]) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Per token: row id (-1 if unknown), vector (zeros if none) and pooling weight (0: skip)."""
        kv = self._kv()
        ids = [kv.index.get(token, -1) for token in tokens]
        lookup = np.zeros((len(tokens), kv.dim), dtype=np.float32)
        weights = np.zeros(len(tokens), dtype=np.float32)
        known = [k for k, i in enumerate(ids) if i >= 0]
        if known:
            rows = [ids[k] for k in known]
            lookup[known] = kv.vectors[rows]
            sif = self._weights()
            weights[known] = 1.0 if sif is None else sif[rows]
        for k, i in enumerate(ids):
            if i < 0:
                vector = kv.oov_vector(tokens[k])
                if vector is not None:
                    lookup[k] = vector
                    weights[k] = 1.0  # an unseen word: p(w) ~ 0, so its SIF weight is ~1
        return ids, lookup, weights

    @staticmethod
    def _pool(lookup: np.ndarray, weights: np.ndarray) -> np.ndarray:
        total = weights.sum()
        if total == 0:
            return np.zeros(lookup.shape[1], dtype=np.float32)
        return (weights @ lookup / total).astype(np.float32)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        kv = self._kv()
        out = np.zeros((len(texts), kv.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            tokens = [token for token, _ in self._tokens(text)]
            if tokens:
                _, lookup, weights = self._rows(tokens)
                out[i] = self._pool(lookup, weights)
        return out

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Every word token, its row (-1 if unknown), its vector, and the pooled vector."""
        (text,) = check_texts([text])
        kv = self._kv()
        tokens = self._tokens(text)
        words = [token for token, _ in tokens]
        ids, lookup, weights = self._rows(words)
        notes = []
        built = [w for w, i, wt in zip(words, ids, weights, strict=True) if i < 0 and wt > 0]
        skipped = [w for w, i, wt in zip(words, ids, weights, strict=True) if i < 0 and wt == 0]
        if built:
            notes.append("not in the vocabulary, built from character n-grams: " + ", ".join(built))
        if skipped:
            notes.append("not in the vocabulary, skipped: " + ", ".join(skipped))
        if not weights.any():
            notes.append("no known word: the vector is all zeros")
        pooling = "mean"
        if self.pooling == "sif":
            a = self.params.get("sif_a", DEFAULT_SIF_A)
            pooling = f"SIF-weighted mean, weight a/(a+p(w)), a={a:g}"
            source = "corpus counts" if kv.counts is not None else "Zipf's law on the row rank"
            shown = ", ".join(f"{w}={wt:.3f}" for w, wt in zip(words, weights, strict=True))
            notes.append(f"SIF weights (p(w) from {source}): {shown}")
        if self.components is not None:
            pooling += f", minus its projection on {len(self.components)} common component(s)"
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=words,
            ids=ids,
            lookup=lookup,
            vector=self._remove_common(self._pool(lookup, weights)[None])[0],
            pooling=pooling,
            offsets=[span for _, span in tokens],
            contextual=None,
            notes=notes,
        )

    # -- persistence -------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        kv = self._kv()
        state = {
            "words": save_json(folder, "words", kv.words),
            "vectors": save_array(folder, "vectors", kv.vectors),
        }
        if kv.counts is not None:
            state["counts"] = save_array(folder, "counts", kv.counts)
        if self.components is not None:
            state["components"] = save_array(folder, "components", self.components)
        return state

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        self.vectors = read_saved_vectors(folder, meta)
        self.components = None
        if meta.get("components"):
            components = load_array(folder, meta["components"]).astype(np.float32)
            if components.ndim != 2 or components.shape[1] != self.vectors.dim:
                raise ModelFormatError(
                    f"{folder}: components.npy does not match the vectors", "re-save the model"
                )
            self.components = components
            self._components_of = self.vectors


def read_saved_vectors(folder: Path, meta: dict[str, Any]) -> WordVectors:
    """The :class:`WordVectors` a ``_save_state`` above wrote, checked for consistency."""
    words = load_json(folder, meta.get("words", "words.json"))
    vectors = load_array(folder, meta.get("vectors", "vectors.npy"))
    counts = load_array(folder, meta["counts"]) if meta.get("counts") else None
    if not isinstance(words, list) or vectors.ndim != 2 or len(words) != len(vectors):
        raise ModelFormatError(
            f"{folder}: the word list and the vectors do not match in length",
            "re-save the model",
        )
    if counts is not None and counts.shape != (len(words),):
        raise ModelFormatError(f"{folder}: counts.npy does not match the words", "re-save it")
    try:
        return WordVectors(words, vectors, counts)
    except InputError as exc:
        raise ModelFormatError(f"{folder}: {exc.problem}", "re-save the model") from None


def _check_components(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise InputError(
            f"remove_components must be a whole number of at least 0, got {k!r}",
            "use 1 (SIF's common component) or 0 to keep vectors as they are",
        )
    return int(k)


def _corpus_texts(corpus: Any) -> Iterator[str]:
    """The non-blank texts of a corpus (pre-tokenised items are joined with spaces)."""

    for item in iter_texts(corpus):
        if isinstance(item, list | tuple) and all(isinstance(t, str) for t in item):
            item = " ".join(item)
        if not isinstance(item, str):
            raise InputError(
                f"a corpus item is a {type(item).__name__}, not a text",
                "pass texts (str), lists of tokens, or a file of texts",
            )
        if item.strip():
            yield item


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_word_vectors(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    limit: int | None = None,
    unicode_errors: str = "strict",
) -> WordVectors:
    """Read a word-vector file into :class:`WordVectors` (see ``formats.read_word_vectors``)."""
    words, vectors = read_word_vectors(
        path, format=format, limit=limit, unicode_errors=unicode_errors
    )
    return WordVectors(words, vectors)
