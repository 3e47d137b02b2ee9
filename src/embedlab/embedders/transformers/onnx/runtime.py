"""The fast CPU runtime: a transformer exported once to ONNX, pooling inside, run on onnxruntime.

Why: on a CPU, onnxruntime runs the same graph faster than eager torch, and dynamic int8
quantisation (weights stored as int8 per output channel, activations quantised on the fly) makes
the matrix products several times cheaper again at a small, measured cost in accuracy.

- The exported graph takes the tokenizer's inputs and returns the sentence vector: pooling (and
  L2 normalisation) run inside it, so no hidden states cross back into Python.
- Exports are cached under ``cache_home()/onnx/`` in a folder named by a hash of the source
  weights and every option that changes the graph; they are written to a temporary folder and
  renamed into place, so an interrupted or concurrent export never leaves a broken one. Each
  use touches the folder's time, and :func:`list_exports` says which exports the current recipe
  would no longer make (stale), so ``embedlab models prune`` can remove them.
- Encoders are traced with eager attention and then fused by onnxruntime's transformer optimizer
  (:func:`fuse_graph`): for BERT-style models each layer's attention becomes one ``Attention``
  node (``QAttention`` once quantised), the embeddings one ``EmbedLayerNormalization``, bias and
  GELU one ``BiasGelu``; MPNet fuses only BiasGelu. A fused graph is kept only if it reproduces
  torch (cosine >= 0.9999), else the plain export is, and export.json says which.
  SkipLayerNormalization is never fused, here or by onnxruntime when a session opens
  (:data:`DISABLED_FUSIONS`): its CPU kernel was slower here than Add plus LayerNormalization.
  Measured (MiniLM int8, 5,000 STS-B sentences, one thread, one process, runs alternated):
  about 10% more sentences per CPU-second than the unfused recipe, same vectors (mean cosine to
  fp32 0.9916, STS-B 82.13). More is not there to take: int8 matrix products are ~80% of the
  time and run near this CPU's int8 peak (AVX2 without VNNI: about twice its fp32 peak).
  Measured and not kept: onnxruntime's tanh GELU approximation (no gain), splitting batches
  into smaller runs (none), saving the session-optimised graph to disk (sessions open in 0.1 s).
- int8 weights are per output channel and use 7 of their 8 bits (``reduce_range``). Why: on
  AVX2 CPUs without VNNI (like these machines) onnxruntime multiplies uint8 activations by
  int8 weights in pairs summed into int16, which saturates with full-range weights. Measured:
  all-mpnet-base-v2 with 8-bit per-channel weights gave vectors at cosine ~0.00 to fp32; with
  7-bit weights 0.99 (onnxruntime's ``session.x64quantprecision`` also fixes it, 20% slower).
- Precision-sensitive MatMuls can stay fp32 in the int8 model (``keep_fp32``). Measured here:
  all-mpnet-base-v2 drops to cosine 0.92 with every MatMul in int8 and 0.990 with its
  feed-forward output MatMuls kept fp32, so they stay fp32 by default for MPNet; MiniLM
  quantises fully (0.992).
- Threads: ``threads=`` beats ``$EMBEDLAB_THREADS`` beats :data:`DEFAULT_THREADS`; spinning
  threads are off, because on a shared machine a spinning thread burns a core others need.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.embedders.transformers.config import is_causal_config
from embedlab.embedders.transformers.pooling import pool
from embedlab.errors import InputError, ModelFormatError
from embedlab.paths import cache_home

RUNTIMES = ("torch", "onnx", "onnx-int8")
ENV_THREADS = "EMBEDLAB_THREADS"
# Measured on the shared 2-core machine (bench/results/encode.md, two runs): one intra-op thread
# gave more sentences/s than two for int8 MiniLM (272 vs 240, 182 vs 172; sentence-transformers:
# 136 vs 39), and leaves the other core to the rest of the machine.
DEFAULT_THREADS = 1
OPSET = 17
EXPORT_VERSION = 3  # bump when the graphs this module writes change (3: fused, QAttention)
OUTPUT_NAME = "sentence_embedding"

# Named groups of MatMul nodes (by the names torch.onnx.export gives BERT-like encoders) that
# ``keep_fp32`` may keep in fp32; anything else given is used as a regular expression.
FP32_GROUPS = {
    "ffn-output": r"layer\.\d+/output/dense/MatMul$",
    "ffn-input": r"layer\.\d+/intermediate/dense/MatMul$",
    "attention-output": r"attention/(output/dense|attn/o)/MatMul$",
}
# What to keep in fp32 when the user does not say, by config.json's model_type (measured).
DEFAULT_KEEP_FP32 = {"mpnet": ("ffn-output",)}
# onnxruntime's own graph fusion that is left off, at export and in every session: its CPU
# SkipLayerNormalization kernel was slower here than the Add and LayerNormalization it replaces
# (int8 MiniLM: 6-10% more sentences per CPU-second without it; fp32: no difference).
DISABLED_FUSIONS = ("SkipLayerNormFusion",)


def resolve_threads(threads: int | None) -> int:
    """Intra-op threads: the argument, else ``$EMBEDLAB_THREADS``, else the measured default."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InputError(
                f"threads must be a positive whole number, got {threads!r}",
                "use e.g. threads=1, or leave it unset for the default",
            )
        return threads
    value = os.environ.get(ENV_THREADS)
    if not value:
        return DEFAULT_THREADS
    try:
        parsed = int(value)
        if parsed < 1:
            raise ValueError
    except ValueError:
        raise InputError(
            f"{ENV_THREADS} must be a positive whole number, got {value!r}",
            f"set it to e.g. 1, or unset it to use the default ({DEFAULT_THREADS})",
        ) from None
    return parsed


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}", f"use one of {', '.join(RUNTIMES)}")
    return runtime


