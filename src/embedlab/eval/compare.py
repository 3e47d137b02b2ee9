"""`compare`: rank approaches on quality, speed and memory, side by side, on the user's machine.

Each model is measured in a fresh child process, so its load time and peak memory are its own
and not what earlier models left behind. Results are cached per (model, task, data), so a rerun
is instant and adding one model measures only that model.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import embedlab
from embedlab import catalogue, cpu
from embedlab._io import write_json_atomic
from embedlab._version import __version__
from embedlab.embedders.methods import METHODS, methods, suggestion
from embedlab.errors import InputError, ModelFormatError, OutputError, UnknownModelError
from embedlab.eval.base import get_task
from embedlab.eval.datasets import sts_benchmark
from embedlab.extras import require
from embedlab.paths import cache_home
from embedlab.progress import progress_bar

DEFAULT_MODELS = (
    "tfidf",
    "glove-50d",
    "static-minilm",
    "minilm-l3",
    "minilm",
    "minilm@onnx-int8",
    "mpnet",
    "e5-small",
    "static-minilm-tl",  # the three students trained here: measured once built
    "dan-minilm",
    "bilstm-minilm",
)
DEFAULT_TASKS = ("sts", "classification", "clustering", "wordsim")
SPEED_SENTENCES = 1000


@dataclass
class ModelReport:
    """Everything measured for one model: main score per task, speed, load time, memory, size."""

    model: str
    scores: dict[str, float] = field(default_factory=dict)
    sentences_per_second: float | None = None
    load_seconds: float | None = None
    peak_memory_mb: float | None = None
    dim: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def vector_bytes(self) -> int | None:
        return None if self.dim is None else self.dim * 4


def default_models() -> tuple[list[str], list[str]]:
    """compare's default set on this machine: (the models to measure, the students trained here
    that are left out because they are not built yet; `embedlab models prepare NAME` builds
    one, so a default run never starts an hour of training)."""
    usable, unbuilt = [], []
    for spec in DEFAULT_MODELS:
        entry = catalogue.find(spec.partition("@")[0])
        if entry is not None and entry.trained_here and not entry.prepared:
            unbuilt.append(spec)
        else:
            usable.append(spec)
    return usable, unbuilt


def unbuilt_note(unbuilt: list[str]) -> str:
    """The one line that says which default models were left out and how to build them."""
    return (
        f"not measured: {', '.join(unbuilt)} (trained here, not built yet; build with "
        f"`embedlab models prepare {' '.join(unbuilt)}`, about an hour the first time)"
    )


def load_spec(spec: str) -> Any:
    """``name`` or ``name@runtime`` (e.g. ``minilm@onnx-int8``) to a loaded Embedder."""

    name, _, runtime = spec.partition("@")
    return embedlab.load(name, runtime=runtime) if runtime else embedlab.load(name)


def check_specs(models: list[str] | tuple[str, ...]) -> None:
    """Refuse, before anything is measured, a model spec that names no model at all.

    A model that exists but fails to load still gets its own "error" row, as before.
    """
    if not models:
        raise InputError("no models to compare", "pass e.g. --models tfidf,minilm")
    for spec in models:
        name = spec.partition("@")[0].strip()
        if not name:
            raise InputError(f"the model spec {spec!r} has no name", "write NAME or NAME@RUNTIME")
        method, path = name.partition(":")[0], Path(name).expanduser()
        if path.is_dir() and not any(
            (path / f).is_file() for f in ("embedlab.json", "config.json")
        ):
            raise ModelFormatError(
                f"{name} is a folder but not a model (no embedlab.json or config.json)",
                "pass a folder written by Embedder.save(), or a model name",
            )
        entry = catalogue.find(name)
        if entry is not None and entry.trained_here and not path.exists():
            entry.path()  # not built (or not installed): the one line that says how
        if (
            path.exists()
            or entry is not None
            or name in METHODS
            or (":" in name and method in (*METHODS, "train"))
        ):
            continue
        raise UnknownModelError(
            f"unknown model {name!r} in the models to compare",
            suggestion(name, methods() + catalogue.all_names()),
        )


def _cache_dir() -> Path:

    return cache_home() / "compare"


def _cache_key(spec: str, item: str, data_key: str) -> str:

    model_id = spec
    path = Path(spec.partition("@")[0])
    if path.exists():
        model_id = f"{path.resolve()}:{path.stat().st_mtime_ns}"
    # the CPU kind too: runtime="auto" (the default) picks per kind, so speeds and, for bf16 or
    # int8 runtimes, scores measured on another kind of machine are not this machine's
    raw = json.dumps([model_id, item, data_key, __version__, cpu.detect().kind])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _speed_texts() -> list[str]:

    sentences = list(dict.fromkeys(s for a, b, _ in sts_benchmark("test") for s in (a, b)))
    return sentences[:SPEED_SENTENCES]


def measure(spec: str, tasks: list[str], limit: int | None) -> dict[str, Any]:
    """Run in the child: load, time the embedding of fixed real sentences, then each task."""

    started = time.perf_counter()
    model = load_spec(spec)
    out: dict[str, Any] = {"dim": None, "sentences_per_second": None}
    if model.input_kind == "text":
        texts = _speed_texts()
        if model.trainable and not model.is_fitted:
            model.fit(texts)
        model.embed(texts[:1])  # weights are loaded lazily; count that as loading
        out["load_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        model.embed(texts, batch_size=32)
        out["sentences_per_second"] = len(texts) / (time.perf_counter() - started)
        out["dim"] = model.dim
    else:  # audio and image models: no sentences to time; their tasks fit them on their items
        out["load_seconds"] = time.perf_counter() - started
        if model.is_fitted:
            out["dim"] = model.dim
    out["scores"], out["errors"] = {}, {}
    for name in tasks:
        try:
            task = get_task(name, limit=limit)
            fresh = load_spec(spec) if model.trainable else model  # fit on each task's own texts
            out["scores"][name] = task.run(fresh).main_score
        except Exception as exc:  # one failing task must not hide the others
            out["errors"][name] = f"{type(exc).__name__}: {exc}"
    out["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def compare(
    models: list[str] | tuple[str, ...] | None = None,
    tasks: list[str] | tuple[str, ...] = DEFAULT_TASKS,
    *,
    limit: int | None = None,
    fresh: bool = False,
    progress: bool = False,
) -> list[ModelReport]:
    """Measure every model on every task; cached results are reused unless ``fresh``.

    A model that cannot be loaded gets an "error" row and the others are still measured (the
    CLI refuses names that match no model before calling this: :func:`check_specs`).
    """

    if models is None:
        models = default_models()[0]
    for task in tasks:
        get_task(task, limit=limit)  # an unknown task fails now, not after the first model
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    reports = []
    with progress_bar("comparing", len(models), enabled=progress) as advance:
        for spec in models:
            keys = {t: _cache_key(spec, t, get_task(t, limit=limit).data_key()) for t in tasks}
            keys["_speed"] = _cache_key(spec, "_speed", str(SPEED_SENTENCES))
            cached: dict[str, Any] = (
                {} if fresh else {k: _read(cache / f"{v}.json") for k, v in keys.items()}
            )
            missing = [t for t in tasks if cached.get(t) is None]
            if missing or cached.get("_speed") is None:
                child = _run_child(spec, missing, limit)
                if "fatal" in child:
                    reports.append(ModelReport(spec, errors={"load": child["fatal"]}))
                    advance(1)
                    continue
                speed = {
                    k: child[k]
                    for k in ("dim", "load_seconds", "sentences_per_second", "peak_memory_mb")
                }
                _write(cache / f"{keys['_speed']}.json", speed)
                cached["_speed"] = speed
                for t in missing:
                    if t in child["scores"]:
                        cached[t] = {"score": child["scores"][t]}
                        _write(cache / f"{keys[t]}.json", cached[t])
                    else:
                        cached[t] = {"error": child["errors"].get(t, "not run")}
            speed = cached["_speed"]
            reports.append(
                ModelReport(
                    model=spec,
                    scores={t: cached[t]["score"] for t in tasks if "score" in cached[t]},
                    errors={t: cached[t]["error"] for t in tasks if "error" in cached[t]},
                    **speed,
                )
            )
            advance(1)
    return reports


def _run_child(spec: str, tasks: list[str], limit: int | None) -> dict[str, Any]:
    args = [
        sys.executable,
        "-m",
        "embedlab.eval.compare",
        spec,
        json.dumps(tasks),
        json.dumps(limit),
    ]
    done = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"fatal": tail}
    return json.loads(lines[-1])


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    write_json_atomic(path, data, durable=False)  # a cache: measured again if lost


# -- reporting ----------------------------------------------------------------------------------
def to_rows(reports: list[ModelReport], tasks: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for r in reports:
        row: dict[str, Any] = {"model": r.model}
        row.update({t: r.scores.get(t) for t in tasks})
        row.update(
            sentences_per_second=r.sentences_per_second,
            load_seconds=r.load_seconds,
            peak_memory_mb=r.peak_memory_mb,
            dim=r.dim,
            vector_bytes=r.vector_bytes,
            errors=r.errors,
        )
        rows.append(row)
    return rows


def to_markdown(reports: list[ModelReport], tasks: list[str] | tuple[str, ...]) -> str:
    def fmt(value: Any, digits: int = 3) -> str:
        if value is None:
            return "–"
        return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"

    head = ["model", *tasks, "sentences/s", "load s", "peak MB", "dims", "bytes/vector"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in reports:
        cells = [r.model, *(fmt(r.scores.get(t)) for t in tasks)]
        cells += [fmt(r.sentences_per_second, 0), fmt(r.load_seconds, 1), fmt(r.peak_memory_mb, 0)]
        cells += [fmt(r.dim), fmt(r.vector_bytes)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r.model} / {t}: {e}" for r in reports for t, e in r.errors.items()]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def chart(reports: list[ModelReport], tasks: list[str] | tuple[str, ...], path: Path) -> Path:
    """Quality (mean main score over the tasks each model ran) against speed, log scale."""
    require("matplotlib", "viz")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for r in reports:
        scores = [r.scores[t] for t in tasks if t in r.scores]
        if not scores or not r.sentences_per_second:
            continue
        quality = sum(scores) / len(scores)
        ax.scatter(r.sentences_per_second, quality, s=40 + (r.peak_memory_mb or 0) / 10, alpha=0.7)
        ax.annotate(
            r.model, (r.sentences_per_second, quality), textcoords="offset points", xytext=(6, 4)
        )
    ax.set_xscale("log")
    ax.set_xlabel("sentences per second (log scale, this machine)")
    ax.set_ylabel(f"mean main score ({', '.join(tasks)})")
    ax.set_title("embedlab compare: quality against speed (marker size: peak memory)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


OUTPUT_FILES = ("compare.md", "compare.json", "compare.png")
_OUTPUT_FORMAT = "embedlab-compare"


def check_outputs(folder: Path, *, force: bool = False) -> None:
    """Refuse, before any measuring, to replace compare files that an earlier ``compare`` did not
    write: the output folder may be the user's own, holding a compare.md of theirs.

    compare.json marks the three files as embedlab's (it carries ``format``); without it, any
    existing one of them is someone else's and is kept unless ``force``.
    """
    if force or not folder.is_dir():
        return
    existing = [name for name in OUTPUT_FILES if (folder / name).exists()]
    if existing and not _written_by_compare(folder / "compare.json"):
        raise OutputError(
            f"{folder} already holds {', '.join(existing)}, not written by embedlab compare",
            "choose another --out folder, or pass --force to replace them",
        )


def _written_by_compare(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == _OUTPUT_FORMAT


def write_outputs(
    reports: list[ModelReport],
    tasks: list[str] | tuple[str, ...],
    folder: Path,
    *,
    force: bool = False,
) -> list[Path]:
    """compare.md, compare.json and compare.png in ``folder``, each written whole (a temporary
    file renamed into place), never over files another program wrote (see check_outputs)."""
    check_outputs(folder, force=force)
    folder.mkdir(parents=True, exist_ok=True)
    md, js, png = (folder / name for name in OUTPUT_FILES)
    rows = {"format": _OUTPUT_FORMAT, "tasks": list(tasks), "models": to_rows(reports, tasks)}
    for path, text in ((md, to_markdown(reports, tasks)), (js, json.dumps(rows, indent=2))):
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    partial_png = chart(reports, tasks, folder / ".compare.partial.png")
    os.replace(partial_png, png)
    return [md, js, png]


if __name__ == "__main__":  # the child process of `compare`
    try:
        result = measure(sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]))
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))
