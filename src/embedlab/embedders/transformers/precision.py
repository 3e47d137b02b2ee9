"""The precision of token-level work on torch (walkthroughs, hidden states, layer features).

Why: token-level work runs the torch model itself (every layer's states are needed), not the
fast sentence runtimes; so do sentence vectors from a chosen layer or a layer mix. On CPUs that multiply bf16 natively (AMX, AVX-512 BF16), bf16 autocast
keeps token vectors at cosine 0.9999 to fp32 and runs batched work (``layer_features``) about
1.8x faster; for one short sentence it is slower (casting the weights costs more than it
saves), so it is used from :data:`MIN_BF16_TOKENS` padded tokens per model call.

Who gets what:

- ``runtime="torch"`` computes in fp32: it is the exact sentence-transformers reference;
- every other runtime (``auto`` by default) in bf16 autocast where the CPU has native bf16 and
  the call is large enough, else fp32;
- ``$EMBEDLAB_TOKEN_PRECISION=fp32`` forces fp32 for all of them, ``bf16`` forces bf16 for all
  of them where the CPU has native bf16 (never where it would be emulated); ``auto`` (the
  default) is the rule above.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from embedlab.cpu import CpuFeatures
from embedlab.errors import InputError

ENV_TOKEN_PRECISION = "EMBEDLAB_TOKEN_PRECISION"
TOKEN_PRECISIONS = ("auto", "fp32", "bf16")
MIN_BF16_TOKENS = 64  # measured (MiniLM, AMX): 12 tokens 20% slower in bf16, 120 tokens 9% faster


def requested_precision() -> str:
    """``$EMBEDLAB_TOKEN_PRECISION`` (auto, fp32 or bf16); auto when unset."""
    value = os.environ.get(ENV_TOKEN_PRECISION, "").strip().lower() or "auto"
    if value not in TOKEN_PRECISIONS:
        raise InputError(
            f"${ENV_TOKEN_PRECISION} is {value!r}",
            f"use one of {', '.join(TOKEN_PRECISIONS)} (fp32 forces exact token vectors)",
        )
    return value


def token_precision(runtime: str, tokens: int, cpu: CpuFeatures) -> str:
    """``"bf16"`` or ``"fp32"`` for a torch call over ``tokens`` padded tokens (see above)."""
    wanted = requested_precision()
    if wanted == "fp32" or not cpu.native_bf16:
        return "fp32"
    if wanted == "bf16":
        return "bf16"
    if runtime == "torch":
        return "fp32"
    return "bf16" if tokens >= MIN_BF16_TOKENS else "fp32"


def autocast(precision: str) -> Any:
    """A context for torch calls at ``precision`` (bf16 autocast, or nothing for fp32)."""
    if precision != "bf16":
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)
