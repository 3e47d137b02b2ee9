"""The web page's compare: cached results read without measuring, and small runs in the background.

Why its own minimal job and not the server's batch jobs: those embed a file through a served
model; a compare measures models in child processes (``embedlab.eval.compare``), one model at a
time, so its natural progress is "models done". One run at a time per server (each measures CPU
speed, and two at once would spoil both); runs live in memory and their results land in
compare's own cache, which is what the page reads.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from embedlab.errors import EmbedlabError, InputError
from embedlab.eval import compare as compare_module
from embedlab.eval.base import get_task
from embedlab.eval.compare import DEFAULT_TASKS, check_specs, compare, default_models, to_rows

MAX_MODELS = 8


def split(value: str | list[str] | None, default: tuple[str, ...]) -> list[str]:
    if value is None or value == "" or value == []:
        return list(default)
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item.strip()]


def cached_rows(models: list[str], tasks: list[str], limit: int | None) -> list[dict[str, Any]]:
    """What compare's cache already holds for these models and tasks; nothing is measured.

    A model appears once its speed was measured; a task it has no cached score for is None.
    """
    for task in tasks:
        get_task(task, limit=limit)  # an unknown task is refused with compare's own message
    folder = compare_module._cache_dir()
    rows = []
    for spec in models:
        speed = compare_module._read(
            folder
            / f"{compare_module._cache_key(spec, '_speed', str(compare_module.SPEED_SENTENCES))}.json"
        )
        if speed is None:
            continue
        row: dict[str, Any] = {"model": spec}
        for task in tasks:
            key = compare_module._cache_key(spec, task, get_task(task, limit=limit).data_key())
            score = compare_module._read(folder / f"{key}.json")
            row[task] = score.get("score") if score else None
        row.update({k: speed.get(k) for k in ("sentences_per_second", "load_seconds")})
        row.update(peak_memory_mb=speed.get("peak_memory_mb"), dim=speed.get("dim"))
        rows.append(row)
    return rows


@dataclass
class CompareRun:
    id: str
    models: list[str]
    tasks: list[str]
    limit: int | None
    status: str = "queued"  # queued, running, succeeded, failed
    done: int = 0
    current: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "compare_run",
            "status": self.status,
            "models": self.models,
            "tasks": self.tasks,
            "limit": self.limit,
            "models_done": self.done,
            "models_total": len(self.models),
            "progress": round(self.done / len(self.models), 4) if self.models else 1.0,
            "current": self.current,
            "rows": self.rows,
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }


def _refuse_paths_and_endpoints(spec: str) -> None:
    """A client of the server names catalogue models and methods only: a folder would load
    whatever lies on the server's disk, a remote spec would make the server call any URL."""
    name = spec.partition("@")[0].strip()
    if any(mark in name for mark in ("/", "\\", ":")) or name.startswith((".", "~")):
        raise InputError(
            f"the page compares catalogue models and methods, not {spec!r}",
            "pick e.g. tfidf or minilm; run `embedlab compare --models ...` on the machine "
            "itself for model folders and remote endpoints",
        )


class CompareRuns:
    """At most one compare running; earlier runs kept (the last 20) for their results."""

    def __init__(self) -> None:
        self._runs: dict[str, CompareRun] = {}
        self._lock = threading.Lock()

    def running(self) -> CompareRun | None:
        with self._lock:
            return next((r for r in self._runs.values() if r.status in ("queued", "running")), None)

    def get(self, run_id: str) -> CompareRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def start(self, models: list[str], tasks: list[str], limit: int | None) -> CompareRun:
        """Check everything first (unknown models and tasks fail now), then run in a thread."""
        if len(models) > MAX_MODELS:
            raise InputError(
                f"{len(models)} models in one run from the page", f"pick at most {MAX_MODELS}"
            )
        if limit is not None and limit < 1:
            raise InputError(f"limit must be at least 1, got {limit}", "use e.g. 100")
        for spec in models:
            _refuse_paths_and_endpoints(spec)
        check_specs(models)
        for task in tasks:
            get_task(task, limit=limit)
        run = CompareRun(f"cmp-{secrets.token_hex(6)}", models, tasks, limit)
        with self._lock:
            self._runs[run.id] = run
            for old in list(self._runs)[:-20]:
                del self._runs[old]
        threading.Thread(
            target=self._run, args=(run,), name="embedlab-ui-compare", daemon=True
        ).start()
        return run

    def _run(self, run: CompareRun) -> None:
        run.status = "running"
        try:
            for spec in run.models:
                run.current = spec
                reports = compare([spec], run.tasks, limit=run.limit)
                run.rows = run.rows + to_rows(reports, run.tasks)
                run.done += 1
            run.status = "succeeded"
        except EmbedlabError as exc:
            run.status, run.error = "failed", str(exc).splitlines()[0]
        except Exception as exc:  # a run must never take the server down with it
            run.status, run.error = "failed", f"internal error ({type(exc).__name__})"
        finally:
            run.current, run.finished_at = None, time.time()


def defaults() -> dict[str, list[str]]:
    """The page's default models and tasks: compare's, less the students not built here."""
    return {"models": default_models()[0], "tasks": list(DEFAULT_TASKS)}
