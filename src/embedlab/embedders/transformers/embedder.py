"""Transformer embedders: contextual token vectors from a local Hugging Face model, pooled.

The pipeline is sentence-transformers' own (tokenize with truncation, run the model, pool the last
hidden state, optionally L2-normalise) rebuilt on plain ``transformers`` so that every stage is
visible to ``embed_tokens``; for the same folder ``embed`` on ``runtime="torch"`` matches
``SentenceTransformer.encode``. Encoders (BERT-style) and decoders (GPT-style, left to right,
last-token pooled) both work; any layer's token vectors, word vectors and ELMo-style layer mixes
are available on torch, and sentence vectors also on bf16 torch, ONNX and OpenVINO; the default,
``runtime="auto"``, picks the fastest of them that keeps the vectors on this CPU
(:mod:`embedlab.embedders.transformers.auto`).

torch and transformers are imported only when a model is first used, and weights are loaded
lazily: a saved model is rebuilt from its parameters before its own copy of the weights is
attached, and must never need the folder it was first loaded from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab._hub import hub_offline
from embedlab.checks import flag, path_text
from embedlab.cpu import CpuFeatures
from embedlab.cpu import detect as detect_cpu
from embedlab.data import calibration_texts
from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts, l2_normalize
from embedlab.embedders.options import LOAD, RELOAD, Option, declare
from embedlab.embedders.transformers.auto import (
    Choice,
    choose,
    gate_texts,
    read_choice,
    record_path,
)
from embedlab.embedders.transformers.batching import (
    DEFAULT_TOKEN_BUDGET,
    Encoded,
    batches_by_cost,
)
from embedlab.embedders.transformers.config import (
    is_causal_config,
    model_token_limit,
    quiet_transformers,
    read_folder_config,
    write_folder_config,
)
from embedlab.embedders.transformers.context import merge_subwords
from embedlab.embedders.transformers.layers import (
    LayerMix,
    LayerSpec,
    check_layer_spec,
    layer_note,
    resolve_layer,
)
from embedlab.embedders.transformers.onnx.cache import exported_model
from embedlab.embedders.transformers.onnx.export import ExportSpec
from embedlab.embedders.transformers.onnx.quantize import DEFAULT_KEEP_FP32
from embedlab.embedders.transformers.onnx.runner import OnnxRunner
from embedlab.embedders.transformers.openvino.quantize import int8_recipe, quantized_graph
from embedlab.embedders.transformers.openvino.runner import OpenVinoRunner
from embedlab.embedders.transformers.pooling import POOLING_MODES, pool
from embedlab.embedders.transformers.precision import autocast, token_precision
from embedlab.embedders.transformers.runtime import (
    AUTO,
    TORCH_RUNTIMES,
    apply_torch_threads,
    check_cpu_runs,
    check_runtime,
    fastest_first,
)
from embedlab.embedders.transformers.rusttok import RustEncoder
from embedlab.embedders.transformers.truncation import SLIDING_WINDOW_HINT, warn_truncated
from embedlab.embedders.transformers.windows import window_texts
from embedlab.errors import InputError, InputTooLongError, ModelFormatError
from embedlab.extras import require
from embedlab.progress import progress_bar
from embedlab.threads import resolve_threads

if TYPE_CHECKING:
    import torch

    from embedlab.embedders.transformers.context import WordEmbeddings

HF_SUBFOLDER = "hf"


@dataclass
class _Loaded:
    """Tokenizer, configuration and resolved settings; the torch weights load on first need."""

    tokenizer: Any
    config: Any
    hf_folder: Path
    pooling: str
    normalize: bool
    max_length: int
    lowercase: bool
    input_names: tuple[str, ...]
    causal: bool
    rust: RustEncoder
    model: Any = None


# options _loaded() resolves against the folder's own configuration: a change reloads it
_STATE_OPTIONS = {"pooling", "normalize", "max_length"}


def _layer_param(name: str, layer: Any) -> Any:
    """A learned :class:`LayerMix` is kept as its JSON form, so it is saved with the model."""
    return layer.to_param() if isinstance(layer, LayerMix) else layer


def _string_list(name: str, value: Any) -> list[str] | None:
    return list(value) if isinstance(value, list | tuple) else value  # others: _check_values


# A call of one or two texts is padded on to a multiple of 8 tokens: OpenVINO prepares every node
# again when a call's shape differs from the last one's, which cost more than the model itself
# for a single sentence (`bench/serve_profile.py --concurrency 1`: 2.67 ms of CPU a call as the
# widths came, 2.22 ms padded; the padding is masked, so the vectors are the same). Larger calls
# keep their width: there the extra tokens would cost more than the new shape.
SMALL_CALL_ROWS = 2
SMALL_CALL_WIDTH_STEP = 8


class TransformerEmbedder(Embedder):
    """A Hugging Face encoder or decoder from a local folder: hidden states, pooled, maybe normalised.

    ``pooling``, ``normalize`` and ``max_length`` default to what the folder's
    sentence-transformers configuration says (plain folders: mean pooling for encoders,
    last-token pooling for causal models, no normalisation, the longest input the model takes).

    Further options, all saved with the model:

    - ``layer``: which hidden state is pooled: None (the last), an index (0 = embedding output),
      ``"mix"`` (the average of all layers) or a learned :class:`~embedlab.embedders.transformers.layers.LayerMix`.
    - ``truncate_dim``: keep the first dims only (Matryoshka); re-normalised if ``normalize``.
    - ``sliding_window``: embed texts longer than ``max_length`` as overlapping windows
      (``window_stride`` tokens apart, default half a window) and average the window vectors,
      instead of truncating them.
    - ``runtime``: ``"auto"`` (the default: the fastest runtime on this CPU whose vectors keep
      cosine 0.99 to fp32 torch, see :mod:`~embedlab.embedders.transformers.auto`), ``"torch"``
      (exactly sentence-transformers), ``"onnx"`` (fp32), ``"onnx-int8"``, ``"openvino"``
      (fp32) or ``"openvino-bf16"``; the ONNX and OpenVINO ones export the model once into the
      cache (see :mod:`embedlab.embedders.transformers.onnx`); openvino-bf16 needs a CPU with
      native bf16 (AMX or AVX-512 BF16). Token-level work (walkthroughs, hidden states, layer
      features and mixes) runs on torch, in bf16 autocast on such CPUs unless the runtime is
      ``"torch"`` (:mod:`~embedlab.embedders.transformers.precision`).
    - ``threads``: intra-op threads (else ``$EMBEDLAB_THREADS``; ONNX and OpenVINO default to
      the measured best on this machine, torch to its own default).
    - ``token_budget``: most padded tokens per batch; inputs are sorted by length, so batches
      of short texts grow and batches of long ones shrink.
    - ``keep_fp32``: MatMul groups or node-name regexes the int8 runtime leaves in fp32.
    """

    method = "transformer"
    prepare_tokenizes = True  # the staged API: prepare tokenises, run only computes
    # the weights (model) are fixed; a loaded model may change the rest: those marked RELOAD
    # load the model or its ONNX session again on next use, the others only change how it runs
    options = declare(
        Option("model", check=path_text),
        Option("pooling", None, RELOAD),
        Option("normalize", None, RELOAD),
        Option("max_length", None, RELOAD),
        Option("layer", None, LOAD, _layer_param),
        Option("truncate_dim", None, LOAD),
        Option("sliding_window", False, LOAD, flag),
        Option("window_stride", None, LOAD),
        Option("runtime", AUTO, RELOAD),
        Option("threads", None, LOAD),
        Option("token_budget", None, LOAD),
        Option("keep_fp32", None, RELOAD, _string_list),
    )

    def __init__(
        self,
        model: str,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        layer: LayerSpec = None,
        truncate_dim: int | None = None,
        sliding_window: bool = False,
        window_stride: int | None = None,
        runtime: str = AUTO,
        threads: int | None = None,
        token_budget: int | None = None,
        keep_fp32: list[str] | None = None,
    ) -> None:
        super().__init__(
            model=model,
            pooling=pooling,
            normalize=normalize,
            max_length=max_length,
            layer=layer,
            truncate_dim=truncate_dim,
            sliding_window=sliding_window,
            window_stride=window_stride,
            runtime=runtime,
            threads=threads,
            token_budget=token_budget,
            keep_fp32=keep_fp32,
        )
        self._state: _Loaded | None = None
        self._runner: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
        self._choice: Choice | None = None

    def _check_values(self, p: dict[str, Any]) -> None:
        if p["pooling"] is not None and p["pooling"] not in POOLING_MODES:
            raise InputError(
                f"unknown pooling {p['pooling']!r}", f"use one of {', '.join(POOLING_MODES)}"
            )
        if p["max_length"] is not None and (
            not isinstance(p["max_length"], int) or p["max_length"] < 2
        ):
            raise InputError(
                f"max_length must be a whole number of tokens of at least 2, got {p['max_length']!r}",
                "leave it unset to use the model's own limit",
            )
        for name, hint in (
            ("truncate_dim", "e.g. 128, at most the model's dimension"),
            ("window_stride", "e.g. half the model's max_length, or unset"),
            ("token_budget", f"e.g. {DEFAULT_TOKEN_BUDGET}, or unset"),
        ):
            value = p[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InputError(f"{name} must be a positive whole number, got {value!r}", hint)
        check_runtime(p["runtime"])
        check_cpu_runs(p["runtime"], detect_cpu())
        if p["threads"] is not None:
            resolve_threads(p["threads"])
        check_layer_spec(p["layer"])
        if p["runtime"] not in (AUTO, *TORCH_RUNTIMES) and p["layer"] not in (None, "last", -1):
            raise InputError(
                f"layer selection and mixing run on the torch runtime, not {p['runtime']}",
                "use runtime='torch' with layer=..., or drop layer= to use the ONNX runtime",
            )
        fp32 = p["keep_fp32"]
        if fp32 is not None and not all(isinstance(x, str) for x in fp32):
            raise InputError(
                f"keep_fp32 must be a list of group names or regexes, got {fp32!r}",
                "use e.g. ['ffn-output'], or [] to quantise everything",
            )

    def _params_changed(self, changed: set[str]) -> None:
        """Drop what the change invalidates: the loaded model, the ONNX session, auto's choice."""
        if changed - {"threads", "token_budget", "truncate_dim", "sliding_window"}:
            self._choice = None
        if changed & _STATE_OPTIONS:
            self._state = None
        elif self._state is not None and "threads" in changed:
            apply_torch_threads(self.params["threads"])  # torch's setting is process-wide
        self._runner = None

    # -- loading ---------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return Path(self.params["model"])

    def _loaded(self) -> _Loaded:
        if self._state is None:
            self._state = self._load_model()
        return self._state

    def _load_model(self) -> _Loaded:
        """Tokenizer and configuration now; weights now only for the torch runtime."""
        for module in ("torch", "transformers"):
            require(module, "transformers")
        folder_config = read_folder_config(self.folder)
        apply_torch_threads(self.params["threads"])
        hub_offline()
        from transformers import AutoConfig, AutoTokenizer

        hf_folder = str(folder_config.hf_folder)
        with quiet_transformers():
            try:
                config = AutoConfig.from_pretrained(hf_folder)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ModelFormatError(
                    f"transformers cannot load the model in {hf_folder} ({_first_line(exc)})",
                    "embedlab runs architectures that transformers' AutoModel knows, without "
                    "remote code; check config.json's model_type and the weight files",
                ) from None
            if getattr(config, "is_encoder_decoder", False):
                raise ModelFormatError(
                    f"{hf_folder} holds an encoder-decoder model ({config.model_type}), which "
                    "embedlab does not embed with",
                    "use an encoder (BERT-like) or a decoder-only (GPT-like) model folder",
                )
            try:
                tokenizer = AutoTokenizer.from_pretrained(hf_folder)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ModelFormatError(
                    f"cannot load a tokenizer from {hf_folder} ({_first_line(exc)})",
                    "the folder needs tokenizer.json (or vocab files) beside config.json",
                ) from None
        if not any(Path(hf_folder).glob("*.safetensors")):
            raise ModelFormatError(
                f"{hf_folder} has no .safetensors weights",
                "embedlab never unpickles weights (pytorch_model.bin); convert the model "
                "once with save_pretrained(folder, safe_serialization=True)",
            )

        limit = model_token_limit(tokenizer, config)
        max_length = self.params["max_length"] or folder_config.max_length or limit
        if limit is not None and max_length is not None and max_length > limit:
            raise InputError(
                f"max_length {max_length} is more than this model takes ({limit} tokens)",
                f"use max_length <= {limit}",
            )
        truncate_dim = self.params["truncate_dim"]
        if truncate_dim is not None and truncate_dim > config.hidden_size:
            raise InputError(
                f"truncate_dim {truncate_dim} is more than the model's {config.hidden_size} dims",
                f"use truncate_dim <= {config.hidden_size}",
            )
        normalize = self.params["normalize"]
        state = _Loaded(
            tokenizer=tokenizer,
            config=config,
            hf_folder=Path(hf_folder),
            pooling=self.params["pooling"] or folder_config.pooling,
            normalize=folder_config.normalize if normalize is None else bool(normalize),
            max_length=int(max_length or 512),
            lowercase=folder_config.lowercase,
            input_names=tuple(tokenizer.model_input_names),
            causal=is_causal_config(config.to_dict()),
            rust=RustEncoder(tokenizer, tuple(tokenizer.model_input_names)),
        )
        if self.params["runtime"] in TORCH_RUNTIMES:
            state.model = self._load_weights(state)  # fail now, not at the first embed
        return state

    def _load_weights(self, state: _Loaded) -> Any:
        import torch

        hub_offline()
        from transformers import AutoModel

        hf_folder = str(state.hf_folder)
        with quiet_transformers():
            try:
                model, info = AutoModel.from_pretrained(
                    hf_folder, dtype=torch.float32, use_safetensors=True, output_loading_info=True
                )
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise ModelFormatError(
                    f"transformers cannot load the model in {hf_folder} ({_first_line(exc)})",
                    "embedlab runs architectures that transformers' AutoModel knows, without "
                    "remote code; check config.json's model_type and the weight files",
                ) from None
        missing = [k for k in info.get("missing_keys", ()) if "pooler" not in k]
        if missing:
            raise ModelFormatError(
                f"the weights in {hf_folder} do not match its config.json "
                f"({len(missing)} missing, e.g. {sorted(missing)[0]})",
                "the model would run on random weights; re-export the folder with save_pretrained",
            )
        return model.eval()

    def _torch_model(self) -> Any:
        state = self._loaded()
        if state.model is None:
            state.model = self._load_weights(state)
        return state.model

    def _backend(self) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        """The function from padded inputs to pooled vectors, for the chosen runtime."""
        if self._runner is None:
            runtime = self._resolved_runtime()
            self._runner = self._runner_for(runtime)
            state = self._loaded()
            if runtime not in TORCH_RUNTIMES and self._choice is not None:
                state.model = None  # the check needed torch; running does not: free the memory
        return self._runner

    def _resolved_runtime(self) -> str:
        """The runtime that computes: the one asked for, or the one ``auto`` chooses."""
        runtime = self.params["runtime"]
        if runtime != AUTO:
            return runtime
        if self.params["layer"] not in (None, "last", -1):
            return "torch"  # layer selection and mixes run on torch only
        if self._choice is None:
            self._choice = self._choose()
        return self._choice.runtime

    def _choice_record(self) -> Path:
        """Where ``auto``'s check of this model on this CPU is recorded. The identity names the
        graph each candidate runs: its export's key, plus the int8 recipe for openvino-int8
        (quantized from the plain export); torch runs the weights as they are. Each distinct
        export is keyed once (the OpenVINO runtimes share one)."""
        cpu = detect_cpu()
        candidates = self._fastest_first(cpu)
        specs = {r: self._export_spec(r) for r in ("onnx", *candidates) if r not in TORCH_RUNTIMES}
        keys = {spec: spec.key() for spec in set(specs.values())}
        graphs: dict[str, str] = {}
        for runtime in candidates:
            if runtime in TORCH_RUNTIMES:
                graphs[runtime] = runtime
            elif runtime == "openvino-int8":
                graphs[runtime] = f"{keys[specs[runtime]]}+{int8_recipe()}"
            else:
                graphs[runtime] = keys[specs[runtime]]
        return record_path(keys[specs["onnx"]], cpu, candidates, graphs)

    def recorded_choice(self) -> Choice | None:
        """What ``auto`` chose for this model on this CPU before, without checking now (None:
        not checked yet, it will be on first use)."""
        return read_choice(self._choice_record())

    def _choose(self) -> Choice:
        """Check the runtimes this CPU runs fastest, once per model and CPU (see ``auto``)."""
        cpu = detect_cpu()
        record = self._choice_record()
        gate = functools.cache(lambda: self.prepare(gate_texts()))  # not when a record is read

        def embed_with(backend: Callable[[dict[str, np.ndarray]], np.ndarray]) -> np.ndarray:
            encoded = gate()
            out = np.empty((len(encoded), self.hidden_size), dtype=np.float32)
            for rows in self.plan_batches(encoded):
                out[rows] = backend(self._pad(encoded.features, rows))
            return out

        return choose(record, cpu, self._fastest_first(cpu), self._runner_for, embed_with)

    def _fastest_first(self, cpu: CpuFeatures) -> tuple[str, ...]:
        return fastest_first(cpu, self.hidden_size)

    def _calibration_batches(self) -> list[dict[str, np.ndarray]]:
        """Padded batches of 8 bundled WordNet sentences, longest first, for int8 calibration:
        every 8 sorted rows, fixed (not :meth:`plan_batches`), since the int8 graph depends on
        them (quantize.RECIPE)."""
        encoded = self.prepare(calibration_texts())
        order = np.argsort(-np.asarray(encoded.lengths), kind="stable")
        return [self._pad(encoded.features, order[i : i + 8]) for i in range(0, len(order), 8)]

    def _export_spec(self, runtime: str) -> ExportSpec:
        """The exported graph a runtime runs: fused for onnxruntime, int8 for onnx-int8 (8-bit
        weights where the CPU has VNNI, else 7-bit), plain for OpenVINO."""
        state = self._loaded()
        spec = ExportSpec(
            hf_folder=state.hf_folder,
            model_type=state.config.model_type,
            input_names=state.input_names,
            pooling=state.pooling,
            normalize=state.normalize,
            quantize=False,
        )
        if runtime.startswith("openvino"):
            return replace(spec, fuse=False)  # OpenVINO reads standard operators only
        if runtime != "onnx-int8":
            return spec
        keep = self.params["keep_fp32"]
        if keep is None:
            keep = list(DEFAULT_KEEP_FP32.get(state.config.model_type, ()))
        return replace(
            spec, quantize=True, keep_fp32=tuple(keep), reduce_range=not detect_cpu().vnni
        )

    def _runner_for(self, runtime: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        """A new batch function (padded inputs -> pooled vectors) on ``runtime``."""
        if runtime == "torch":
            return self._torch_vectors
        path = exported_model(self._export_spec(runtime), self._torch_model)
        threads = resolve_threads(self.params["threads"])
        fused = detect_cpu().kind != "amx"  # unfused attention measured faster on AMX
        if runtime == "openvino-int8":  # what int8 leaves unquantized runs in bf16 where native
            graph = quantized_graph(path, self._calibration_batches)
            precision = "bf16" if detect_cpu().native_bf16 else "fp32"
            return OpenVinoRunner(
                graph, threads=threads, precision=precision, fused_attention=fused
            )
        if runtime.startswith("openvino"):
            precision = "bf16" if runtime.endswith("-bf16") else "fp32"
            return OpenVinoRunner(path, threads=threads, precision=precision, fused_attention=fused)
        return OnnxRunner(path, threads=threads)

    @property
    def runtime_choice(self) -> Choice | None:
        """What ``runtime="auto"`` chose and why (each candidate's check); None otherwise."""
        self._resolved_runtime()
        return self._choice

    @property
    def onnx_path(self) -> Path | None:
        """The cached ONNX file this embedder runs (None on the torch runtime)."""
        runner = self._backend()
        return getattr(runner, "path", None)

    @property
    def dim(self) -> int:
        return int(self.params["truncate_dim"] or self.hidden_size)

    @property
    def hidden_size(self) -> int:
        """Width of the model's hidden states (``dim`` unless ``truncate_dim`` cuts it)."""
        return int(self._loaded().config.hidden_size)

    @property
    def num_layers(self) -> int:
        """Transformer layers; there are ``num_layers + 1`` hidden states (embeddings first)."""
        return int(self._loaded().config.num_hidden_layers)

    @property
    def is_causal(self) -> bool:
        """True for decoder-only (GPT-style) models: a token sees only the tokens before it."""
        return self._loaded().causal

    @property
    def pooling(self) -> str:
        return self._loaded().pooling

    @property
    def normalize(self) -> bool:
        return self._loaded().normalize

    @property
    def max_length(self) -> int:
        return self._loaded().max_length

    @property
    def runtime(self) -> str:
        """The runtime that computes (for ``auto``, the one chosen: this may check it now)."""
        return self._resolved_runtime()

    # -- tokenizing ------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer (e.g. to decode token ids); one thread at a time, as in
        :meth:`prepare`."""
        return self._loaded().tokenizer

    def _tokenize(
        self, texts: list[str], *, truncate: bool = True, limit: int | None = None, **extra: Any
    ) -> Any:
        """The tokenizer's encoding, lowercased if the model asks; cut at ``limit`` (default
        ``max_length``) tokens unless ``truncate`` is False."""
        state = self._loaded()
        if state.lowercase:
            texts = [text.lower() for text in texts]
        if truncate:
            extra.update(truncation=True, max_length=limit or state.max_length)
        return state.tokenizer(texts, **extra)

    def count_tokens(self, text: str) -> int:
        """Subword tokens of ``text`` with special tokens, untruncated (for chunking budgets)."""
        with quiet_transformers():  # no "longer than the maximum" warning
            return len(self._tokenize([text], truncate=False)["input_ids"][0])

    def _special_count(self) -> int:
        """How many special tokens ([CLS], [SEP], ...) the tokenizer adds to one text."""
        tokenizer = self._loaded().tokenizer
        with_special = len(tokenizer("a")["input_ids"])
        return with_special - len(tokenizer("a", add_special_tokens=False)["input_ids"])

    def windows(self, text: str) -> list[str]:
        """The pieces ``sliding_window`` embeds for ``text``: itself if it fits, else windows.

        Windows hold at most ``max_length`` tokens with the special tokens, start and end
        between words (a word is only cut if it alone is longer than a window), and start
        ``window_stride`` tokens apart (default: half a window, so each token is seen twice).
        """
        (text,) = check_texts([text])
        return self._windows([text])[0]

    def _windows(self, texts: list[str]) -> list[list[str]]:
        state = self._loaded()
        if not state.tokenizer.is_fast:
            raise InputError(
                "sliding windows need a fast (Rust) tokenizer with character offsets",
                "give the model folder a tokenizer.json, or leave sliding_window off",
            )
        size = state.max_length - self._special_count()
        stride = self.params["window_stride"] or max(1, size // 2)
        if stride > size:
            raise InputError(
                f"window_stride {stride} is larger than a window ({size} tokens), so text "
                "between windows would be skipped",
                f"use window_stride <= {size}",
            )
        if state.lowercase:
            texts = [text.lower() for text in texts]
        with quiet_transformers():  # no "longer than the maximum" warning: that is the point
            return window_texts(state.tokenizer, texts, size, stride)

    # -- embedding, in stages --------------------------------------------------------------
    # embed() is prepare -> plan_batches -> run_batch (each batch) -> finish; the stages are
    # public so a server can overlap them (tokenise new requests while the model computes).
    def prepare(
        self, texts: Sequence[str], *, max_tokens: int | None = None, truncate: bool = True
    ) -> Encoded:
        """Stage 1: tokenise, cutting inputs at ``max_tokens`` (default and cap: ``max_length``).

        With ``truncate=False`` an input over the limit raises
        :class:`~embedlab.errors.InputTooLongError` instead, so a caller can refuse it. Cheap and
        model-free, but not for two threads at once on one embedder (Hugging Face fast
        tokenizers are reconfigured per call): threaded callers hold one lock around it.
        Texts are not validated and not split into sliding windows; ``embed`` does both.
        """
        state = self._loaded()
        limit = min(max_tokens or state.max_length, state.max_length)
        texts = texts if isinstance(texts, list) else list(texts)
        features = state.rust.encode(
            [text.lower() for text in texts] if state.lowercase else texts, limit
        )
        if features is None:  # a tokenizer the direct Rust call does not reproduce
            encoded = self._tokenize(texts, limit=limit)
            names = [name for name in state.input_names if name in encoded]
            features = {name: encoded[name] for name in names}
        lengths = [len(ids) for ids in features["input_ids"]]
        if not truncate:
            cut = self._cut(texts, lengths, limit)
            if cut:  # the first text over the limit
                raise InputTooLongError(*cut[0], limit)
        return Encoded(features, lengths)

    def plan_batches(self, encoded: Encoded, batch_size: int = 32) -> list[np.ndarray]:
        """Stage 2a: row indices per model call, longest first, at most ``batch_size`` rows and
        the ``token_budget`` in padded tokens, cut where that costs least (see
        :func:`batches_by_cost`)."""
        budget = self.params["token_budget"] or DEFAULT_TOKEN_BUDGET
        return batches_by_cost(encoded.lengths, batch_size, budget, hidden_size=self.hidden_size)

    def run_batch(self, encoded: Encoded, rows: np.ndarray) -> np.ndarray:
        """Stage 2b: the chosen rows padded and through the model, on the chosen runtime.

        Gives pooled vectors ``(len(rows), hidden_size)``, normalised if the model normalises,
        before :meth:`finish`.
        """
        step = SMALL_CALL_WIDTH_STEP if len(rows) <= SMALL_CALL_ROWS else 1
        return self._backend()(self._pad(encoded.features, rows, width_step=step))

    def run(
        self,
        encoded: Encoded,
        *,
        batch_size: int = 32,
        advance: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Stage 2: every batch that :meth:`plan_batches` plans, rows back in input order.

        ``advance(n)`` is called after each batch of ``n`` rows (for progress bars).
        """
        out = np.empty((len(encoded), self.hidden_size), dtype=np.float32)
        for rows in self.plan_batches(encoded, batch_size):
            out[rows] = self.run_batch(encoded, rows)
            if advance is not None:
                advance(len(rows))
        return out

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """The stages in order; sliding windows are averaged between ``run`` and ``finish``."""

        state = self._loaded()
        if self.params["sliding_window"]:
            pieces = self._windows(texts)
            owner = np.repeat(np.arange(len(texts)), [len(p) for p in pieces])
            encoded = self.prepare([piece for group in pieces for piece in group])
        else:
            owner = np.arange(len(texts))
            encoded = self.prepare(texts)
            cut = len(self._cut(texts, encoded.lengths, state.max_length))
            warn_truncated(cut, len(texts), state.max_length, SLIDING_WINDOW_HINT)
        n = len(encoded)
        label = f"embedding with {self.name}" + (f" ({n:,} windows)" if n != len(texts) else "")
        with progress_bar(label, n, enabled=progress) as advance:
            rows_out = self.run(encoded, batch_size=batch_size, advance=advance)
        if n != len(texts):  # average each text's windows
            out = np.zeros((len(texts), rows_out.shape[1]), dtype=np.float64)
            np.add.at(out, owner, rows_out)
            out /= np.bincount(owner, minlength=len(texts))[:, None]
            rows_out = l2_normalize(out.astype(np.float32)) if state.normalize else out
        return self.finish(rows_out.astype(np.float32, copy=False))

    def _cut(self, texts: list[str], lengths: list[int], limit: int) -> list[tuple[int, int]]:
        """(index, untruncated length) of each text that tokenising at ``limit`` cut; only the
        texts that reached ``limit`` (``lengths``) are tokenised again, untruncated."""
        at_limit = [i for i, n in enumerate(lengths) if n >= limit]
        if not at_limit:
            return []
        full = self._tokenize([texts[i] for i in at_limit], truncate=False, verbose=False)
        pairs = zip(at_limit, full["input_ids"], strict=True)
        return [(i, len(ids)) for i, ids in pairs if len(ids) > limit]

    def finish(self, vectors: np.ndarray) -> np.ndarray:
        """Stage 3: Matryoshka truncation (``truncate_dim``): keep the first dims, re-normalised
        if the model normalises; unchanged otherwise."""
        cut = self.params["truncate_dim"]
        if cut is None or cut >= vectors.shape[1]:
            return vectors
        vectors = np.ascontiguousarray(vectors[:, :cut])
        return l2_normalize(vectors) if self._loaded().normalize else vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._embed_all(texts, len(texts), False)

    def _torch_vectors(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Pooled (and normalised) vectors of one padded batch, on torch: fp32 on
        ``runtime="torch"``; under ``auto`` (layer selection and mixes) in bf16 autocast where
        that keeps the vectors and pays (see :mod:`~embedlab.embedders.transformers.precision`)."""
        import torch

        state = self._loaded()
        inputs = {name: torch.from_numpy(array) for name, array in feed.items()}
        with torch.inference_mode():
            layer = resolve_layer(self.params["layer"], self.num_layers + 1)
            with self._token_autocast(inputs["input_ids"].numel()):
                hidden = self._hidden(inputs, layer)
            pooled = pool(hidden.float(), inputs["attention_mask"], state.pooling)
            if state.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().numpy()

    def _hidden(self, inputs: dict[str, torch.Tensor], layer: int | LayerMix | None) -> Any:
        """The hidden state pooling reads: the last, one chosen layer, or a mix of all."""
        model = self._torch_model()
        if layer is None:
            return model(**inputs).last_hidden_state
        states = model(**inputs, output_hidden_states=True).hidden_states
        return layer.apply_torch(states) if isinstance(layer, LayerMix) else states[layer]

    def _pad(
        self, encoded: Mapping[str, Any], rows: np.ndarray, *, width_step: int = 1
    ) -> dict[str, np.ndarray]:
        """Pad the chosen rows to the longest among them, on the tokenizer's padding side; with
        ``width_step``, right padding goes on to a multiple of it (at most ``max_length``)."""
        state = self._loaded()
        tokenizer = state.tokenizer
        ids = [encoded["input_ids"][i] for i in rows]
        width = max(len(x) for x in ids)
        lengths = np.array([len(x) for x in ids])
        left = tokenizer.padding_side == "left"
        if width_step > 1 and not left:
            width = max(width, min(-(-width // width_step) * width_step, state.max_length))
        positions = np.arange(width)
        mask = positions >= width - lengths[:, None] if left else positions < lengths[:, None]
        feed: dict[str, np.ndarray] = {}
        for name in state.input_names:
            if name == "attention_mask":
                feed[name] = mask.astype(np.int64)
                continue
            pad = (tokenizer.pad_token_id or 0) if name == "input_ids" else 0
            matrix = np.full((len(rows), width), pad, dtype=np.int64)
            if name in encoded:
                for r, i in enumerate(rows):
                    seq = encoded[name][i]
                    if left:
                        matrix[r, width - len(seq) :] = seq
                    else:
                        matrix[r, : len(seq)] = seq
            feed[name] = matrix
        if "attention_mask" not in feed:
            feed["attention_mask"] = mask.astype(np.int64)
        return feed

    # -- tokens, layers and words ----------------------------------------------------------
    def _all_states(self, text: str) -> tuple[Any, tuple[Any, ...]]:
        """(encoding, every hidden state of the one text) on torch."""
        import torch

        state = self._loaded()
        encoded = self._tokenize([text], return_offsets_mapping=state.tokenizer.is_fast)
        inputs = {k: torch.from_numpy(v) for k, v in self._pad(encoded, np.arange(1)).items()}
        with torch.inference_mode(), self._token_autocast(inputs["input_ids"].numel()):
            states = self._torch_model()(**inputs, output_hidden_states=True).hidden_states
        return encoded, tuple(s.float() for s in states)

    def _token_autocast(self, tokens: int) -> Any:
        """bf16 autocast for token-level torch work where it pays and keeps the vectors
        (:mod:`~embedlab.embedders.transformers.precision`), else nothing."""
        return autocast(token_precision(self.params["runtime"], tokens, detect_cpu()))

    def hidden_states(self, text: str) -> np.ndarray:
        """Every layer's token vectors ``(num_layers + 1, tokens, hidden)``; 0 is the embeddings."""
        (text,) = check_texts([text])
        _, states = self._all_states(text)
        return np.stack([s[0].float().numpy() for s in states])

    def embed_tokens(self, text: str, layer: LayerSpec = None) -> TokenEmbeddings:
        """Each subword with its table row and contextual vector, and the pooled vector.

        ``layer`` picks the contextual vectors shown and pooled (see the class docstring); by
        default the model's own setting, and then ``vector`` equals ``embed(text)``.
        """
        (text,) = check_texts([text])
        state = self._loaded()
        encoded, states = self._all_states(text)
        own = layer is None
        chosen = resolve_layer(self.params["layer"] if own else layer, len(states))
        if isinstance(chosen, LayerMix):
            contextual = chosen.apply(np.stack([s[0].float().numpy() for s in states]))
        else:
            contextual = states[-1 if chosen is None else chosen][0].float().numpy()
        ids = list(encoded["input_ids"][0])
        notes = []
        with quiet_transformers():  # no "longer than the maximum" warning: we note it below
            full = len(self._tokenize([text], truncate=False)["input_ids"][0])
        windows = 1
        if full > len(ids):
            windows = len(self._windows([text])[0]) if self.params["sliding_window"] else 1
            notes.append(f"truncated to {len(ids)} tokens (the text has {full})")
            if windows > 1:
                notes.append(f"embed() averages {windows} overlapping windows of this text")
        if state.lowercase:
            notes.append("lowercased before tokenizing, as the model's configuration asks")
        if chosen is not None:
            notes.append(layer_note(chosen, len(states) - 1))
        if own and (windows > 1 or self.runtime != "torch"):
            vector = self._embed_all([text], 1, False)[0]
            if self.runtime != "torch":
                notes.append(
                    f"the vector comes from the {self.runtime} runtime, the rest from torch"
                )
        else:
            import torch

            pooled = pool(
                torch.from_numpy(contextual[None]), torch.ones(1, len(ids)), state.pooling
            )
            if state.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            vector = self.finish(pooled.float().numpy())[0]
        offsets = encoded.get("offset_mapping")
        table = self._torch_model().get_input_embeddings().weight
        pooling = state.pooling + (" + l2-normalise" if state.normalize else "")
        if self.params["truncate_dim"]:
            pooling += f" + first {self.params['truncate_dim']} dims"
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=state.tokenizer.convert_ids_to_tokens(ids),
            ids=ids,
            lookup=table[ids].detach().float().numpy(),
            vector=vector,
            pooling=pooling,
            offsets=[tuple(o) for o in offsets[0]] if offsets is not None else None,
            contextual=contextual,
            notes=notes,
        )

    def embed_words(self, text: str, layer: LayerSpec = None) -> WordEmbeddings:
        """Word-level vectors: the mean of each word's subword vectors (at ``layer``)."""

        walk = self.embed_tokens(text, layer=layer)
        encoded = self._tokenize([walk.text], return_offsets_mapping=True)
        word_ids = encoded.word_ids(0) if self._loaded().tokenizer.is_fast else None
        return merge_subwords(walk, word_ids)

    def layer_features(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Each text pooled at every layer, ``(n, num_layers + 1, hidden)``, for learning mixes.

        Not normalised, since mixing happens before normalisation; long texts are truncated.
        """
        import torch

        items = check_texts(texts)
        state = self._loaded()
        encoded = self.prepare(items)
        out = np.empty((len(items), self.num_layers + 1, self.hidden_size), dtype=np.float32)
        for rows in self.plan_batches(encoded, batch_size):
            feed = {k: torch.from_numpy(v) for k, v in self._pad(encoded.features, rows).items()}
            with torch.inference_mode():
                with self._token_autocast(feed["input_ids"].numel()):
                    states = self._torch_model()(**feed, output_hidden_states=True).hidden_states
                states = tuple(s.float() for s in states)
                pooled = [pool(s, feed["attention_mask"], state.pooling) for s in states]
            out[rows] = torch.stack(pooled, dim=1).float().numpy()
        return out

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Write a self-contained sentence-transformers folder (safetensors, no pickle)."""
        state = self._loaded()
        model = self._torch_model()
        target = folder / HF_SUBFOLDER
        with quiet_transformers():
            model.save_pretrained(target, safe_serialization=True)
            state.tokenizer.save_pretrained(target)
        write_folder_config(
            target,
            dim=self.hidden_size,
            pooling=state.pooling,
            normalize=state.normalize,
            max_length=state.max_length,
            lowercase=state.lowercase,
        )
        return {"weights": HF_SUBFOLDER, "source_model": self.params["model"]}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        hf = folder / meta.get("weights", HF_SUBFOLDER)
        if not hf.is_dir():
            raise ModelFormatError(
                f"{hf} is missing", "re-save the model; the folder is incomplete"
            )
        self.params["model"] = str(hf)
        self._state = None
        self._runner = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
