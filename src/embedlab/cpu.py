"""What the CPU can do fast: AMX, VNNI, AVX-512, AVX2, read from ``/proc/cpuinfo``.

Why: the fastest runtime that keeps a model's vectors depends on the CPU (bf16 is native only
with AMX or AVX-512 BF16; full 8-bit int8 weights saturate without VNNI), so runtimes are chosen
and checked against these features. ``$EMBEDLAB_CPUINFO`` names another cpuinfo file to read
instead (to see what another machine would get); the hardware itself is not changed by it.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

ENV_CPUINFO = "EMBEDLAB_CPUINFO"
CPUINFO = Path("/proc/cpuinfo")

# the flags that change which runtime is fastest or what it computes, in the order printed
FEATURES = (
    ("amx_bf16", "AMX-BF16"),
    ("amx_int8", "AMX-INT8"),
    ("avx512_bf16", "AVX-512 BF16"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
)


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's model name and flags (only those of :data:`FEATURES` matter here)."""

    model_name: str
    flags: frozenset[str]
    source: str = ""

    def has(self, flag: str) -> bool:
        return flag in self.flags

    @property
    def native_bf16(self) -> bool:
        """bf16 matrix products in hardware (else bf16 is emulated, slower than fp32)."""
        return self.has("amx_bf16") or self.has("avx512_bf16")

    @property
    def vnni(self) -> bool:
        """int8 dot products without 16-bit saturation: full 8-bit weights are safe."""
        return self.has("avx512_vnni") or self.has("avx_vnni") or self.has("amx_int8")

    @property
    def kind(self) -> str:
        """One word for the class of machine: amx, avx512-vnni, avx-vnni, avx512, avx2 or basic."""
        if self.has("amx_bf16") and self.has("amx_int8"):
            return "amx"
        if self.has("avx512_vnni"):
            return "avx512-vnni"
        if self.has("avx_vnni"):
            return "avx-vnni"
        if self.has("avx512f"):
            return "avx512"
        return "avx2" if self.has("avx2") else "basic"

    @property
    def found(self) -> list[str]:
        """Display names of the features present, strongest first."""
        return [label for flag, label in FEATURES if self.has(flag)]

    def key(self) -> str:
        """What, of this CPU, changes a runtime's vectors: native bf16 and VNNI (for caches)."""
        extras = [name for name, on in (("bf16", self.native_bf16), ("vnni", self.vnni)) if on]
        return "-".join([self.kind, *extras])


def parse_cpuinfo(text: str, source: str = "") -> CpuFeatures:
    """The first processor's model name and flags (x86 ``flags``, Arm ``Features``)."""
    model = ""
    flags: frozenset[str] = frozenset()
    for line in text.splitlines():
        if not line.strip():
            if flags:
                break  # the first processor block is enough: all cores report the same
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "model name" and not model:
            model = value.strip()
        elif name in ("flags", "features") and not flags:
            flags = frozenset(value.split())
    return CpuFeatures(model, flags, source)


@functools.cache
def _read(path: str) -> CpuFeatures:
    try:
        return parse_cpuinfo(Path(path).read_text(encoding="utf-8", errors="replace"), path)
    except OSError:  # not Linux: no flags known, so only the portable runtimes are chosen
        return CpuFeatures(platform.processor() or platform.machine(), frozenset(), "")


def detect() -> CpuFeatures:
    """This machine's features (read once), or those of the file ``$EMBEDLAB_CPUINFO`` names."""
    return _read(os.environ.get(ENV_CPUINFO) or str(CPUINFO))
