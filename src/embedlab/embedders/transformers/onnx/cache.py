"""The export cache: one folder per exported graph under ``cache_home()/onnx/``, named by a hash.

Why: exporting (and quantising) takes seconds to minutes, so it happens once per source weights
and recipe. Folders are written to a temporary sibling and renamed into place, so an interrupted
or concurrent export never leaves a broken one; each use touches the folder's time, and
:func:`list_exports` says which exports the current recipe would no longer make (stale), so
``embedlab models prune`` can remove them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab.embedders.transformers.onnx.export import (
    EXPORT_VERSION,
    OPSET,
    OUTPUT_NAME,
    ExportSpec,
    export_graph,
)
from embedlab.embedders.transformers.onnx.quantize import DEFAULT_KEEP_FP32, quantize_graph
from embedlab.paths import cache_home


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
        return _write_atomically(target, lambda tmp: quantize_graph(source, tmp, spec), spec)
    return _write_atomically(target, lambda tmp: export_graph(load_torch(), tmp, spec), spec)


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
            "reduce_range": spec.reduce_range,
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
                bool(info.get("reduce_range", True)),  # before it was recorded: always 7-bit
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
