"""Exporting a transformer to ONNX with pooling (and L2 normalisation) inside the graph.

Why: the exported graph takes the tokenizer's inputs and returns the sentence vector, so no
hidden states cross back into Python; a traced graph is checked against torch on other lengths
and batch sizes, since tracing can silently freeze a shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.embedders.transformers.config import is_causal_config
from embedlab.embedders.transformers.onnx.fuse import MIN_COSINE, fuse_checked
from embedlab.embedders.transformers.onnx.runner import OnnxRunner, cosines
from embedlab.embedders.transformers.pooling import pool
from embedlab.errors import ModelFormatError

OPSET = 17
EXPORT_VERSION = 3  # bump when the graphs this package writes change (3: fused, QAttention)
# the unfused ("plain") graphs OpenVINO reads; bump when only they change. 2: encoders traced with
# eager attention, not SDPA: SDPA's trace adds IsNaN / Select mask nodes, and OpenVINO bf16 ran
# MiniLM's eager graph 1.06x the SDPA one (bench/results/openvino_graph.md, onnx-sdpa row)
PLAIN_RECIPE = 2
OUTPUT_NAME = "sentence_embedding"


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
    # int8 weights in 7 bits: needed where int8 products saturate (no VNNI); see quantize.py
    reduce_range: bool = True

    def fp32(self) -> ExportSpec:
        """The unquantised export this one is made from."""
        return replace(self, quantize=False, keep_fp32=(), reduce_range=True)

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
            # only 8-bit weights are a new recipe: 7-bit keys stay those of earlier exports
            **({} if self.reduce_range or not self.quantize else {"reduce_range": False}),
            # recipe 1's keys had no entry: only plain exports made since then have one
            **({} if self.fuse else {"plain_recipe": PLAIN_RECIPE}),
            "torch": version("torch"),
            "onnxruntime": version("onnxruntime") if self.quantize or self.fuse else None,
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{folder.parent.name}-{folder.name}")[-40:]
        kind = ("int8" if self.reduce_range else "int8full") if self.quantize else "fp32"
        return f"{slug}-{kind}-{digest}"


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


def export_graph(
    model: Any, folder: Path, spec: ExportSpec, *, attention: str | None = None
) -> dict[str, Any]:
    """Write ``folder/model.onnx`` for the torch ``model`` (fused if ``spec.fuse``); its details.

    ``attention`` traces another attention implementation than the recipe's (benchmarks compare
    them; an export made so is not what the cache would make)."""
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
    causal = is_causal_config(model.config.to_dict())
    fuse = spec.fuse and not causal  # encoders only: nothing was measured on decoders
    traced = attention or (None if causal else "eager")
    try:
        # encoders trace eager attention (MatMul, Softmax, MatMul): the fuser recognises it, not
        # a traced SDPA, and unfused it runs faster on OpenVINO (PLAIN_RECIPE); decoders keep
        # their own (their causal mask is another pattern, and nothing was measured there)
        with (
            _attention_implementation(model, traced),
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
    cos = cosines(expected, OnnxRunner(path, threads=1)(check))
    if cos.min() < MIN_COSINE:
        path.unlink()
        raise ModelFormatError(
            f"the ONNX export of {spec.hf_folder} does not reproduce the torch model "
            f"(cosine {cos.min():.4f})",
            "use runtime='torch' for this model",
        )
    details: dict[str, Any] = {
        "check_min_cosine": float(cos.min()),
        "attention": traced or "the model's own",
    }
    if fuse:
        details.update(fuse_checked(path, model.config, check, expected))
    elif spec.fuse:
        details["fusion_skipped"] = "left-to-right (decoder) model: not fused"
    return {**details, "bytes": path.stat().st_size}


@contextlib.contextmanager
def _attention_implementation(model: Any, name: str | None) -> Iterator[None]:
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
