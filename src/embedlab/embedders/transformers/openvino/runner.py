"""One compiled OpenVINO model per embedder, fp32 or bf16, with the thread count asked for.

Why: OpenVINO's CPU plugin picks bf16 by itself on AMX machines, so the precision is always
set explicitly (``openvino`` must stay fp32), and threads are not pinned, since the machine is
shared with other work. Its fused attention kernel ("snippets") can be switched off: on AMX at one
thread plain MatMul and Softmax nodes measured faster (bench/results/openvino_graph.md: mpnet
int8 7-16%, bf16 7-10%, MiniLM even), so the embedder switches it off there and leaves OpenVINO's
default on other CPUs, where it was not measured.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from embedlab.errors import ModelFormatError
from embedlab.extras import require

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}


class OpenVinoRunner:
    """``runner(feed)`` returns the pooled float32 vectors of one padded batch."""

    def __init__(
        self, path: Path, *, threads: int, precision: str = "fp32", fused_attention: bool = True
    ) -> None:
        require("openvino", "transformers")
        import openvino as ov

        config = {
            "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "ENABLE_CPU_PINNING": False,
        }
        if not fused_attention:
            config["SNIPPETS_MODE"] = "DISABLE"
        try:
            core = ov.Core()
            self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError for most things: say where
            raise ModelFormatError(
                f"OpenVINO cannot compile {path} ({str(exc).strip().splitlines()[0][:200]})",
                f"use runtime='onnx' for this model, or delete {path.parent} to export it again",
            ) from None
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]
        self.request = self.compiled.create_infer_request()
        self.lock = threading.Lock()  # one infer request: one batch at a time
        self.threads = threads
        self.precision = precision
        self.fused_attention = fused_attention
        self.path = path

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        inputs = {name: feed[name] for name in self.input_names}
        with self.lock:
            result = self.request.infer(inputs)
            return np.array(result[self.compiled.output(0)], dtype=np.float32)
