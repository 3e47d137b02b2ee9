"""word2vec and fastText trained with gensim; only the vectors are kept (never gensim's pickle).

gensim's optimised C loops do the training. Afterwards the model keeps what answering queries
needs, as plain arrays: the word vectors and counts (and for fastText the character n-gram table
and n-gram lengths), saved as ``.npy`` + JSON like every embedlab model. Loading needs no gensim.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embedlab.embedders.base import load_array, save_array
from embedlab.embedders.word_corpus import (
    CorpusSource,
    TokenCorpus,
    check_positive,
    no_words_error,
    read_corpus,
)
from embedlab.embedders.word_vectors import DEFAULT_SIF_A, WordVectorEmbedder, read_saved_vectors
from embedlab.errors import InputError, ModelFormatError

ARCHITECTURES = {"cbow": 0, "skipgram": 1, "skip-gram": 1, "sg": 1}


def epoch_callback(advance: Any) -> Any:
    """A gensim callback that advances a progress bar once per finished epoch."""
    from gensim.models.callbacks import CallbackAny2Vec

    class _Epochs(CallbackAny2Vec):  # type: ignore[misc]
        def on_epoch_end(self, model: Any) -> None:
            advance(1)

    return _Epochs()


class GensimWordModel(WordVectorEmbedder):
    """Shared settings, checks and training loop of the gensim word models."""

    trainable = True
    _gensim_class: ClassVar[str] = ""

    def __init__(
        self,
        *,
        dim: int = 100,
        architecture: str = "cbow",
        window: int = 5,
        min_count: int = 5,
        max_vocab: int | None = None,
        negative: int = 5,
        hs: bool = False,
        sample: float = 1e-3,
        epochs: int = 5,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        workers: int = 2,
        seed: int = 1,
        lowercase: bool = True,
        pooling: str = "mean",
        sif_a: float = DEFAULT_SIF_A,
        **extra: Any,
    ) -> None:
        super().__init__(lowercase=lowercase, pooling=pooling, sif_a=sif_a)
        architecture = architecture.lower()
        if architecture not in ARCHITECTURES:
            raise InputError(f"unknown architecture {architecture!r}", "use 'cbow' or 'skipgram'")
        for name, value in (
            ("dim", dim),
            ("window", window),
            ("min_count", min_count),
            ("epochs", epochs),
            ("workers", workers),
        ):
            check_positive(name, value)
        check_positive("negative", negative, 0)
        check_positive("sample", sample, 0)
        if max_vocab is not None:
            check_positive("max_vocab", max_vocab)
        if not hs and negative == 0:
            raise InputError(
                "training needs negative sampling (negative > 0) or hierarchical softmax",
                "set negative=5, or hs=True",
            )
        self.params.update(
            dim=int(dim),
            architecture="skipgram" if ARCHITECTURES[architecture] else "cbow",
            window=int(window),
            min_count=int(min_count),
            max_vocab=max_vocab,
            negative=int(negative),
            hs=bool(hs),
            sample=float(sample),
            epochs=int(epochs),
            alpha=float(alpha),
            min_alpha=float(min_alpha),
            workers=int(workers),
            seed=int(seed),
            **extra,
        )
        self.training: dict[str, Any] = {}

    def _gensim_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "vector_size": p["dim"],
            "sg": int(p["architecture"] == "skipgram"),
            "window": p["window"],
            "min_count": p["min_count"],
            "max_final_vocab": p["max_vocab"],
            "negative": p["negative"],
            "hs": int(p["hs"]),
            "sample": p["sample"],
            "epochs": p["epochs"],
            "alpha": p["alpha"],
            "min_alpha": p["min_alpha"],
            "workers": p["workers"],
            "seed": p["seed"],
        }

    def _new_gensim_model(self) -> Any:
        raise NotImplementedError

    def _keep(self, model: Any, counts: np.ndarray) -> None:
        """Copy what queries need out of the trained gensim model."""
        raise NotImplementedError

    def fit(
        self,
        X: CorpusSource,  # noqa: N803 (scikit-learn's name)
        y: Any = None,
        *,
        field: str | None = None,
        progress: bool = False,
    ) -> GensimWordModel:
        """Train on a corpus: a file, a folder of files, or any iterable of texts (streamed)."""
        from embedlab.progress import progress_bar

        started = time.perf_counter()
        tokens = read_corpus(X, field, self.params["lowercase"], progress)
        try:
            model = self._new_gensim_model()
            model.build_vocab(tokens)
            if len(model.wv) == 0:
                raise no_words_error(tokens, self.params["min_count"])
            train_started = time.perf_counter()
            with progress_bar(
                f"training {self.method} (epochs)", self.params["epochs"], enabled=progress
            ) as advance:
                model.train(
                    tokens,
                    total_examples=model.corpus_count,
                    total_words=model.corpus_total_words,
                    epochs=self.params["epochs"],
                    callbacks=[epoch_callback(advance)],
                )
            train_seconds = time.perf_counter() - train_started
        finally:
            tokens.close()
        words = model.wv.index_to_key
        counts = np.array([model.wv.get_vecattr(w, "count") for w in words], dtype=np.int64)
        self._keep(model, counts)
        self._sif = None
        self.training = training_summary(tokens, len(words), started, train_seconds)
        return self

    def _save_state(self, folder: Path) -> dict[str, Any]:
        return {**super()._save_state(folder), "training": self.training}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        super()._load_state(folder, meta)
        self.training = meta.get("training", {})


def training_summary(
    tokens: TokenCorpus, vocab: int, started: float, train_seconds: float
) -> dict[str, Any]:
    """What a training run read and how fast (corpus tokens per second of the whole run, every
    pass included, so methods compare end to end), kept in ``embedlab.json``."""
    seconds = time.perf_counter() - started
    return {
        "texts": tokens.texts,
        "tokens": tokens.tokens,
        "vocabulary": vocab,
        "seconds": round(seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "words_per_second": round(tokens.tokens / max(seconds, 1e-9)),
    }


class Word2VecEmbedder(GensimWordModel):
    """word2vec (CBOW or skip-gram; negative sampling or hierarchical softmax) via gensim.

    >>> model = embedlab.load("word2vec", architecture="skipgram", dim=100).fit("corpus.txt")
    >>> model.vectors.most_similar("king")
    """

    method = "word2vec"

    def _new_gensim_model(self) -> Any:
        from gensim.models import Word2Vec

        return Word2Vec(**self._gensim_params())

    def _keep(self, model: Any, counts: np.ndarray) -> None:
        from embedlab.embedders.word_vectors import WordVectors

        self.vectors = WordVectors(list(model.wv.index_to_key), model.wv.vectors.copy(), counts)


class FastTextEmbedder(GensimWordModel):
    """fastText via gensim: word vectors plus character n-grams for unseen words.

    ``bucket`` rows of n-gram vectors are kept (bucket x dim floats: 500k x 100 = 200 MB);
    gensim's and Facebook's default is 2M.
    """

    method = "fasttext"

    def __init__(
        self, *, min_n: int = 3, max_n: int = 6, bucket: int = 500_000, **params: Any
    ) -> None:
        check_positive("min_n", min_n)
        check_positive("max_n", max_n, min_n)
        check_positive("bucket", bucket)
        super().__init__(min_n=int(min_n), max_n=int(max_n), bucket=int(bucket), **params)

    def _gensim_params(self) -> dict[str, Any]:
        p = self.params
        return {
            **super()._gensim_params(),
            "min_n": p["min_n"],
            "max_n": p["max_n"],
            "bucket": p["bucket"],
        }

    def _new_gensim_model(self) -> Any:
        from gensim.models import FastText

        return FastText(**self._gensim_params())

    def _keep(self, model: Any, counts: np.ndarray) -> None:
        from embedlab.embedders.subword import SubwordVectors

        wv = model.wv
        self.vectors = SubwordVectors(
            list(wv.index_to_key),
            wv.vectors.copy(),
            wv.vectors_ngrams.copy(),
            wv.min_n,
            wv.max_n,
            counts,
        )

    def _save_state(self, folder: Path) -> dict[str, Any]:
        kv = self._kv()
        state = super()._save_state(folder)
        state["ngram_vectors"] = save_array(folder, "ngram_vectors", kv.ngram_vectors)  # type: ignore[attr-defined]
        return state

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        from embedlab.embedders.subword import SubwordVectors

        plain = read_saved_vectors(folder, meta)
        ngrams = load_array(folder, meta.get("ngram_vectors", "ngram_vectors.npy"))
        if ngrams.ndim != 2 or ngrams.shape[1] != plain.dim:
            raise ModelFormatError(f"{folder}: ngram_vectors.npy does not match", "re-save it")
        self.vectors = SubwordVectors(
            plain.words,
            plain.vectors,
            ngrams,
            self.params["min_n"],
            self.params["max_n"],
            plain.counts,
        )
        self.training = meta.get("training", {})