@dataclass(frozen=True)
class ExportSpec:
    """Everything that determines an exported graph; its hash names the cache folder."""

    hf_folder: Path
    model_type: str
    input_names: tuple[str, ...]
    pooling: str
    normalize: bool
    quantize: bool
    keep_fp32: tuple[str, ...] = ()
    fuse: bool = True  # fuse attention, LayerNorm, GELU into onnxruntime's own operators

    def fp32(self) -> ExportSpec:
        """The unquantised export this one is made from."""
        return replace(self, quantize=False, keep_fp32=())

    def key(self) -> str:
        from importlib.metadata import version  # no need to import torch to find a cached export

        folder = self.hf_folder.resolve()
        files = sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.iterdir()
            if p.suffix == ".safetensors" or p.name == "config.json"
        )
        identity = {
            "export_version": EXPORT_VERSION,
            "opset": OPSET,
            "source": str(folder),
            "files": files,
            "inputs": list(self.input_names),
            "pooling": self.pooling,
            "normalize": self.normalize,
            "quantize": self.quantize,
            "keep_fp32": list(self.keep_fp32),
            "fuse": self.fuse,
            "torch": version("torch"),
            "onnxruntime": version("onnxruntime") if self.quantize or self.fuse else None,
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{folder.parent.name}-{folder.name}")[-40:]
        return f"{slug}-{'int8' if self.quantize else 'fp32'}-{digest}"


def cache_dir() -> Path:

    return cache_home() / "onnx"


def exported_model(spec: ExportSpec, load_torch: Callable[[], Any]) -> Path:
    """The cached ``model.onnx`` for ``spec``, exporting (and quantising) it only the first time."""
    target = cache_dir() / spec.key()
    model_file = target / "model.onnx"
    if model_file.is_file() and (target / "export.json").is_file():
        _mark_used(target)
        return model_file
    if spec.quantize:
        source = exported_model(spec.fp32(), load_torch)
        return _write_atomically(target, lambda tmp: _quantize(source, tmp, spec), spec)
    return _write_atomically(target, lambda tmp: _export(load_torch(), tmp, spec), spec)


def _write_atomically(
    target: Path, write: Callable[[Path], dict[str, Any]], spec: ExportSpec
) -> Path:
    """Write into a temporary sibling folder, then rename it into place (first writer wins)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        started = time.perf_counter()
        details = write(tmp)
        info = {
            "export_version": EXPORT_VERSION,
            "source": str(spec.hf_folder.resolve()),
            "pooling": spec.pooling,
            "normalize": spec.normalize,
            "quantized": spec.quantize,
            "keep_fp32": list(spec.keep_fp32),
            "fuse": spec.fuse,
            "inputs": list(spec.input_names),
            "output": OUTPUT_NAME,
            "opset": OPSET,
            "seconds": round(time.perf_counter() - started, 2),
            **details,
        }
        (tmp / "export.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        if target.exists():  # a broken leftover (no export.json), or another process won
            if (target / "export.json").is_file():
                shutil.rmtree(tmp, ignore_errors=True)
                return target / "model.onnx"
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "export.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target / "model.onnx"


def _mark_used(folder: Path) -> None:
    """Stamp an export as used now (its folder's mtime), for ``embedlab models prune``."""
    with contextlib.suppress(OSError):  # a read-only cache works; it cannot say what is unused
        os.utime(folder)


@dataclass(frozen=True)
class CachedExport:
    """One folder of the export cache, and whether the current recipe would still use it."""

    path: Path
    bytes: int
    last_used: float  # the folder's mtime: written, or last loaded
    quantized: bool | None
    source: str | None
    problem: str | None  # why it is stale; None when current

    @property
    def stale(self) -> bool:
        return self.problem is not None


def list_exports() -> list[CachedExport]:
    """Every folder in the export cache, stale ones (with the reason) included."""
    root = cache_dir()
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        info = _read_info(folder)
        out.append(
            CachedExport(
                path=folder,
                bytes=sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()),
                last_used=folder.stat().st_mtime,
                quantized=info.get("quantized") if info else None,
                source=info.get("source") if info else None,
                problem=export_problem(folder, info),
            )
        )
    return out


def _read_info(folder: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return info if isinstance(info, dict) else None


def export_problem(folder: Path, info: dict[str, Any] | None = None) -> str | None:
    """Why the current recipe would not use this export (None: it would).

    The folder name is the hash of everything that made the graph, so an export is current
    exactly when recomputing that hash from its ``export.json`` gives its name back: another
    export recipe, torch or onnxruntime version, or changed source weights all change it.
    """
    if folder.name.startswith("."):
        return "unfinished export"
    info = info if info is not None else _read_info(folder)
    if info is None or not (folder / "model.onnx").is_file():
        return "incomplete (no export.json or model.onnx)"
    source = Path(str(info.get("source", "")))
    if not info.get("source") or not source.is_dir():
        return "source model gone"
    try:
        names = tuple(info["inputs"])
        candidates = [tuple(info["keep_fp32"])] if "keep_fp32" in info else _legacy_keeps(info)
        keys = {
            ExportSpec(
                source,
                "",
                names,
                info["pooling"],
                info["normalize"],
                info["quantized"],
                keep,
                bool(info.get("fuse", False)),
            ).key()
            for keep in candidates
        }
    except (KeyError, TypeError, OSError):
        return "export.json does not identify it"
    if folder.name not in keys:
        return "older recipe, library version or weights"
    return None


def _legacy_keeps(info: dict[str, Any]) -> list[tuple[str, ...]]:
    """keep_fp32 settings an export written before export.json recorded them may have used."""
    if not info.get("quantized"):
        return [()]
    return [(), *DEFAULT_KEEP_FP32.values()]


class _PooledGraph:
    """Builds the torch module that is traced: model, then pooling, then L2 normalisation."""

    @staticmethod
    def build(model: Any, spec: ExportSpec) -> Any:
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                named = dict(zip(spec.input_names, inputs, strict=True))
                hidden = self.model(**named).last_hidden_state
                vectors = pool(hidden, named["attention_mask"], spec.pooling)
                if spec.normalize:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                return vectors

        return Pooled().eval()


def _example_inputs(spec: ExportSpec, lengths: Sequence[int], vocab: int) -> dict[str, Any]:
    """Right-padded dummy inputs of the given lengths (ids away from special tokens)."""
    width = max(lengths)
    rng = np.random.default_rng(len(lengths))
    ids = rng.integers(min(1000, vocab // 2), vocab - 1, size=(len(lengths), width))
    mask = (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    out = {"input_ids": ids * mask, "attention_mask": mask}
    for name in spec.input_names:
        out.setdefault(name, np.zeros_like(mask))
    return {name: out[name] for name in spec.input_names}


def _export(model: Any, folder: Path, spec: ExportSpec) -> dict[str, Any]:
    import torch

    if "attention_mask" not in spec.input_names:
        raise ModelFormatError(
            f"the tokenizer of {spec.hf_folder} returns no attention_mask",
            "the ONNX runtime needs one; use runtime='torch' for this model",
        )
    graph = _PooledGraph.build(model, spec)
    vocab = int(model.get_input_embeddings().weight.shape[0])
    example = _example_inputs(spec, [7, 4], vocab)
    path = folder / "model.onnx"
    dynamic = {name: {0: "batch", 1: "tokens"} for name in spec.input_names}
    # encoders only: a decoder's causal mask is another pattern, and nothing was measured there
    causal = _is_causal(model)
    fuse = spec.fuse and not causal
    try:
        # the fuser recognises eager attention (MatMul, Softmax, MatMul), not a traced SDPA
        with (
            _attention_implementation(model, "eager" if fuse else None),
            warnings.catch_warnings(),
            torch.inference_mode(False),
            torch.no_grad(),
        ):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                tuple(torch.from_numpy(example[name]) for name in spec.input_names),
                str(path),
                input_names=list(spec.input_names),
                output_names=[OUTPUT_NAME],
                dynamic_axes={**dynamic, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:  # tracing failures come as many types; all mean the same to a user
        raise ModelFormatError(
            f"cannot export {spec.hf_folder} ({spec.model_type}) to ONNX "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            "use runtime='torch' for this model",
        ) from None
    # a traced graph can silently freeze a shape; check it on other lengths and batch size,
    # against the model as the torch runtime runs it (its own attention implementation)
    check = _example_inputs(spec, [9, 3, 12], vocab)
    with torch.no_grad():
        expected = graph(*(torch.from_numpy(check[name]) for name in spec.input_names)).numpy()
    cos = _cosines(expected, OnnxRunner(path, threads=1)(check))
    if cos.min() < 0.9999:
        path.unlink()
        raise ModelFormatError(
            f"the ONNX export of {spec.hf_folder} does not reproduce the torch model "
            f"(cosine {cos.min():.4f})",
            "use runtime='torch' for this model",
        )
    details: dict[str, Any] = {"check_min_cosine": float(cos.min())}
    if fuse:
        details.update(_fuse_checked(path, model.config, check, expected))
    elif spec.fuse:
        details["fusion_skipped"] = "left-to-right (decoder) model: not fused"
    return {**details, "bytes": path.stat().st_size}


def _is_causal(model: Any) -> bool:

    return is_causal_config(model.config.to_dict())


@contextlib.contextmanager
def _attention_implementation(model: Any, name: str | None) -> Any:
    """Run the block with the model's attention implementation set to ``name``, then restore."""
    current = getattr(model.config, "_attn_implementation", None)
    switch = name is not None and current != name and hasattr(model, "set_attn_implementation")
    if switch:
        try:
            model.set_attn_implementation(name)
        except (ValueError, TypeError, AttributeError):  # this architecture has only its own
            switch = False
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(current)


def _fuse_checked(
    path: Path, config: Any, check: dict[str, np.ndarray], expected: np.ndarray
) -> dict[str, Any]:
    """Replace the export at ``path`` by its fused graph, if that still reproduces torch."""
    fused = path.with_name("fused.onnx")
    try:
        counts = fuse_graph(path, fused, config)
        cos = _cosines(expected, OnnxRunner(fused, threads=1)(check))
    except Exception as exc:  # the fuser is best effort: any failure keeps the plain export
        fused.unlink(missing_ok=True)
        return {"fused": {}, "fusion_skipped": f"{type(exc).__name__}: {str(exc)[:200]}"}
    if cos.min() < 0.9999:
        fused.unlink()
        return {"fused": {}, "fusion_skipped": f"fused graph off by cosine {cos.min():.6f}"}
    fused.replace(path)
    return {"fused": counts, "fused_check_min_cosine": float(cos.min())}


def fuse_graph(source: Path, target: Path, config: Any) -> dict[str, int]:
    """Fuse ``source`` with onnxruntime's transformer optimizer; the fused operators' counts.

    Eager BERT-style attention becomes one ``Attention`` node per layer (quantised later as
    ``QAttention``), the embeddings one ``EmbedLayerNormalization``, bias and GELU one
    ``BiasGelu``. SkipLayerNormalization is left out (see :data:`DISABLED_FUSIONS`), and the
    attention mask stays the raw 0/1 mask, so left padding works too. Other encoders (MPNet's
    relative attention) fuse only part (measured: MPNet gets BiasGelu only).
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    options.use_raw_attention_mask(True)
    heads = getattr(config, "num_attention_heads", None) or 0  # 0: the fuser reads the graph
    hidden = getattr(config, "hidden_size", None) or 0
    with _quiet_logging():
        optimized = optimize_model(
            str(source),
            model_type="bert",
            num_heads=int(heads),
            hidden_size=int(hidden),
            opt_level=0,
            optimization_options=options,
            use_gpu=False,
        )
        counts = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
        optimized.save_model_to_file(str(target))
    return counts


@contextlib.contextmanager
def _quiet_logging() -> Any:
    """onnxruntime's Python tools log advice and progress as warnings; keep only errors."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def fp32_nodes(model_path: Path, patterns: Sequence[str]) -> list[str]:
    """Names of the MatMul nodes in ``model_path`` matching the groups or regexes given."""
    import onnx

    regexes = []
    for pattern in patterns:
        try:
            regexes.append(re.compile(FP32_GROUPS.get(pattern, pattern)))
        except re.error as exc:
            raise InputError(
                f"keep_fp32 entry {pattern!r} is neither a group nor a regular expression ({exc})",
                f"use one of {', '.join(FP32_GROUPS)} or a valid regex on node names",
            ) from None
    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type in ("MatMul", "Gemm") and any(r.search(node.name) for r in regexes)
    ]


def _quantize(source: Path, folder: Path, spec: ExportSpec) -> dict[str, Any]:
    """Dynamic int8, 7-bit per-channel weights (module docstring says why; per-tensor: worse).

    Every operator the quantiser knows is quantised (MatMul, fused Attention as QAttention,
    the embeddings' Gather or EmbedLayerNormalization), except the MatMuls ``keep_fp32`` names.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = fp32_nodes(source, spec.keep_fp32)
    path = folder / "model.onnx"
    with _quiet_logging():  # the quantiser logs a pre-processing suggestion as a warning
        quantize_dynamic(
            str(source),
            str(path),
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            # fused operators (com.microsoft) have no ONNX type inference: their outputs are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return {"kept_fp32": excluded, "operators": operator_counts(path), "bytes": path.stat().st_size}


def operator_counts(path: Path) -> dict[str, int]:
    """How many nodes of each operator type the graph at ``path`` has (weights not loaded)."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


class OnnxRunner:
    """One onnxruntime session: ``runner(feed)`` returns the pooled float32 vectors."""

    def __init__(self, path: Path, *, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(path),
                options,
                providers=["CPUExecutionProvider"],
                disabled_optimizers=list(DISABLED_FUSIONS),
            )
        except Exception as exc:  # a corrupt cache file: say where it is
            raise ModelFormatError(
                f"onnxruntime cannot open {path} ({str(exc).splitlines()[0]})",
                f"delete {path.parent} so it is exported again",
            ) from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.threads = threads
        self.path = path

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: feed[name] for name in self.input_names})[0]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.where(norms == 0, 1, norms)
