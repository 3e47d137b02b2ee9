"""One onnxruntime session per model, set up for a shared CPU; shared helpers of the ONNX steps.

Why: sessions run sequentially, with the thread count asked for and no spinning threads, because
on a shared machine a spinning thread burns a core others need.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from embedlab.errors import ModelFormatError
from embedlab.extras import require

# onnxruntime's own graph fusion that is left off, at export and in every session: its CPU
# SkipLayerNormalization kernel was slower here (bench/results/onnx_runtime.md).
DISABLED_FUSIONS = ("SkipLayerNormFusion",)


class OnnxRunner:
    """One onnxruntime session: ``runner(feed)`` returns the pooled float32 vectors."""

    def __init__(self, path: Path, *, threads: int) -> None:
        require("onnxruntime", "transformers")
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


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two vector matrices: how a graph is checked against another run."""
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.where(norms == 0, 1, norms)


@contextlib.contextmanager
def quiet_logging() -> Iterator[None]:
    """onnxruntime's Python tools log advice and progress as warnings; keep only errors."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
