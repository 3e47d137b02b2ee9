"""Static embedders: one fixed vector per token, averaged into a text vector.

- ``StaticEmbedder`` runs a model2vec folder (subword vectors, e.g. distilled from MiniLM) as one
  small numpy class, matching ``model2vec.StaticModel.encode`` without importing model2vec.
- ``WordVectors`` holds word vectors (GloVe, word2vec, ...) with the gensim-style verbs.
- ``WordVectorEmbedder`` turns texts into the mean of their words' vectors.

No torch here: lookups and means are numpy, so these load in well under a second.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from embedlab.embedders.base import (
    Embedder,
    TokenEmbeddings,
    check_texts,
    l2_normalize,
    load_array,
    load_json,
    save_array,
    save_json,
)
from embedlab.errors import (
    InputError,
    ModelFormatError,
    NotFittedError,
    UnknownModelError,
    UnknownWordError,
)

# model2vec's defaults when a config does not say
DEFAULT_MAX_LENGTH = 512
STATIC_SUBFOLDER = "model"


# -- subword static models (model2vec) --------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Where a static model's three files sit; model2vec accepts these three layouts."""

    config: str
    embeddings: str
    tokenizer: str
    tensor: str


_LAYOUTS = (
    _Layout("config.json", "model.safetensors", "tokenizer.json", "embeddings"),
    _Layout(
        "config_sentence_transformers.json",
        "model.safetensors",
        "tokenizer.json",
        "embedding.weight",
    ),
    _Layout(
        "config_sentence_transformers.json",
        "0_StaticEmbedding/model.safetensors",
        "0_StaticEmbedding/tokenizer.json",
        "embedding.weight",
    ),
)


@dataclass
class _StaticState:
    tokenizer: Any  # tokenizers.Tokenizer
    embeddings: np.ndarray  # (rows, dim), stored dtype (often float16)
    weights: np.ndarray | None  # per-token-id scale (vocabulary-quantized models)
    mapping: np.ndarray | None  # token id -> embeddings row (vocabulary-quantized models)
    config: dict[str, Any]
    normalize: bool
    max_length: int | None
    max_chars: int | None  # texts are cut to this many characters before tokenizing
    unk_id: int | None


