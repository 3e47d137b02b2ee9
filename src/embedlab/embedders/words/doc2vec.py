"""Doc2Vec (paragraph vectors, PV-DM and PV-DBOW) via gensim, saved as arrays, never pickled.

A document vector is not pooled from word vectors: ``infer`` learns a fresh vector for a new text
by gradient steps against frozen word and output weights. So the saved model keeps exactly what
inference needs: the vocabulary with counts (which fix negative sampling, sub-sampling and the
Huffman tree), word vectors, output weights (``syn1neg`` and/or ``syn1``) and the training
documents' vectors. Loading rebuilds a gensim ``Doc2Vec`` from those arrays, so inference runs in
gensim's C loop and gives bit-identical vectors before and after a save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from embedlab.checks import flag, whole
from embedlab.embedders.base import TokenEmbeddings, check_texts, l2_normalize
from embedlab.embedders.options import LOAD, Option, declare, defaults, without
from embedlab.embedders.saving import load_array, save_array
from embedlab.embedders.words.corpus import TokenCorpus
from embedlab.embedders.words.vectors import WordVectors
from embedlab.embedders.words.word2vec import GensimModel
from embedlab.errors import InputError, ModelFormatError

MODES = {"pv-dm": 1, "dm": 1, "pv-dbow": 0, "dbow": 0}


def _mode(name: str, value: Any) -> str:
    """``"pv-dm"`` or ``"pv-dbow"``, from any of their spellings."""
    spelled = value.lower() if isinstance(value, str) else value
    if spelled not in MODES:
        raise InputError(f"unknown Doc2Vec mode {value!r}", "use 'pv-dm' or 'pv-dbow'")
    return "pv-dm" if MODES[spelled] else "pv-dbow"


class _Tagged:
    """The corpus as gensim ``TaggedDocument``s tagged with each text's position."""

    def __init__(self, tokens: TokenCorpus) -> None:
        self.tokens = tokens

    def __iter__(self) -> Any:
        from gensim.models.doc2vec import TaggedDocument

        for piece, position in zip(self.tokens, self.tokens.text_ids, strict=True):
            yield TaggedDocument(piece, [position])


