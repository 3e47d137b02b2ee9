"""word2vec and fastText trained with gensim; only the vectors are kept (never gensim's pickle).

gensim's optimised C loops do the training. Afterwards the model keeps what answering queries
needs, as plain arrays: the word vectors and counts (and for fastText the character n-gram table
and n-gram lengths), saved as ``.npy`` + JSON like every embedlab model. Loading needs no gensim.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.checks import check_positive, flag, number, whole
from embedlab.embedders.options import Option, declare, defaults
from embedlab.embedders.saving import load_array, save_array
from embedlab.embedders.words.corpus import TokenCorpus, no_words_error
from embedlab.embedders.words.subword import SubwordVectors
from embedlab.embedders.words.training import TrainedWordModel
from embedlab.embedders.words.vectors import DEFAULT_SIF_A, WordVectors
from embedlab.errors import InputError, ModelFormatError
from embedlab.extras import require
from embedlab.progress import progress_bar

ARCHITECTURES = {"cbow": 0, "skipgram": 1, "skip-gram": 1, "sg": 1}


def _architecture(name: str, value: Any) -> str:
    """``"cbow"`` or ``"skipgram"``, from any of their spellings."""
    spelled = value.lower() if isinstance(value, str) else value
    if spelled not in ARCHITECTURES:
        raise InputError(f"unknown architecture {value!r}", "use 'cbow' or 'skipgram'")
    return "skipgram" if ARCHITECTURES[spelled] else "cbow"


def epoch_callback(advance: Any) -> Any:
    """A gensim callback that advances a progress bar once per finished epoch."""
    from gensim.models.callbacks import CallbackAny2Vec

    class _Epochs(CallbackAny2Vec):
        def on_epoch_end(self, model: Any) -> None:
            advance(1)

    return _Epochs()


class GensimModel(TrainedWordModel):
    """What word2vec, fastText and Doc2Vec share: the sampling settings and gensim's training
    loop, which reads the cached tokens once for the vocabulary and once per epoch."""

    options = declare(
        TrainedWordModel.options,
        Option("negative", check=whole(0)),
        Option("hs", check=flag),
        Option("sample", check=number(0)),
        Option("alpha", check=number(0)),
        Option("min_alpha", check=number(0)),
    )

    def _check_values(self, values: dict[str, Any]) -> None:
        if not values["hs"] and values["negative"] == 0:
            raise InputError(
                "training needs negative sampling (negative > 0) or hierarchical softmax",
                "set negative=5, or hs=True",
            )

    def _gensim_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "vector_size": p["dim"],
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

    def _documents(self, tokens: TokenCorpus) -> Any:
        """What gensim trains on: the token lists themselves by default."""
        return tokens

    def _keep(self, model: Any, counts: np.ndarray) -> dict[str, Any]:
        """Copy what queries need out of the trained gensim model; return summary additions."""
        raise NotImplementedError

    def _train(self, tokens: TokenCorpus, started: float, progress: bool) -> dict[str, Any]:
        require("gensim", "train")

        documents = self._documents(tokens)
        model = self._new_gensim_model()
        model.build_vocab(documents)
        if len(model.wv) == 0:
            raise no_words_error(tokens, self.params["min_count"])
        train_started = time.perf_counter()
        with progress_bar(
            f"training {self.method} (epochs)", self.params["epochs"], enabled=progress
        ) as advance:
            model.train(
                documents,
                total_examples=model.corpus_count,
                total_words=model.corpus_total_words,
                epochs=self.params["epochs"],
                callbacks=[epoch_callback(advance)],
            )
        train_seconds = time.perf_counter() - train_started
        words = model.wv.index_to_key
        counts = np.array([model.wv.get_vecattr(w, "count") for w in words], dtype=np.int64)
        return {"train_seconds": round(train_seconds, 3), **self._keep(model, counts)}


class GensimWordModel(GensimModel):
    """word2vec and fastText: CBOW or skip-gram, and pooled text vectors (mean or SIF)."""

    options = defaults(
        declare(GensimModel.options, Option("architecture", check=_architecture)),
        dim=100,
        architecture="cbow",
        window=5,
        min_count=5,
        negative=5,
        hs=False,
        sample=1e-3,
        epochs=5,
        alpha=0.025,
        min_alpha=0.0001,
        workers=2,
        seed=1,
    )

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
        super().__init__(
            dim=dim,
            architecture=architecture,
            window=window,
            min_count=min_count,
            max_vocab=max_vocab,
            negative=negative,
            hs=hs,
            sample=sample,
            epochs=epochs,
            alpha=alpha,
            min_alpha=min_alpha,
            workers=workers,
            seed=seed,
            lowercase=lowercase,
            pooling=pooling,
            sif_a=sif_a,
            **extra,
        )

    def _gensim_params(self) -> dict[str, Any]:
        return {**super()._gensim_params(), "sg": int(self.params["architecture"] == "skipgram")}


class Word2VecEmbedder(GensimWordModel):
    """word2vec (CBOW or skip-gram; negative sampling or hierarchical softmax) via gensim.

    >>> model = embedlab.load("word2vec", architecture="skipgram", dim=100).fit("corpus.txt")
    >>> model.vectors.most_similar("king")
    """

    method = "word2vec"

    def _new_gensim_model(self) -> Any:
        from gensim.models import Word2Vec

        return Word2Vec(**self._gensim_params())

    def _keep(self, model: Any, counts: np.ndarray) -> dict[str, Any]:
        self.vectors = WordVectors(list(model.wv.index_to_key), model.wv.vectors.copy(), counts)
        return {}


class FastTextEmbedder(GensimWordModel):
    """fastText via gensim: word vectors plus character n-grams for unseen words.

    ``bucket`` rows of n-gram vectors are kept (bucket x dim floats: 500k x 100 = 200 MB);
    gensim's and Facebook's default is 2M.
    """

    method = "fasttext"

    options = declare(
        GensimWordModel.options,
        Option("min_n", 3, check=whole()),
        Option("max_n", 6, check=whole()),
        Option("bucket", 500_000, check=whole()),
    )

    def __init__(
        self, *, min_n: int = 3, max_n: int = 6, bucket: int = 500_000, **params: Any
    ) -> None:
        super().__init__(min_n=min_n, max_n=max_n, bucket=bucket, **params)

    def _check_values(self, values: dict[str, Any]) -> None:
        super()._check_values(values)
        check_positive("max_n", values["max_n"], values["min_n"])

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

    def _keep(self, model: Any, counts: np.ndarray) -> dict[str, Any]:
        wv = model.wv
        self.vectors = SubwordVectors(
            list(wv.index_to_key),
            wv.vectors.copy(),
            wv.vectors_ngrams.copy(),
            wv.min_n,
            wv.max_n,
            counts,
        )
        return {}

    def _save_state(self, folder: Path) -> dict[str, Any]:
        kv = self._kv()
        state = super()._save_state(folder)
        state["ngram_vectors"] = save_array(folder, "ngram_vectors", kv.ngram_vectors)  # type: ignore[attr-defined]
        return state

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        super()._load_state(folder, meta)
        plain = self._kv()
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
