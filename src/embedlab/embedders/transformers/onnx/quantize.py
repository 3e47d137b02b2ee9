"""Dynamic int8 quantisation of an exported graph, keeping precision-sensitive MatMuls in fp32.

Why: int8 matrix products are several times cheaper on a CPU at a small, measured cost in
accuracy; weights are per output channel and use 7 of their 8 bits on CPUs without VNNI, where
full-range weights saturate (bench/results/onnx_runtime.md has the numbers), and all 8 on CPUs
with VNNI or AMX, whose int8 products accumulate in 32 bits (``ExportSpec.reduce_range``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedlab.embedders.transformers.onnx.runner import quiet_logging
from embedlab.errors import InputError

if TYPE_CHECKING:
    from embedlab.embedders.transformers.onnx.export import ExportSpec

# Named groups of MatMul nodes (by the names torch.onnx.export gives BERT-like encoders) that
# ``keep_fp32`` may keep in fp32; anything else given is used as a regular expression.
FP32_GROUPS = {
    "ffn-output": r"layer\.\d+/output/dense/MatMul$",
    "ffn-input": r"layer\.\d+/intermediate/dense/MatMul$",
    "attention-output": r"attention/(output/dense|attn/o)/MatMul$",
}
# What to keep in fp32 when the user does not say, by config.json's model_type (measured:
# all-mpnet-base-v2 at cosine 0.92 to fp32 fully int8, 0.990 with these kept; MiniLM 0.992 fully).
DEFAULT_KEEP_FP32 = {"mpnet": ("ffn-output",)}


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


def quantize_graph(source: Path, folder: Path, spec: ExportSpec) -> dict[str, Any]:
    """Dynamic int8, per-channel weights of 7 or 8 bits (module docstring says why; per-tensor:
    worse).

    Every operator the quantiser knows is quantised (MatMul, fused Attention as QAttention,
    the embeddings' Gather or EmbedLayerNormalization), except the MatMuls ``keep_fp32`` names.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = fp32_nodes(source, spec.keep_fp32)
    path = folder / "model.onnx"
    with quiet_logging():  # the quantiser logs a pre-processing suggestion as a warning
        quantize_dynamic(
            str(source),
            str(path),
            per_channel=True,
            reduce_range=spec.reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            # fused operators (com.microsoft) have no ONNX type inference: their outputs are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return {
        "kept_fp32": excluded,
        "reduce_range": spec.reduce_range,
        "operators": operator_counts(path),
        "bytes": path.stat().st_size,
    }


def operator_counts(path: Path) -> dict[str, int]:
    """How many nodes of each operator type the graph at ``path`` has (weights not loaded)."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))