class Doc2VecEmbedder(GensimModel):
    """Paragraph vectors: ``embed`` infers a vector for each text; ``doc_vectors`` are the
    training texts' own vectors (row i = the i-th non-empty text of the corpus).

    ``mode="pv-dm"`` predicts a word from its context plus the document vector (trains word
    vectors too); ``"pv-dbow"`` predicts the document's words from its vector alone (fast, often
    better for retrieval; ``dbow_words=True`` also trains word vectors skip-gram style).
    """

    method = "doc2vec"
    # a document vector is inferred, not pooled: no pooling options, and lowercase is fixed with
    # the vocabulary; infer_epochs only changes inference, so a loaded model may change it
    options = defaults(
        declare(
            without(GensimModel.options, "pooling", "sif_a"),
            Option("lowercase", True, check=flag),
            Option("mode", check=_mode),
            Option("infer_epochs", None, LOAD, whole(optional=True)),
            Option("dm_mean", False, check=flag),
            Option("dbow_words", False, check=flag),
        ),
        dim=100,
        mode="pv-dm",
        window=5,
        min_count=5,
        negative=5,
        hs=False,
        sample=1e-3,
        epochs=10,
        alpha=0.025,
        min_alpha=0.0001,
        workers=2,
        seed=1,
    )

    def __init__(
        self,
        *,
        dim: int = 100,
        mode: str = "pv-dm",
        window: int = 5,
        min_count: int = 5,
        max_vocab: int | None = None,
        negative: int = 5,
        hs: bool = False,
        sample: float = 1e-3,
        epochs: int = 10,
        infer_epochs: int | None = None,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        dm_mean: bool = False,
        dbow_words: bool = False,
        workers: int = 2,
        seed: int = 1,
        lowercase: bool = True,
    ) -> None:
        super().__init__(
            dim=dim,
            mode=mode,
            window=window,
            min_count=min_count,
            max_vocab=max_vocab,
            negative=negative,
            hs=hs,
            sample=sample,
            epochs=epochs,
            infer_epochs=infer_epochs,
            alpha=alpha,
            min_alpha=min_alpha,
            dm_mean=dm_mean,
            dbow_words=dbow_words,
            workers=workers,
            seed=seed,
            lowercase=lowercase,
        )
        self.doc_vectors: np.ndarray | None = None
        self.syn1neg: np.ndarray | None = None
        self.syn1: np.ndarray | None = None
        self._gensim: Any = None

    def _gensim_params(self) -> dict[str, Any]:
        p = self.params
        return {
            **super()._gensim_params(),
            "dm": int(p["mode"] == "pv-dm"),
            "dm_mean": int(p["dm_mean"]),
            "dbow_words": int(p["dbow_words"]),
        }

    # -- training ----------------------------------------------------------------------------
    def _new_gensim_model(self) -> Any:
        from gensim.models.doc2vec import Doc2Vec

        return Doc2Vec(**self._gensim_params())

    def _documents(self, tokens: TokenCorpus) -> Any:
        """Each text of the corpus is one document, tagged with its position."""
        return _Tagged(tokens)

    def _keep(self, model: Any, counts: np.ndarray) -> dict[str, Any]:
        self.vectors = WordVectors(list(model.wv.index_to_key), model.wv.vectors.copy(), counts)
        self.doc_vectors = model.dv.vectors.copy()
        self.syn1neg = model.syn1neg.copy() if self.params["negative"] else None
        self.syn1 = model.syn1.copy() if self.params["hs"] else None
        self._gensim = model
        return {"documents": int(len(self.doc_vectors))}

    @property
    def is_fitted(self) -> bool:
        return self.vectors is not None and self.doc_vectors is not None

    # -- inference ---------------------------------------------------------------------------
    def _model(self) -> Any:
        """The gensim model inference runs on: the trained one, or one rebuilt from arrays."""
        if self._gensim is None:
            self._gensim = self._rebuild()
        return self._gensim

    def _rebuild(self) -> Any:
        kv = self._kv()
        assert kv.counts is not None and self.doc_vectors is not None
        model = self._new_gensim_model()
        counts = {w: int(c) for w, c in zip(kv.words, kv.counts, strict=True)}
        model.build_vocab_from_freq(counts, corpus_count=len(self.doc_vectors))
        # gensim re-sorts by count and may order ties differently: restore the trained order,
        # because negative sampling draws rows by index and the Huffman tree is built by index.
        order = np.array([model.wv.key_to_index[w] for w in kv.words])
        model.wv.index_to_key = list(kv.words)
        model.wv.key_to_index = dict(kv.index)
        for name in list(model.wv.expandos):
            model.wv.expandos[name] = model.wv.expandos[name][order]
        model.wv.vectors = np.array(kv.vectors, dtype=np.float32)
        if self.params["negative"]:
            model.make_cum_table()
            model.syn1neg = np.array(self.syn1neg, dtype=np.float32)
        if self.params["hs"]:
            model.create_binary_tree()
            model.syn1 = np.array(self.syn1, dtype=np.float32)
        model.dv.vectors = np.array(self.doc_vectors, dtype=np.float32)
        return model

    def infer(self, text: str | list[str], epochs: int | None = None) -> np.ndarray:
        """Learn a vector for a new text (or token list); the same text always gives the same
        vector (the random stream is reset from ``seed`` before each inference)."""
        self._require_fitted()
        tokens = text if isinstance(text, list) else self._words(text)
        return self._infer_tokens(tokens, epochs)

    def _infer_tokens(self, tokens: list[str], epochs: int | None = None) -> np.ndarray:
        kv = self._kv()
        if not any(token in kv.index for token in tokens):
            return np.zeros(kv.dim, dtype=np.float32)
        model = self._model()
        model.random = np.random.RandomState(self.params["seed"])
        epochs = epochs or self.params.get("infer_epochs") or self.params["epochs"]
        return model.infer_vector(tokens, epochs=epochs).astype(np.float32)

    def _words(self, text: str) -> list[str]:
        return [token for token, _ in self._tokens(text)]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._infer_tokens(self._words(text)) for text in texts])

    def similar_documents(self, query: str | np.ndarray, topn: int = 10) -> list[tuple[int, float]]:
        """Training documents nearest (cosine) to a text or vector: ``(row, score)`` pairs."""
        self._require_fitted()
        assert self.doc_vectors is not None
        vector = self.infer(query) if isinstance(query, str) else np.asarray(query, np.float32)
        scores = l2_normalize(self.doc_vectors) @ l2_normalize(vector)
        best = np.argsort(-scores, kind="stable")[:topn]
        return [(int(i), float(scores[i])) for i in best]

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Tokens with their word vectors, then the inferred (not pooled) document vector."""
        (text,) = check_texts([text])
        tokens = self._tokens(text)
        words = [token for token, _ in tokens]
        ids, lookup, _ = self._rows(words)  # no pooling here, so the weights are not used
        epochs = self.params.get("infer_epochs") or self.params["epochs"]
        notes = [
            f"the document vector is inferred: {epochs} epochs of gradient steps on a new vector "
            "against frozen word and output weights, not an average of the word vectors"
        ]
        if self.params["mode"] == "pv-dbow" and not self.params["dbow_words"]:
            notes.append("PV-DBOW without dbow_words: the word vectors shown were never trained")
        unknown = [w for w, i in zip(words, ids, strict=True) if i < 0]
        if unknown:
            notes.append("not in the vocabulary, ignored: " + ", ".join(unknown))
        if len(unknown) == len(words):
            notes.append("no known word: the vector is all zeros")
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=words,
            ids=ids,
            lookup=lookup,
            vector=self._infer_tokens(words),
            pooling=f"inferred ({self.params['mode'].upper()}, {epochs} epochs)",
            offsets=[span for _, span in tokens],
            contextual=None,
            notes=notes,
        )

    # -- persistence -------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        state = super()._save_state(folder)
        assert self.doc_vectors is not None
        state["doc_vectors"] = save_array(folder, "doc_vectors", self.doc_vectors)
        if self.syn1neg is not None:
            state["syn1neg"] = save_array(folder, "syn1neg", self.syn1neg)
        if self.syn1 is not None:
            state["syn1"] = save_array(folder, "syn1", self.syn1)
        return state

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        super()._load_state(folder, meta)
        kv = self._kv()
        if kv.counts is None:
            raise ModelFormatError(f"{folder} has no word counts (counts.npy)", "re-save it")
        self.doc_vectors = load_array(folder, meta.get("doc_vectors", "doc_vectors.npy"))
        needed = [("syn1neg", self.params["negative"] > 0), ("syn1", self.params["hs"])]
        for name, wanted in needed:
            if not wanted:
                continue
            array = load_array(folder, meta.get(name, f"{name}.npy"))
            if array.shape != kv.vectors.shape:
                raise ModelFormatError(f"{folder}: {name}.npy does not match", "re-save it")
            setattr(self, name, array)
        if self.doc_vectors.ndim != 2 or self.doc_vectors.shape[1] != kv.dim:
            raise ModelFormatError(f"{folder}: doc_vectors.npy does not match", "re-save it")
        self._gensim = None
