"""The served models: each embedder loaded once, split into a pre-processing and a compute stage.

Why two stages: the dynamic batcher tokenises a request as it arrives while the model computes
the previous batch in its own thread, as infinity and text-embeddings-inference do, and the
token counts it gets are what limits, usage and the batcher's token budget are measured in.

- Transformer embedders get the fast path: their public stages, ``prepare`` (tokenisation) in the
  pre-processing stage, ``run`` (length-sorted, token-budgeted batches on torch or ONNX) and
  ``finish`` over the merged requests in the compute stage. ``embed`` runs the same stages; at
  load the fast path is still checked against ``embed`` on real sentences, and if they ever
  disagree the model is served by the generic path instead.
- Every other embedder (TF-IDF, GloVe, static, ...) gets the generic path: words counted up front,
  ``embed`` called on the merged batch.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

import embedlab
from embedlab import catalogue
from embedlab.embedders.base import Embedder
from embedlab.embedders.transformers.embedder import Encoded, TransformerEmbedder, with_runtime
from embedlab.errors import InputError, InputTooLongError
from embedlab.server.errors import ApiError
from embedlab.text.tokenize import word_tokens

if TYPE_CHECKING:
    from embedlab.embedders.transformers.embedder import Encoded, TransformerEmbedder

log = logging.getLogger("embedlab.server")


@dataclass
class Prepared:
    """Inputs of one request after pre-processing: texts, tokens per input, encodings."""

    texts: list[str]
    lengths: list[int]
    encoded: Encoded | None = None  # transformer models only

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def tokens(self) -> int:
        return int(sum(self.lengths))

    def slice(self, start: int, stop: int) -> Prepared:
        encoded = self.encoded.slice(start, stop) if self.encoded is not None else None
        return Prepared(self.texts[start:stop], self.lengths[start:stop], encoded)


def too_long(index: int, tokens: int, limit: int) -> ApiError:
    return ApiError(
        400,
        f"input {index} has {tokens} tokens, more than the {limit} this model takes; "
        'shorten it, or send "truncate": true to cut it to the first tokens',
        code="context_length_exceeded",
        param="input",
    )


class Backend(ABC):
    """How one embedder is run: ``prepare`` per request, ``compute`` per merged batch.

    The two flags tell the batcher which stage touches the model's tokenizer, so it can hold the
    tokenizer lock exactly there.
    """

    prepare_uses_tokenizer = False
    compute_uses_tokenizer = True

    def __init__(self, embedder: Embedder, compute_batch_size: int) -> None:
        self.embedder = embedder
        self.compute_batch_size = compute_batch_size

    @abstractmethod
    def prepare(self, texts: list[str], limit: int | None, truncate: bool) -> Prepared:
        """Tokenise (or count); inputs over ``limit`` tokens are cut or refused."""

    @abstractmethod
    def compute(self, items: list[Prepared]) -> list[np.ndarray]:
        """Embed several requests' inputs together; one ``(n_i, dim)`` array per request."""


class GenericBackend(Backend):
    """Any embedder: tokens counted as words, the merged batch embedded with ``embed``."""

    name = "generic"

    def prepare(self, texts: list[str], limit: int | None, truncate: bool) -> Prepared:
        lengths = []
        out = []
        for i, text in enumerate(texts):
            tokens = word_tokens(text, lowercase=False)
            if limit is not None and len(tokens) > limit:
                if not truncate:
                    raise too_long(i, len(tokens), limit)
                text = text[: tokens[limit - 1][1][1]]
                tokens = tokens[:limit]
            out.append(text)
            lengths.append(max(1, len(tokens)))
        return Prepared(out, lengths)

    def compute(self, items: list[Prepared]) -> list[np.ndarray]:
        texts = [text for item in items for text in item.texts]
        matrix = self.embedder.embed(texts, batch_size=max(len(texts), 1))
        return _split(matrix, items)


