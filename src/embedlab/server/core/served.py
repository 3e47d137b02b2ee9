"""The served models: each embedder loaded once and run through its three stages.

Why stages: the batcher tokenises a request as it arrives (``prepare``) while the model computes
the previous batch in its own thread (``run`` then ``finish`` over merged requests), as infinity
and text-embeddings-inference do; the token counts ``prepare`` gives are what limits, usage and
the batcher's token budget are measured in.

Every embedder has the stages (:class:`~embedlab.embedders.base.Embedder` gives defaults that
count words and call ``embed``'s own batches), so there is one path for all. At load the staged
result is checked against ``embed`` on real sentences and on a text longer than the model takes;
a model whose stages give something else (a transformer with sliding windows averages windows in
``embed``) is served through :class:`WholeTexts`, which hands ``embed`` whole texts.

Tokenising is bounded: an input far longer than the token limit is tokenised from a prefix of
whole words that holds more than the limit, never in full (see :meth:`ServedModel.prepare`).
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

import embedlab
from embedlab import catalogue
from embedlab.embedders.base import Embedder, PreparedTexts
from embedlab.embedders.transformers.switch import with_runtime
from embedlab.errors import InputError, InputTooLongError
from embedlab.server.config import COMPUTE_BATCH_SIZE
from embedlab.server.core.errors import (
    EmptyInputError,
    InvalidTokenIdError,
    TokenIdsUnsupportedError,
    TooManyTokensError,
)

log = logging.getLogger("embedlab.server")

# A prefix of (limit + 1) * CHARS_PER_TOKEN characters holds more than ``limit`` tokens for any
# ordinary text (English runs 4-5 characters a token); rarer texts are tokenised in full.
CHARS_PER_TOKEN = 8
SPECIAL_TOKENS = 4  # room for [CLS], [SEP] and the like in the cheap upper bound
_LAST_SPACE = re.compile(r"\s\S*\Z")


class WholeTexts:
    """The stages for a model whose own stages differ from ``embed``: words counted, whole
    texts embedded with ``embed`` in ``run``."""

    prepare_tokenizes = False

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def prepare(
        self, texts: Sequence[str], *, max_tokens: int | None = None, truncate: bool = True
    ) -> PreparedTexts:
        return Embedder.prepare(self.embedder, texts, max_tokens=max_tokens, truncate=truncate)

    def run(self, prepared: PreparedTexts, *, batch_size: int = 32) -> np.ndarray:
        return self.embedder.embed(prepared.texts, batch_size=batch_size)

    def finish(self, vectors: np.ndarray) -> np.ndarray:
        return vectors


@dataclass
class ServedModel:
    """One model as the server offers it: its id, the embedder and its stages."""

    id: str
    spec: str
    embedder: Embedder
    max_tokens: int | None
    stages: Any = None  # the embedder itself, or WholeTexts(embedder); see the module docstring
    compute_batch_size: int | None = None  # rows per model call; None: the server's setting
    created: int = field(default_factory=lambda: int(time.time()))
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.stages is None:
            self.stages = self.embedder

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def call_rows(self) -> int:
        """Rows per model call: this model's own setting, else the default server setting."""
        return self.compute_batch_size or COMPUTE_BATCH_SIZE

    @property
    def path(self) -> str:
        return "staged" if self.stages is self.embedder else "whole texts"

    @cached_property
    def unit_vectors(self) -> bool:
        """True when the model's vectors are already unit length (a transformer that
        normalises), so the server need not normalise them again."""
        return getattr(self.embedder, "method", None) == "transformer" and bool(
            getattr(self.embedder, "normalize", False)
        )

    @property
    def prepare_tokenizes(self) -> bool:
        """True: ``prepare`` uses the tokenizer and ``compute`` does not; else the reverse."""
        return bool(self.stages.prepare_tokenizes)

    # -- stage 1 ---------------------------------------------------------------------------------
    @staticmethod
    def token_bounds(texts: Sequence[str], limit: int | None) -> list[int]:
        """A cheap upper bound of each input's tokens (UTF-8 bytes plus specials, at most the
        limit): what the batcher reserves before any tokenising."""
        bounds = [len(text.encode("utf-8", "surrogatepass")) + SPECIAL_TOKENS for text in texts]
        return bounds if limit is None else [min(limit, n) for n in bounds]

    def prepare(self, texts: list[str], limit: int | None, truncate: bool) -> Any:
        """Tokenise (or count), cutting inputs at ``limit`` or refusing them; work is bounded.

        An input longer than ``(limit + 1) * CHARS_PER_TOKEN`` characters is tokenised from its
        longest prefix of whole words of that length: if the prefix already passes the limit,
        so does the text, and its first ``limit`` tokens are the text's. Only an input whose
        prefix falls short (very long "words"; with ``truncate`` off, one that does not pass
        the limit) is tokenised in full.
        """
        if limit is None:
            return self._prepare(texts, None, truncate, set())
        room = (limit + 1) * CHARS_PER_TOKEN
        sample, cut = list(texts), set()
        for i, text in enumerate(texts):
            if len(text) > room:
                space = _LAST_SPACE.search(text, 0, room)
                if space is not None and space.start() > room // 2:
                    sample[i] = text[: space.start()]
                    cut.add(i)
        prepared = self._prepare(sample, limit, truncate, cut)
        if cut:  # a prefix that fell short says nothing of the rest: those go whole
            short = [i for i in cut if prepared.lengths[i] < limit or not truncate]
            if short:
                for i in short:
                    sample[i] = texts[i]
                prepared = self._prepare(sample, limit, truncate, cut - set(short))
        return prepared

    def _prepare(self, texts: list[str], limit: int | None, truncate: bool, cut: set[int]) -> Any:
        try:
            return self.stages.prepare(texts, max_tokens=limit, truncate=truncate)
        except InputTooLongError as exc:
            raise TooManyTokensError(
                exc.index, exc.tokens, exc.limit, at_least=exc.index in cut
            ) from None

    # -- stages 2 and 3 --------------------------------------------------------------------------
    def compute(self, items: list[Any]) -> list[np.ndarray]:
        """Several requests' prepared inputs as one batch; one ``(n_i, dim)`` array each."""
        merged = items[0].concat(items)
        vectors = self.stages.finish(self.stages.run(merged, batch_size=self.call_rows))
        bounds = np.cumsum([len(item) for item in items])[:-1]
        return np.split(vectors, bounds)

    def compute_oldest_call(self, items: list[Any]) -> tuple[list[int], list[np.ndarray]] | None:
        """Of several one-input requests, only the model call that holds the first (oldest), as
        the batch plan cuts their rows: (the items it answered, in the call's order; their
        vectors). None where calls cannot be planned (whole-text stages) or an item holds more
        than one input: :meth:`compute` the batch then."""
        plan = getattr(self.stages, "plan_batches", None)
        if plan is None or any(len(item) != 1 for item in items):
            return None
        merged = items[0].concat(items)
        rows = next(call for call in plan(merged, self.call_rows) if 0 in call)
        vectors = self.stages.finish(self.stages.run_batch(merged, rows))
        return rows.tolist(), [vectors[k : k + 1] for k in range(len(rows))]

    # -- token ids -------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any | None:
        """The model's subword tokenizer, if it has one (for token-id input)."""
        tokenizer = getattr(self.embedder, "tokenizer", None)
        return tokenizer if hasattr(tokenizer, "decode") else None

    def decode(self, batches: list[list[int]]) -> list[str]:
        """Token ids back to text with the model's own tokenizer; refused for word models."""
        tokenizer = self.tokenizer
        if tokenizer is None:
            raise TokenIdsUnsupportedError(
                f"the model {self.id!r} ({self.embedder.method}) has no subword tokenizer, so it "
                "cannot read token ids",
                "send the input as text",
            )
        size = len(tokenizer) if hasattr(tokenizer, "__len__") else tokenizer.get_vocab_size()
        texts = []
        for i, ids in enumerate(batches):
            bad = [t for t in ids if t < 0 or t >= size]
            if bad:
                raise InvalidTokenIdError(
                    f"input {i} has token id {bad[0]}, outside the vocabulary of {self.id!r} "
                    f"(0-{size - 1})"
                )
            try:
                text = tokenizer.decode(ids, skip_special_tokens=True)
            except (OverflowError, ValueError, TypeError) as exc:
                raise InvalidTokenIdError(f"input {i}: cannot decode ({exc})") from None
            if not text.strip():
                raise EmptyInputError(f"input {i} decodes to no text (special tokens only?)")
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
            "input_kind": self.embedder.input_kind,  # audio/image: send media items (extension)
            "aliases": list(self.aliases),
            **self._runtime_info(),
        }

    def _runtime_info(self) -> dict[str, Any]:
        """Which runtime computes this model's vectors, and for ``auto`` why (issue: the choice
        must be visible where it is used); empty for models without runtimes."""
        runtime = getattr(self.embedder, "runtime", None)
        if not isinstance(runtime, str):
            return {}
        choice = getattr(self.embedder, "runtime_choice", None)
        return {"runtime": runtime, "runtime_choice": choice.summary() if choice else None}


