"""Which engine runs a transformer, which of them this CPU can run, and with how many threads.

Why apart from the embedder: the embedder, :mod:`~embedlab.embedders.transformers.auto` (which
picks one) and :mod:`~embedlab.embedders.transformers.switch` (which moves a loaded model
between runtimes) all check names here, below any of them.
"""

from __future__ import annotations

from embedlab.cpu import CpuFeatures
from embedlab.errors import InputError
from embedlab.threads import requested_threads

AUTO = "auto"
RUNTIMES = (AUTO, "torch", "onnx", "onnx-int8", "openvino", "openvino-bf16", "openvino-int8")
# runtimes that compute in bf16: fast only where the CPU multiplies bf16 natively
BF16_RUNTIMES = ("openvino-bf16",)
# runtimes that run every torch feature (layer selection and mixes); the others run the graph
TORCH_RUNTIMES = ("torch",)
# runtimes that were removed, and why (a saved model or a script may still name them)
REMOVED = {
    "torch-bf16": (
        "it was never the fastest on any CPU measured (AMX: 2.1x torch fp32 per CPU-second "
        "against openvino-bf16's 4.3x; it needs native bf16, so it ran nowhere else)",
        "use runtime='auto', which runs bf16 where that is fastest, layer selection included",
    ),
}

# Fastest first, per kind of CPU, for ``auto`` (which also checks the vectors). Measured on an
# AMX Xeon, one thread, MiniLM, against torch fp32 (bench/results/encode_cpu.md): openvino-bf16
# 3.3-4.4x, onnx-int8 3.4-3.8x, openvino 1.1-1.5x, onnx 1.1-1.3x. openvino-int8 was measured on
# AMX only, so it is tried nowhere else (a user may still ask for it). Without AMX, int8 leads (on
# VNNI with 8-bit weights, elsewhere 7-bit); bf16 on AVX-512 BF16 alone and OpenVINO on AVX2
# were not measured, so they come after what was.
_ORDERS = {
    "amx": ("openvino-bf16", "onnx-int8", "openvino", "onnx", "torch"),
    # wide models (hidden size >= WIDE) on AMX: int8 products pay for themselves there
    # (mpnet 5.1x against openvino-bf16's 4.6x; MiniLM, 384 wide, gained nothing:
    # bench/results/openvino_int8.md)
    "amx-wide": ("openvino-int8", "openvino-bf16", "onnx-int8", "openvino", "onnx", "torch"),
    "bf16": ("onnx-int8", "openvino-bf16", "openvino", "onnx", "torch"),
    "vnni": ("onnx-int8", "openvino", "onnx", "torch"),
    "other": ("onnx-int8", "onnx", "torch"),
}


def check_runtime(runtime: str) -> str:
    if runtime in REMOVED:
        why, hint = REMOVED[runtime]
        raise InputError(f"the runtime {runtime!r} was removed: {why}", hint)
    if runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r}", f"use one of {', '.join(RUNTIMES)}")
    return runtime


def check_cpu_runs(runtime: str, cpu: CpuFeatures) -> None:
    """Refuse a runtime this CPU has no fast path for (bf16 without AMX or AVX-512 BF16)."""
    if runtime in BF16_RUNTIMES and not cpu.native_bf16:
        cpu_name = cpu.model_name or "this CPU"
        raise InputError(
            f"runtime {runtime!r} needs a CPU with native bf16 (AMX or AVX-512 BF16); "
            f"{cpu_name} has {', '.join(cpu.found) or 'neither'}",
            f"use runtime='auto' (picks what this CPU runs fastest) or "
            f"{runtime.removesuffix('-bf16')!r}",
        )


WIDE = 768  # hidden size from which openvino-int8 leads on AMX


def fastest_first(cpu: CpuFeatures, hidden_size: int | None = None) -> tuple[str, ...]:
    """The runtimes ``auto`` tries on this CPU for a model ``hidden_size`` wide, fastest first;
    torch (the reference) last."""
    if cpu.kind == "amx":
        return _ORDERS["amx-wide" if (hidden_size or 0) >= WIDE else "amx"]
    if cpu.native_bf16:
        return _ORDERS["bf16"]
    return _ORDERS["vnni"] if cpu.vnni else _ORDERS["other"]


def apply_torch_threads(threads: int | None = None) -> None:
    """Honour ``threads=`` or ``$EMBEDLAB_THREADS`` for torch (process-wide); neither set leaves
    torch's own default. Shared machines often want fewer."""
    wanted = requested_threads(threads)
    if wanted is None:
        return
    import torch

    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