class TransformerBackend(Backend):
    """The embedder's ``prepare`` up front; its ``run`` and ``finish`` on the merged batch.

    These are the stages ``embed`` itself runs, so torch and the ONNX runtimes are served alike;
    the result is still checked against ``embed`` at load (:func:`_transformer_fast_path_works`).
    """

    name = "transformer"
    prepare_uses_tokenizer = True
    compute_uses_tokenizer = False

    @property
    def model(self) -> TransformerEmbedder:
        return cast("TransformerEmbedder", self.embedder)

    def prepare(self, texts: list[str], limit: int | None, truncate: bool) -> Prepared:
        try:
            encoded = self.model.prepare(texts, max_tokens=limit, truncate=truncate)
        except InputTooLongError as exc:
            raise too_long(exc.index, exc.tokens, exc.limit) from None
        return Prepared(list(texts), encoded.lengths, encoded)

    def compute(self, items: list[Prepared]) -> list[np.ndarray]:

        merged = Encoded.concat([cast("Encoded", item.encoded) for item in items])
        vectors = self.model.run(merged, batch_size=self.compute_batch_size)
        return _split(self.model.finish(vectors), items)

    @staticmethod
    def suits(embedder: Embedder) -> bool:
        """Sliding windows turn one text into several model inputs: those use ``embed``."""

        return isinstance(embedder, TransformerEmbedder) and not embedder.params.get(
            "sliding_window"
        )


def _split(matrix: np.ndarray, items: list[Prepared]) -> list[np.ndarray]:
    bounds = np.cumsum([len(item) for item in items])[:-1]
    return np.split(matrix, bounds)


def _transformer_fast_path_works(backend: TransformerBackend) -> bool:
    """The fast path must give what ``embed`` gives; checked once, on real sentences."""
    texts = ["A short one.", "A somewhat longer sentence, so that padding is exercised too."]
    try:
        fast = np.concatenate(backend.compute([backend.prepare(texts, None, True)]))
    except (AttributeError, TypeError, KeyError, ValueError, ImportError) as exc:
        log.warning("transformer fast path unavailable (%s); using embed()", exc)
        return False
    reference = backend.embedder.embed(texts)
    return bool(np.allclose(fast, reference, atol=1e-5))


@dataclass
class ServedModel:
    """One model as the server offers it: its id, the embedder and how to run it."""

    id: str
    spec: str
    embedder: Embedder
    backend: Backend
    max_tokens: int | None
    created: int = field(default_factory=lambda: int(time.time()))
    aliases: tuple[str, ...] = ()

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def tokenizer(self) -> Any | None:
        """The model's subword tokenizer, if it has one (for token-id input)."""
        tokenizer = getattr(self.embedder, "tokenizer", None)
        return tokenizer if hasattr(tokenizer, "decode") else None

    def decode(self, batches: list[list[int]]) -> list[str]:
        """Token ids back to text with the model's own tokenizer; refused for word models."""
        tokenizer = self.tokenizer
        if tokenizer is None:
            raise ApiError(
                400,
                f"the model {self.id!r} ({self.embedder.method}) has no subword tokenizer, so it "
                "cannot read token ids; send the input as text",
                code="token_ids_unsupported",
                param="input",
            )
        size = len(tokenizer) if hasattr(tokenizer, "__len__") else tokenizer.get_vocab_size()
        texts = []
        for i, ids in enumerate(batches):
            bad = [t for t in ids if t < 0 or t >= size]
            if bad:
                raise ApiError(
                    400,
                    f"input {i} has token id {bad[0]}, outside the vocabulary of {self.id!r} "
                    f"(0-{size - 1})",
                    code="invalid_token_id",
                    param="input",
                )
            try:
                text = tokenizer.decode(ids, skip_special_tokens=True)
            except (OverflowError, ValueError, TypeError) as exc:
                raise ApiError(400, f"input {i}: cannot decode ({exc})", param="input") from None
            if not text.strip():
                raise ApiError(
                    400,
                    f"input {i} decodes to no text (special tokens only?)",
                    code="empty_input",
                    param="input",
                )
            texts.append(text)
        return texts

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": "embedlab",
            "method": self.embedder.method,
            "name": self.embedder.name,
            "dimensions": self.dim,
            "max_tokens": self.max_tokens,
            "accepts_token_ids": self.tokenizer is not None,
            "aliases": list(self.aliases),
        }


