"""The base of the word models trained here (word2vec, fastText, Doc2Vec, GloVe).

They differ only in how they learn vectors from token lists. The settings every one has, the
streamed pass over the corpus around training, and the training summary saved with the vectors
(so ``embedlab train`` and the benchmarks report every method alike) live here once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Self

from embedlab.embedders.words.corpus import CorpusSource, TokenCorpus, check_positive, read_corpus
from embedlab.embedders.words.vectors import DEFAULT_SIF_A, WordVectorEmbedder


class TrainedWordModel(WordVectorEmbedder):
    """A word-vector embedder with ``fit``: subclasses implement :meth:`_train` on the tokens."""

    trainable = True

    def __init__(
        self,
        *,
        dim: int,
        window: int,
        min_count: int,
        max_vocab: int | None,
        epochs: int,
        workers: int,
        seed: int,
        lowercase: bool = True,
        pooling: str = "mean",
        sif_a: float = DEFAULT_SIF_A,
        **settings: Any,
    ) -> None:
        """Check and keep the shared settings; ``settings`` are the method's own, already
        checked and converted by the subclass."""
        super().__init__(lowercase=lowercase, pooling=pooling, sif_a=sif_a)
        for name, value in (
            ("dim", dim),
            ("window", window),
            ("min_count", min_count),
            ("epochs", epochs),
            ("workers", workers),
        ):
            check_positive(name, value)
        if max_vocab is not None:
            check_positive("max_vocab", max_vocab)
        self.params.update(
            dim=int(dim),
            window=int(window),
            min_count=int(min_count),
            max_vocab=max_vocab,
            epochs=int(epochs),
            workers=int(workers),
            seed=int(seed),
            **settings,
        )
        self.training: dict[str, Any] = {}

    def fit(
        self,
        X: CorpusSource,  # noqa: N803 (scikit-learn's name)
        y: Any = None,
        *,
        field: str | None = None,
        progress: bool = False,
    ) -> Self:
        """Train on a corpus: a file, a folder of files, or any iterable of texts (streamed)."""
        started = time.perf_counter()
        with read_corpus(X, field, self.params["lowercase"], progress) as tokens:
            details = self._train(tokens, started, progress)
        self._sif = None
        seconds = time.perf_counter() - started
        self.training = {
            "texts": tokens.texts,
            "tokens": tokens.tokens,
            "vocabulary": len(self._kv()),
            "seconds": round(seconds, 3),
            **details,
            # corpus tokens per second of the whole run, every pass included, so methods compare
            # end to end
            "words_per_second": round(tokens.tokens / max(seconds, 1e-9)),
        }
        return self

    def _train(self, tokens: TokenCorpus, started: float, progress: bool) -> dict[str, Any]:
        """Set ``self.vectors`` from the tokenized corpus (``started``: when ``fit`` began);
        return what the run adds to the training summary (at least ``train_seconds``)."""
        raise NotImplementedError

    def _save_state(self, folder: Path) -> dict[str, Any]:
        return {**super()._save_state(folder), "training": self.training}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        super()._load_state(folder, meta)
        self.training = meta.get("training", {})
