"""Fusing an exported encoder graph into onnxruntime's own transformer operators.

Why: each BERT-style layer's attention as one ``Attention`` node (``QAttention`` once quantised)
ran about 10% more sentences per CPU-second than the unfused graph, with the same vectors
(bench/results/onnx_runtime.md). A fused graph is kept only if it still reproduces torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from embedlab.embedders.transformers.onnx.runner import OnnxRunner, cosines, quiet_logging

# the least cosine to torch a fused graph must keep on the check inputs
MIN_COSINE = 0.9999


def fuse_checked(
    path: Path, config: Any, check: dict[str, np.ndarray], expected: np.ndarray
) -> dict[str, Any]:
    """Replace the export at ``path`` by its fused graph, if that still reproduces torch."""
    fused = path.with_name("fused.onnx")
    try:
        counts = fuse_graph(path, fused, config)
        cos = cosines(expected, OnnxRunner(fused, threads=1)(check))
    except Exception as exc:  # the fuser is best effort: any failure keeps the plain export
        fused.unlink(missing_ok=True)
        return {"fused": {}, "fusion_skipped": f"{type(exc).__name__}: {str(exc)[:200]}"}
    if cos.min() < MIN_COSINE:
        fused.unlink()
        return {"fused": {}, "fusion_skipped": f"fused graph off by cosine {cos.min():.6f}"}
    fused.replace(path)
    return {"fused": counts, "fused_check_min_cosine": float(cos.min())}


def fuse_graph(source: Path, target: Path, config: Any) -> dict[str, int]:
    """Fuse ``source`` with onnxruntime's transformer optimizer; the fused operators' counts.

    Eager BERT-style attention becomes one ``Attention`` node per layer (quantised later as
    ``QAttention``), the embeddings one ``EmbedLayerNormalization``, bias and GELU one
    ``BiasGelu``. SkipLayerNormalization is left out (see
    :data:`~embedlab.embedders.transformers.onnx.runner.DISABLED_FUSIONS`), and the attention
    mask stays the raw 0/1 mask, so left padding works too. Other encoders (MPNet's relative
    attention) fuse only part (measured: MPNet gets BiasGelu only).
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    options.use_raw_attention_mask(True)
    heads = getattr(config, "num_attention_heads", None) or 0  # 0: the fuser reads the graph
    hidden = getattr(config, "hidden_size", None) or 0
    with quiet_logging():
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