def parse_spec(entry: str) -> tuple[str, str]:
    """``"id=spec"`` or ``"spec"`` -> (id, spec); a folder's id is its name."""
    if "=" in entry:
        model_id, _, spec = entry.partition("=")
        model_id, spec = model_id.strip(), spec.strip()
        if not model_id or not spec:
            raise InputError(
                f"bad model entry {entry!r}", "use NAME=SPEC or SPEC, e.g. fast=static"
            )
        return model_id, spec
    spec = entry.strip()
    path = Path(spec).expanduser()
    return (path.name if path.is_dir() else spec), spec


def load_model(
    entry: str,
    *,
    runtime: str | None = None,
    threads: int | None = None,
    compute_batch_size: int = 32,
) -> ServedModel:
    """Load, warm up and wrap one model; unfitted trainable methods are refused."""

    model_id, spec = parse_spec(entry)
    embedder = embedlab.load(spec)
    if embedder.method == "transformer" and (runtime or threads):
        embedder = with_runtime(embedder, runtime, threads)
    if embedder.trainable and not embedder.is_fitted:
        raise InputError(
            f"the model {spec!r} is an unfitted {embedder.method} method, which cannot embed",
            "fit and save it first (e.g. `embedlab embed corpus.txt --model tfidf --out v.npy "
            "--save-model DIR`) and serve the folder: --models NAME=DIR",
        )
    return serve_embedder(model_id, embedder, spec=spec, compute_batch_size=compute_batch_size)


def serve_embedder(
    model_id: str, embedder: Embedder, *, spec: str | None = None, compute_batch_size: int = 32
) -> ServedModel:
    """Wrap a ready embedder for serving (warmed up, its fastest correct path chosen)."""

    spec = spec or model_id
    embedder.embed(["warm up"])  # load weights now, not on the first request
    max_tokens = getattr(embedder, "max_length", None)
    backend: Backend = GenericBackend(embedder, compute_batch_size)
    if embedder.method == "transformer" and TransformerBackend.suits(embedder):
        fast = TransformerBackend(embedder, compute_batch_size)
        if _transformer_fast_path_works(fast):
            backend = fast
    entry_info = catalogue.find(spec)
    aliases: set[str] = {spec, embedder.name}
    if entry_info is not None:
        aliases |= {entry_info.name, *entry_info.aliases}
    aliases.discard(model_id)
    return ServedModel(
        id=model_id,
        spec=spec,
        embedder=embedder,
        backend=backend,
        max_tokens=max_tokens,
        aliases=tuple(sorted(aliases)),
    )


def load_models(
    entries: list[str],
    *,
    runtime: str | None = None,
    threads: int | None = None,
    compute_batch_size: int = 32,
) -> dict[str, ServedModel]:
    """Load every model once, at start; ids must be unique."""
    served: dict[str, ServedModel] = {}
    for entry in entries:
        started = time.perf_counter()
        model = load_model(
            entry, runtime=runtime, threads=threads, compute_batch_size=compute_batch_size
        )
        if model.id in served:
            raise InputError(f"two models are served as {model.id!r}", "name them: ID=SPEC")
        served[model.id] = model
        log.info(
            "loaded %s (%s, %d dims, %s path) in %.1f s",
            model.id,
            model.embedder.method,
            model.dim,
            model.backend.name,
            time.perf_counter() - started,
        )
    return served


def model_lookup(models: dict[str, ServedModel]) -> dict[str, ServedModel]:
    """Ids first, then aliases that no other model claims."""
    lookup: dict[str, ServedModel] = {}
    for model in models.values():
        for alias in model.aliases:
            lookup.setdefault(alias, model)
    lookup.update(models)
    return lookup