def stages_match_embed(embedder: Embedder, max_tokens: int | None) -> bool:
    """The staged path must give what ``embed`` gives; checked once, on real sentences and on a
    text longer than the model takes (where sliding windows would differ)."""
    texts = ["A short one.", "A somewhat longer sentence, so that padding is exercised too."]
    if max_tokens:
        texts.append(" ".join(["words"] * (max_tokens + 8)))
    with warnings.catch_warnings():  # the long text is cut on purpose: no truncation warning
        warnings.simplefilter("ignore")
        try:
            prepared = embedder.prepare(texts, max_tokens=None, truncate=True)
            staged = embedder.finish(embedder.run(prepared, batch_size=len(texts)))
        except (AttributeError, TypeError, KeyError, ValueError, ImportError) as exc:
            log.warning("staged path of %s unavailable (%s); using embed()", embedder.name, exc)
            return False
        reference = embedder.embed(texts)
    return staged.shape == reference.shape and bool(np.allclose(staged, reference, atol=1e-5))


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
    compute_batch_size: int = COMPUTE_BATCH_SIZE,
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
    model_id: str,
    embedder: Embedder,
    *,
    spec: str | None = None,
    compute_batch_size: int | None = None,
) -> ServedModel:
    """Wrap a ready embedder for serving (warmed up, its staged path checked);
    ``compute_batch_size`` None leaves rows per call to the server's config."""

    spec = spec or model_id
    media = embedder.input_kind != "text"  # audio/image: embedded by http/media_input.py
    if not media:
        embedder.embed(["warm up"])  # load weights now, not on the first request
    max_tokens = None if media else getattr(embedder, "max_length", None)
    stages: Any = embedder
    if not media and not stages_match_embed(embedder, max_tokens):
        stages = WholeTexts(embedder)
    entry_info = catalogue.find(spec)
    aliases: set[str] = {spec, embedder.name}
    if entry_info is not None:
        aliases |= {entry_info.name, *entry_info.aliases}
    aliases.discard(model_id)
    return ServedModel(
        id=model_id,
        spec=spec,
        embedder=embedder,
        max_tokens=max_tokens,
        stages=stages,
        compute_batch_size=compute_batch_size,
        aliases=tuple(sorted(aliases)),
    )


def load_models(
    entries: list[str],
    *,
    runtime: str | None = None,
    threads: int | None = None,
    compute_batch_size: int = COMPUTE_BATCH_SIZE,
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
            model.path,
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
