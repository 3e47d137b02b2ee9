"""A ready-made ONNX sentence model (graph in, pooled vector out) run on onnxruntime.

Some models ship only as an exported ONNX graph, with pooling already inside it and no torch
weights to export from (the catalogue's paraphrase-MiniLM-L3-v2). This embedder runs such a graph
with a ``tokenizers`` tokenizer: tokenize with truncation at ``max_length``, sort by length, pad
each batch to its longest text, run, read the pooled output.

- ``output`` names the pooled ``(batch, dim)`` output; ``token_output`` the per-token
  ``(batch, tokens, dim)`` output if the graph exposes one (``embed_tokens`` then shows the
  contextual vectors). Left unset, each is the graph's only float output of that rank.
- ``lookup`` rows in ``embed_tokens`` come from the graph's own embedding table (the initializer
  gathered by ``input_ids``), read with ``onnx`` only when a walkthrough is asked for.
- Sessions come from :class:`~embedlab.embedders.transformers.onnx.runner.OnnxRunner`: one
  intra-op thread by default (``threads=`` beats ``$EMBEDLAB_THREADS``), no spinning threads.
- Texts longer than ``max_length`` are cut; ``embed`` then warns once per call
  (:class:`~embedlab.errors.TruncationWarning`).
- ``save`` writes a self-contained folder: the graph (hard-linked when the file system allows,
  else copied) and ``tokenizer.json`` beside ``embedlab.json``, so it never needs the packages
  it came from.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import link_or_copy
from embedlab.checks import flag, optional_text, path_text
from embedlab.checks import threads as threads_check
from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts, l2_normalize
from embedlab.embedders.options import LOAD, RELOAD, Option, declare
from embedlab.embedders.transformers.batching import DEFAULT_TOKEN_BUDGET, batches_by_cost
from embedlab.embedders.transformers.onnx.runner import OnnxRunner
from embedlab.embedders.transformers.truncation import warn_truncated
from embedlab.errors import InputError, ModelFormatError, UnknownModelError
from embedlab.progress import progress_bar
from embedlab.threads import resolve_threads

GRAPH_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
_FLOAT = "tensor(float)"
# no sliding windows here (the graph sees one piece at a time): what keeps long texts whole
_TRUNCATION_HINT = (
    "split long texts first (e.g. embedlab.text.chunking.chunk_text), or use a transformer model "
    "with sliding_window=True"
)


@dataclass
class _Session:
    runner: OnnxRunner
    tokenizer: Any  # tokenizers.Tokenizer, truncating at max_length, no padding
    counter: Any  # the same without truncation, to count a text's full length
    output: str
    token_output: str | None
    inputs: tuple[str, ...]
    pad_id: int
    dim: int


class OnnxSentenceEmbedder(Embedder):
    """An ONNX graph that maps ``input_ids`` / ``attention_mask`` to a pooled sentence vector.

    ``model`` is a ``.onnx`` file (or a folder holding exactly one); ``tokenizer`` a
    ``tokenizer.json`` (or a folder holding one; default: the model's folder). ``normalize``
    L2-normalises the graph's output; ``token_budget`` caps padded tokens per batch.
    """

    method = "onnx-sentence"
    # the graph and its tokenizer are fixed; max_length and threads make a new session
    options = declare(
        Option("model", check=path_text),
        Option("tokenizer", None, check=optional_text),
        Option("output", None),
        Option("token_output", None),
        Option("max_length", 128, RELOAD),
        Option("normalize", False, LOAD, flag),
        Option("threads", None, RELOAD, threads_check),
        Option("token_budget", None, LOAD),
    )

    def __init__(
        self,
        model: str,
        *,
        tokenizer: str | None = None,
        output: str | None = None,
        token_output: str | None = None,
        max_length: int = 128,
        normalize: bool = False,
        threads: int | None = None,
        token_budget: int | None = None,
    ) -> None:
        super().__init__(
            model=model,
            tokenizer=tokenizer,
            output=output,
            token_output=token_output,
            max_length=max_length,
            normalize=normalize,
            threads=threads,
            token_budget=token_budget,
        )
        self._session: _Session | None = None
        self._table: np.ndarray | None = None
        self._lock = threading.Lock()

    def _check_values(self, p: dict[str, Any]) -> None:
        for name in ("max_length", "token_budget"):
            value = p[name]
            if value is None and name == "token_budget":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise InputError(
                    f"{name} must be a whole number of at least 2, got {value!r}",
                    "use e.g. max_length=128" if name == "max_length" else "use e.g. 8192",
                )

    def _params_changed(self, changed: set[str]) -> None:
        self._session = None  # a new session and tokenizer are made on next use

    # -- files and session -----------------------------------------------------------------
    @property
    def graph_path(self) -> Path:
        return _one_file(Path(self.params["model"]), "*.onnx", "an ONNX graph (.onnx)")

    @property
    def tokenizer_path(self) -> Path:
        given = self.params["tokenizer"]
        where = Path(given) if given is not None else self.graph_path.parent
        return where / TOKENIZER_FILE if where.is_dir() else where

    def _loaded(self) -> _Session:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._open()
        return self._session

    def _open(self) -> _Session:
        from tokenizers import Tokenizer

        graph = self.graph_path
        path = self.tokenizer_path
        if not path.is_file():
            raise UnknownModelError(
                f"no tokenizer at {path}",
                "pass tokenizer= the model's tokenizer.json (or a folder holding one)",
            )
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception
            raise ModelFormatError(
                f"cannot read the tokenizer {path} ({exc})", "pass a valid tokenizer.json"
            ) from None
        padding = tokenizer.padding
        pad_id = padding["pad_id"] if padding else tokenizer.token_to_id("[PAD]") or 0
        tokenizer.no_padding()
        tokenizer.no_truncation()
        counter = Tokenizer.from_str(tokenizer.to_str())
        tokenizer.enable_truncation(self.params["max_length"])
        runner = OnnxRunner(graph, threads=resolve_threads(self.params["threads"]))
        outputs = {o.name: o for o in runner.session.get_outputs()}
        output = self.params["output"] or _only_output(outputs, 2, graph)
        token_output = self.params["token_output"]
        if token_output is None:
            rank3 = [n for n, o in outputs.items() if o.type == _FLOAT and len(o.shape) == 3]
            token_output = rank3[0] if len(rank3) == 1 else None
        for name in (output, token_output):
            if name is not None and name not in outputs:
                raise ModelFormatError(
                    f"{graph} has no output {name!r}",
                    f"its outputs are {', '.join(map(repr, outputs))}",
                )
        unknown = set(runner.input_names) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown or not {"input_ids", "attention_mask"} <= set(runner.input_names):
            raise ModelFormatError(
                f"{graph} takes the inputs {', '.join(runner.input_names)}",
                "this runtime needs input_ids and attention_mask (token_type_ids optional)",
            )
        inputs = tuple(runner.input_names)
        session = _Session(runner, tokenizer, counter, output, token_output, inputs, pad_id, 0)
        session.dim = int(self._run(session, [[pad_id]], (output,))[0].shape[1])  # probe once
        return session

    @property
    def dim(self) -> int:
        return self._loaded().dim

    @property
    def max_length(self) -> int:
        return int(self.params["max_length"])

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` used, truncating at ``max_length``."""
        return self._loaded().tokenizer

    # -- embedding -------------------------------------------------------------------------
    def _run(
        self, session: _Session, ids: list[list[int]], outputs: tuple[str, ...]
    ) -> list[np.ndarray]:
        """Pad ``ids`` right to the longest and run the graph; the named outputs, float32."""
        width = max(len(row) for row in ids)
        lengths = np.array([len(row) for row in ids])
        mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
        matrix = np.full((len(ids), width), session.pad_id, dtype=np.int64)
        for r, row in enumerate(ids):
            matrix[r, : len(row)] = row
        feed = {"input_ids": matrix, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
        try:
            got = session.runner.session.run(list(outputs), {n: feed[n] for n in session.inputs})
        except Exception as exc:  # onnxruntime raises its own types; all mean the graph refused
            raise InputError(
                f"onnxruntime could not run {session.runner.path.name} on {len(ids)} text(s) of "
                f"up to {width} tokens ({str(exc).splitlines()[0]})",
                "lower max_length to what the model was exported for (e.g. 128)",
            ) from None
        return [np.asarray(a, dtype=np.float32) for a in got]

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Tokenize all, then run length-sorted batches (little padding), rows back in order."""

        session = self._loaded()
        encodings = session.tokenizer.encode_batch_fast(texts)
        ids = [e.ids for e in encodings]
        cut = sum(bool(e.overflowing) for e in encodings)  # truncation keeps what it cut off
        warn_truncated(cut, len(texts), self.params["max_length"], _TRUNCATION_HINT)
        budget = self.params["token_budget"] or DEFAULT_TOKEN_BUDGET
        out = np.empty((len(texts), session.dim), dtype=np.float32)
        with progress_bar(f"embedding with {self.name}", len(texts), enabled=progress) as advance:
            for rows in batches_by_cost(
                [len(x) for x in ids], batch_size, budget, hidden_size=session.dim
            ):
                out[rows] = self._run(session, [ids[i] for i in rows], (session.output,))[0]
                advance(len(rows))
        return l2_normalize(out) if self.params["normalize"] else out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._embed_all(texts, len(texts), False)

    def count_tokens(self, text: str) -> int:
        """Subword tokens of ``text`` with special tokens, untruncated (for chunking budgets)."""
        return len(self._loaded().counter.encode(text).ids)

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Tokens, ids, embedding-table rows, contextual vectors (if exposed) and the vector."""
        (text,) = check_texts([text])
        session = self._loaded()
        encoding = session.tokenizer.encode(text)
        ids = list(encoding.ids)
        wanted = (session.output,) + ((session.token_output,) if session.token_output else ())
        got = self._run(session, [ids], wanted)
        vector = l2_normalize(got[0])[0] if self.params["normalize"] else got[0][0]
        notes = []
        if encoding.overflowing:
            notes.append(f"truncated to {len(ids)} tokens (the text has {self.count_tokens(text)})")
        if session.token_output is None:
            notes.append(
                "this ONNX graph exposes only the pooled vector, so per-token contextual vectors "
                "are not available"
            )
        table = self._embedding_table()
        if table is None:
            notes.append("no embedding table found in the graph: lookup rows are zeros")
            lookup = np.zeros((len(ids), session.dim), dtype=np.float32)
        else:
            lookup = table[ids].astype(np.float32)
        pooling = "in the ONNX graph"
        if session.token_output and np.allclose(got[1][0].mean(axis=0), got[0][0], atol=1e-4):
            pooling = "mean (in the ONNX graph)"  # checked on this text's own token vectors
        pooling += " + l2-normalise" if self.params["normalize"] else ""
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=list(encoding.tokens),
            ids=ids,
            lookup=lookup,
            vector=vector,
            pooling=pooling,
            offsets=[tuple(o) for o in encoding.offsets],
            contextual=got[1][0] if session.token_output else None,
            notes=notes,
        )

    def _embedding_table(self) -> np.ndarray | None:
        """The initializer the graph gathers ``input_ids`` from (read once, on first use)."""
        if self._table is None:
            import onnx
            from onnx import numpy_helper

            graph = onnx.load(str(self.graph_path)).graph
            tables = {t.name: t for t in graph.initializer if len(t.dims) == 2}
            for node in graph.node:
                if node.op_type == "Gather" and node.input[1] == "input_ids":
                    if node.input[0] in tables:
                        self._table = numpy_helper.to_array(tables[node.input[0]])
                    break
        return self._table

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """The graph (hard link, else copy) and tokenizer.json, so the folder stands alone."""
        link_or_copy(self.graph_path, folder / GRAPH_FILE)
        shutil.copyfile(self.tokenizer_path, folder / TOKENIZER_FILE)
        return {"source_model": str(self.graph_path), "source_tokenizer": str(self.tokenizer_path)}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        for name in (GRAPH_FILE, TOKENIZER_FILE):
            if not (folder / name).is_file():
                raise ModelFormatError(
                    f"{folder / name} is missing", "re-save the model; the folder is incomplete"
                )
        self.params["model"] = str(folder / GRAPH_FILE)
        self.params["tokenizer"] = str(folder / TOKENIZER_FILE)
        self._session = None
        self._table = None
        self._loaded()  # open now, so a damaged folder fails at load time


def _one_file(path: Path, pattern: str, what: str) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob(pattern)) if path.is_dir() else []
    if len(found) != 1:
        where = (
            f"{path} holds {len(found)} files matching {pattern}"
            if found
            else f"no {what} at {path}"
        )
        raise UnknownModelError(where, f"pass the path of {what} itself")
    return found[0]


def _only_output(outputs: dict[str, Any], rank: int, graph: Path) -> str:
    """The graph's only float output of ``rank`` dimensions, or an error naming them all."""
    found = [n for n, o in outputs.items() if o.type == _FLOAT and len(o.shape) == rank]
    if len(found) != 1:
        raise ModelFormatError(
            f"{graph} has {len(found)} float outputs of shape (batch, dim), so the pooled one "
            "is ambiguous",
            f"pass output= one of {', '.join(map(repr, outputs))}",
        )
    return found[0]