class StaticEmbedder(Embedder):
    """A model2vec static model: tokenize, look up each subword's row, mean, maybe normalise.

    Follows ``StaticModel.encode``: no special tokens, unknown tokens dropped, texts cut to
    ``max_length`` tokens (and first to ``max_length`` x median token length characters), rows
    scaled by per-token weights when the model has them. Vectors are computed in float32, so
    they agree with model2vec's (often float16) output to its precision.
    """

    method = "static"

    def __init__(self, model: str) -> None:
        super().__init__(model=str(model))
        self._state: _StaticState | None = None

    @property
    def folder(self) -> Path:
        return Path(self.params["model"])

    def _loaded(self) -> _StaticState:
        # Lazy, so a saved model is rebuilt without touching the folder it came from.
        if self._state is None:
            self._state = _load_static(self.folder)
        return self._state

    @property
    def dim(self) -> int:
        return int(self._loaded().embeddings.shape[1])

    @property
    def normalize(self) -> bool:
        return self._loaded().normalize

    def _encodings(self, texts: list[str], *, offsets: bool = False) -> list[Any]:
        state = self._loaded()
        if state.max_chars is not None:
            texts = [text[: state.max_chars] for text in texts]
        encode = state.tokenizer.encode_batch if offsets else state.tokenizer.encode_batch_fast
        return encode(texts, add_special_tokens=False)

    def _known(self, ids: Iterable[int]) -> list[int]:
        unk = self._loaded().unk_id
        return [i for i in ids if i != unk]

    def _rows(self, ids: list[int]) -> np.ndarray:
        """The float32 vector of each token id, as the model uses it (remapped, weighted)."""
        state = self._loaded()
        index = state.mapping[ids] if state.mapping is not None else ids
        rows = state.embeddings[index].astype(np.float32)
        if state.weights is not None:
            rows *= state.weights[ids].astype(np.float32)[:, None]
        return rows

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        state = self._loaded()
        ids = [self._known(encoding.ids) for encoding in self._encodings(texts)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if state.mapping is None and state.weights is None:
            by_length: dict[int, list[int]] = defaultdict(list)
            for i, row_ids in enumerate(ids):
                if row_ids:
                    by_length[len(row_ids)].append(i)
            for indices in by_length.values():  # one gather per length instead of per text
                matrix = np.array([ids[i] for i in indices], dtype=np.int64)
                out[indices] = state.embeddings[matrix].astype(np.float32).mean(axis=1)
        else:
            for i, row_ids in enumerate(ids):
                if row_ids:
                    out[i] = self._rows(row_ids).mean(axis=0)
        return l2_normalize(out) if state.normalize else out

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Subword tokens (no special tokens, unknowns dropped), their rows, and the mean."""
        (text,) = check_texts([text])
        state = self._loaded()
        encoding = self._encodings([text], offsets=True)[0]
        keep = [k for k, i in enumerate(encoding.ids) if i != state.unk_id]
        ids = [encoding.ids[k] for k in keep]
        notes = []
        if len(keep) < len(encoding.ids):
            notes.append(f"{len(encoding.ids) - len(keep)} unknown token(s) dropped")
        if state.max_length is not None and len(encoding.overflowing) > 0:
            notes.append(f"truncated to {state.max_length} tokens")
        elif state.max_chars is not None and len(text) > state.max_chars:
            notes.append(f"cut to the first {state.max_chars} characters before tokenizing")
        if not ids:
            notes.append("no known token: the vector is all zeros")
        lookup = self._rows(ids) if ids else np.zeros((0, self.dim), dtype=np.float32)
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=[encoding.tokens[k] for k in keep],
            ids=ids,
            lookup=lookup,
            vector=self._embed_batch([text])[0],
            pooling="mean" + (" + l2-normalise" if state.normalize else ""),
            offsets=[tuple(encoding.offsets[k]) for k in keep],
            contextual=None,
            notes=notes,
        )

    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Write a model2vec-layout folder (safetensors + JSON) that model2vec can load too."""
        from safetensors.numpy import save_file

        state = self._loaded()
        target = folder / STATIC_SUBFOLDER
        target.mkdir()
        tensors = {"embeddings": np.ascontiguousarray(state.embeddings)}
        if state.weights is not None:
            tensors["weights"] = np.ascontiguousarray(state.weights)
        if state.mapping is not None:
            tensors["mapping"] = np.ascontiguousarray(state.mapping)
        save_file(tensors, str(target / "model.safetensors"))
        source = _find_layout(self.folder)
        shutil.copyfile(self.folder / source.tokenizer, target / "tokenizer.json")
        config = {**state.config, "normalize": state.normalize, "max_length": state.max_length}
        (target / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        return {"weights": STATIC_SUBFOLDER, "source_model": self.params["model"]}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        model = folder / meta.get("weights", STATIC_SUBFOLDER)
        self.params["model"] = str(model)
        self._state = None
        self._loaded()  # read now, so a damaged folder fails at load time


def _find_layout(folder: Path) -> _Layout:
    if not folder.is_dir():
        raise UnknownModelError(
            f"no model folder at {folder}",
            "check the path, or use the catalogue model 'static-minilm'",
        )
    for layout in _LAYOUTS:
        if all(
            (folder / f).is_file() for f in (layout.config, layout.embeddings, layout.tokenizer)
        ):
            return layout
    raise ModelFormatError(
        f"{folder} is not a model2vec folder (it needs config.json, model.safetensors and "
        "tokenizer.json)",
        "pass a folder written by model2vec's save_pretrained()",
    )


def _load_static(folder: Path) -> _StaticState:
    """Read a model2vec folder: the vectors, the tokenizer and the few settings that matter."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    layout = _find_layout(folder)
    try:
        config = json.loads((folder / layout.config).read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(folder / layout.tokenizer))
        with safe_open(str(folder / layout.embeddings), framework="numpy") as tensors:
            names = set(tensors.keys())
            embeddings = tensors.get_tensor(layout.tensor) if layout.tensor in names else None
            weights = tensors.get_tensor("weights") if "weights" in names else None
            mapping = tensors.get_tensor("mapping") if "mapping" in names else None
    except Exception as exc:  # tokenizers and safetensors raise bare Exception subclasses
        raise ModelFormatError(
            f"cannot read the static model in {folder} ({exc})", "re-save the model folder"
        ) from None
    if embeddings is None:
        raise ModelFormatError(
            f"{folder / layout.embeddings} has no {layout.tensor!r} tensor",
            "the file is not a model2vec model; re-save it with model2vec",
        )

    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    if mapping is None and len(vocab) != len(embeddings):
        raise ModelFormatError(
            f"{folder}: the tokenizer has {len(vocab)} tokens but there are {len(embeddings)} vectors",
            "the tokenizer and model.safetensors belong to different models",
        )
    # Same settings as StaticModel: no padding, truncation at max_length tokens, and texts first
    # cut to max_length x median token length characters (a cheap guard against huge inputs).
    padding = tokenizer.padding
    if padding is not None:
        tokenizer.enable_padding(
            pad_id=padding["pad_id"],
            pad_token=padding["pad_token"],
            pad_type_id=padding["pad_type_id"],
            length=0,
        )
    max_length = config.get("max_length", DEFAULT_MAX_LENGTH)
    if max_length is None:
        tokenizer.no_truncation()
        max_chars = None
    else:
        tokenizer.enable_truncation(max_length)
        max_chars = max_length * int(np.median([len(token) for token, _ in vocab]))
    return _StaticState(
        tokenizer=tokenizer,
        embeddings=embeddings,
        weights=weights,
        mapping=mapping,
        config=config,
        normalize=bool(config.get("normalize", False)),
        max_length=max_length,
        max_chars=max_chars,
        unk_id=_unk_id(tokenizer),
    )


def _unk_id(tokenizer: Any) -> int | None:
    """The unknown token's id, which model2vec drops from every text."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):  # WordPiece, BPE, WordLevel
        return None if model.unk_token is None else tokenizer.token_to_id(model.unk_token)
    return json.loads(tokenizer.to_str())["model"].get("unk_id")  # Unigram


# -- word vectors -----------------------------------------------------------------------------
class WordVectors:
    """Word vectors by word: ``kv["king"]``, ``"king" in kv``, ``most_similar``, ``similarity``.

    Kept apart from any embedder or training state (as gensim's KeyedVectors are), so the same
    vectors serve word lookups, analogies and text embedding.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
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
        self._unit: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return np.array(self.vectors[self.get_index(word)], dtype=np.float32)

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim={self.dim})"

    def get_index(self, word: str) -> int:
        """The row of ``word``; unknown words raise :class:`UnknownWordError` with a hint."""
        try:
            return self.index[word]
        except (KeyError, TypeError):
            hint = f"check the spelling; the vocabulary has {len(self)} words"
            if isinstance(word, str) and word.lower() in self.index and word != word.lower():
                hint = f"the vocabulary is lowercase: try {word.lower()!r}"
            raise UnknownWordError(f"the word {word!r} is not in the vocabulary", hint) from None

    @property
    def unit_vectors(self) -> np.ndarray:
        """Row-normalised copy for cosine searches, made on first use."""
        if self._unit is None:
            self._unit = l2_normalize(np.ascontiguousarray(self.vectors, dtype=np.float32))
        return self._unit

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        unit = self.unit_vectors
        return float(unit[self.get_index(a)] @ unit[self.get_index(b)])

    def most_similar(
        self,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
        topn: int = 10,
    ) -> list[tuple[str, float]]:
        """Nearest words by cosine to mean(positive) - mean(negative), query words excluded.

        ``most_similar(positive=["king", "woman"], negative=["man"])`` is the classic analogy.
        """
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        if not positive and not negative:
            raise InputError("most_similar needs at least one word", "pass positive=['king']")
        if topn < 1:
            raise InputError(f"topn must be at least 1, got {topn}", "use e.g. topn=10")
        unit = self.unit_vectors
        query_ids = [self.get_index(w) for w in positive + negative]
        signs = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
        query = l2_normalize((signs[:, None] * unit[query_ids]).mean(axis=0))
        scores = unit @ query
        scores[query_ids] = -np.inf
        count = min(topn, len(self) - len(set(query_ids)))
        if count <= 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]


class WordVectorEmbedder(Embedder):
    """A text's vector is the mean of its known words' vectors (unknown words are skipped).

    Build it from your own ``words`` and ``vectors`` arrays, or from the packaged GloVe with
    :meth:`from_glove_package`. ``vectors`` is the :class:`WordVectors` (None until given).
    """

    method = "word-vectors"

    def __init__(
        self,
        words: Sequence[str] | None = None,
        vectors: np.ndarray | None = None,
        *,
        lowercase: bool = True,
    ) -> None:
        super().__init__(lowercase=bool(lowercase))
        if (words is None) != (vectors is None):
            raise InputError("words and vectors go together", "pass both, or neither")
        self.vectors: WordVectors | None = (
            WordVectors(words, np.asarray(vectors)) if words is not None else None
        )

    @classmethod
    def from_glove_package(cls, **params: Any) -> Self:
        """The packaged GloVe 6B 50d: 400k lowercase words; the matrix is memory-mapped."""
        import pyarrow.parquet as pq

        from embedlab.models import catalogue

        vectors_path, index_path = catalogue.glove_files()
        table = pq.read_table(index_path)
        words = table.column(0).to_pylist()
        vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        return cls(words, vectors, **params)

    @property
    def is_fitted(self) -> bool:
        return self.vectors is not None

    def _require_fitted(self) -> None:
        self._kv()  # "no vectors yet" says more than base's "not fitted"

    def _kv(self) -> WordVectors:
        if self.vectors is None:
            raise NotFittedError(
                "this word-vector embedder has no vectors yet",
                "pass words= and vectors=, or use WordVectorEmbedder.from_glove_package()",
            )
        return self.vectors

    @property
    def dim(self) -> int:
        return self._kv().dim

    def _lookup(self, text: str) -> tuple[list[tuple[str, tuple[int, int]]], list[int]]:
        """Word tokens of ``text`` and their rows (-1 for words not in the vocabulary)."""
        from embedlab.text.tokenize import word_tokens

        index = self._kv().index
        tokens = word_tokens(text, lowercase=self.params.get("lowercase", True))
        return tokens, [index.get(token, -1) for token, _ in tokens]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        kv = self._kv()
        out = np.zeros((len(texts), kv.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = [j for j in self._lookup(text)[1] if j >= 0]
            if ids:
                out[i] = kv.vectors[ids].mean(axis=0, dtype=np.float32)
        return out

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Every word token with its row (zeros when unknown) and the mean of the known ones."""
        (text,) = check_texts([text])
        kv = self._kv()
        tokens, ids = self._lookup(text)
        lookup = np.zeros((len(ids), kv.dim), dtype=np.float32)
        known = [k for k, i in enumerate(ids) if i >= 0]
        if known:
            lookup[known] = kv.vectors[[ids[k] for k in known]]
        notes = []
        unknown = [tokens[k][0] for k, i in enumerate(ids) if i < 0]
        if unknown:
            notes.append("not in the vocabulary, skipped: " + ", ".join(unknown))
        if not known:
            notes.append("no known word: the vector is all zeros")
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=[token for token, _ in tokens],
            ids=ids,
            lookup=lookup,
            vector=self._embed_batch([text])[0],
            pooling="mean",
            offsets=[span for _, span in tokens],
            contextual=None,
            notes=notes,
        )

    def _save_state(self, folder: Path) -> dict[str, Any]:
        kv = self._kv()
        return {
            "words": save_json(folder, "words", kv.words),
            "vectors": save_array(folder, "vectors", kv.vectors),
        }

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        words = load_json(folder, meta.get("words", "words.json"))
        vectors = load_array(folder, meta.get("vectors", "vectors.npy"))
        if not isinstance(words, list) or len(words) != len(vectors):
            raise ModelFormatError(
                f"{folder}: the word list and the vectors do not match in length",
                "re-save the model",
            )
        self.vectors = WordVectors(words, vectors)
