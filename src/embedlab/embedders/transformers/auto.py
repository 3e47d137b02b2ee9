"""``runtime="auto"``: the fastest runtime on this CPU whose vectors stay those of fp32 torch.

Why: the fastest engine depends on the CPU (bf16 on AMX, int8 on VNNI or AVX2) and on the
model (int8 costs some models more accuracy than others), and a user should not have to know
either. Candidates are tried fastest first (:func:`~embedlab.embedders.transformers.runtime.
fastest_first`); the first whose vectors on real sentences keep a mean cosine of at least
:data:`GATE_MEAN` and a minimum of :data:`GATE_MIN` to fp32 torch is chosen. The check runs
once per model, recipe and kind of CPU; its result is recorded in the cache
(``cache_home()/runtimes/``), so later loads choose without loading torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.cpu import CpuFeatures
from embedlab.data import sample_texts
from embedlab.embedders.transformers.onnx.runner import cosines
from embedlab.errors import EmbedlabError
from embedlab.paths import cache_home

GATE_MEAN = 0.99
GATE_MIN = 0.97
GATE_VERSION = 1  # bump when the check (texts, thresholds, order) changes

log = logging.getLogger("embedlab")

Vectors = Callable[[dict[str, np.ndarray]], np.ndarray]


def gate_texts() -> list[str]:
    """The real sentences the check embeds: the bundled sample (40 sentences, six topics)."""
    return sample_texts()


@dataclass(frozen=True)
class Choice:
    """What ``auto`` chose, and every candidate's check (runtime, mean, min, passed or error)."""

    runtime: str
    cpu: str
    candidates: list[dict[str, Any]]
    record: Path
    checked_now: bool  # False: read back from the cache

    def summary(self) -> str:
        chosen = next((c for c in self.candidates if c["runtime"] == self.runtime), {})
        quality = (
            f"mean cosine {chosen['mean']:.5f}, min {chosen['min']:.5f} to fp32 torch"
            if "mean" in chosen
            else "the fp32 reference itself"
        )
        return f"{self.runtime} ({quality}; {self.cpu} CPU)"


def records_dir() -> Path:
    return cache_home() / "runtimes"


def record_path(
    model_key: str, cpu: CpuFeatures, candidates: Sequence[str], graphs: dict[str, str]
) -> Path:
    """The record of one model (``model_key``: its fp32 export's key) on one kind of CPU.

    ``graphs`` names the graph each candidate runs (its export key, and the int8 recipe where
    it quantizes), so a changed graph (another ``keep_fp32``, a new int8 recipe or NNCF) is
    checked again rather than trusted on another graph's check.
    """
    try:
        openvino = version("openvino")
    except PackageNotFoundError:
        openvino = None
    identity = {
        "gate": GATE_VERSION,
        "model": model_key,
        "cpu": cpu.key(),
        "candidates": list(candidates),
        "graphs": graphs,
        "mean": GATE_MEAN,
        "min": GATE_MIN,
        "openvino": openvino,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    slug = re.sub(r"(-fp32)?-[0-9a-f]{16}$", "", model_key)
    return records_dir() / f"{slug}-{cpu.key()}-{digest}.json"


def choose(
    record: Path,
    cpu: CpuFeatures,
    candidates: Sequence[str],
    build: Callable[[str], Vectors],
    embed_with: Callable[[Vectors], np.ndarray],
) -> Choice:
    """The recorded choice, or check ``candidates`` in order now and record the first to pass.

    ``build(runtime)`` makes a runtime's batch function (an error skips that runtime: it cannot
    export or run this model, or its package is missing); ``embed_with(fn)`` embeds
    :func:`gate_texts` with one. ``"torch"`` is the reference and always passes.
    """
    choice = read_choice(record)
    if choice is not None:
        with contextlib.suppress(OSError):
            os.utime(record)
        log.info("runtime auto: %s, as checked before", choice.summary())
        return choice
    reference = embed_with(build("torch"))
    checked: list[dict[str, Any]] = []
    chosen = "torch"
    for runtime in candidates:
        if runtime == "torch":
            checked.append({"runtime": "torch", "passed": True})
            break
        started = time.perf_counter()
        try:
            vectors = embed_with(build(runtime))
        except EmbedlabError as exc:
            checked.append({"runtime": runtime, "passed": False, "error": str(exc)[:300]})
            continue
        except Exception as exc:  # an engine's own failure on this graph: the next one may run
            error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            checked.append({"runtime": runtime, "passed": False, "error": error})
            continue
        cos = cosines(reference, vectors)
        passed = bool(cos.mean() >= GATE_MEAN and cos.min() >= GATE_MIN)
        checked.append(
            {
                "runtime": runtime,
                "mean": round(float(cos.mean()), 6),
                "min": round(float(cos.min()), 6),
                "passed": passed,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        if passed:
            chosen = runtime
            break
    choice = Choice(chosen, cpu.kind, checked, record, True)
    _write(record, {"runtime": chosen, "cpu": cpu.kind, "flags": cpu.found, "candidates": checked})
    log.info("runtime auto: %s, checked on %d sentences", choice.summary(), len(reference))
    return choice


def read_choice(record: Path) -> Choice | None:
    """The choice recorded at ``record``; None if there is none (or it is unreadable)."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("runtime"), str):
        return None
    if not isinstance(data.get("candidates"), list):
        return None
    return Choice(data["runtime"], str(data.get("cpu", "")), data["candidates"], record, False)


def _write(record: Path, data: dict[str, Any]) -> None:
    """Write atomically (a temporary sibling renamed into place); a read-only cache is fine."""
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{record.name}.", dir=record.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
        os.replace(tmp, record)
    except OSError as exc:
        log.warning("runtime auto: cannot record the choice in %s (%s)", record, exc)
