"""The base of the word models trained here (word2vec, fastText, Doc2Vec, GloVe).

They differ only in how they learn vectors from token lists. The settings every one has, the
streamed pass over the corpus around training, and the training summary saved with the vectors
(so ``embedlab train`` and the benchmarks report every method alike) live here once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Self

from embedlab.checks import integer, whole
from embedlab.embedders.base import Embedder
from embedlab.embedders.options import Option, declare
from embedlab.embedders.words.corpus import CorpusSource, TokenCorpus, read_corpus
from embedlab.embedders.words.vectors import TEXT_OPTIONS, WordVectorEmbedder

# what every trained word model has; each method's class declares its own defaults
TRAINING_OPTIONS = declare(
    Option("dim", check=whole()),
    Option("window", check=whole()),
    Option("min_count", check=whole()),
    Option("max_vocab", None, check=whole(optional=True)),
    Option("epochs", check=whole()),
    Option("workers", check=whole()),
    Option("seed", check=integer),
)


class TrainedWordModel(WordVectorEmbedder):
    """A word-vector embedder with ``fit``: subclasses implement :meth:`_train` on the tokens."""

    trainable = True
    options = declare(TEXT_OPTIONS, TRAINING_OPTIONS)
    data_arguments = ()

    def __init__(self, **options: Any) -> None:
        """Keep the options (each subclass's constructor passes all it declares).

        Why ``Embedder.__init__`` and not ``WordVectorEmbedder``'s: that one takes the
        pretrained vectors' options, not a trainer's; the state is started the same way.
        """
        Embedder.__init__(self, **options)
        self._start(None, None, None)
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
