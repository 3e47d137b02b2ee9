"""Where a served request's time goes: the model calls the server makes, with and without the server.

bench/serve.py measures the server from outside. This runs the real app (``create_app``, uvicorn)
in this process on 127.0.0.1, drives it from a client subprocess (bench/serve.py's minimal
HTTP/1.1 clients, single-sentence requests at ``--concurrency``), and wraps the OpenVINO
runner's call to record, for every model call the server makes: its padded shape, the compute
thread's CPU time inside it and its wall time (the difference is mostly waiting to take the GIL
back from the event loop). It also reads each thread's CPU clock. After the server
stops, the very same padded calls are replayed alone in this process, so the table separates
what the model costs in the server's batches from what sharing the process and the cores with
the event loop adds. The library's own ``embed`` of the same texts (sorted, 1,000 a call) is the
reference bench/serve.py's goal is measured against.

    python bench/serve_profile.py [--texts sample stsb] [--concurrency 64] [--duration 8]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

RESULTS = Path(__file__).parent / "results" / "serve_profile.md"
CLIENT = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
import serve
port, concurrency, duration = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
texts = json.loads(sys.stdin.read())
level = asyncio.run(serve._level(port, "/v1/embeddings", "minilm", texts, concurrency, duration))
print(json.dumps({"rps": level.rps, "requests": level.requests, "errors": level.errors,
                  "seconds": level.seconds, "p50": level.p50_ms, "p99": level.p99_ms}))
"""


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds of one thread of this process, from its own CPU clock."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class CallLog:
    """Wraps the runner's ``__call__``: each call's feed, CPU and wall seconds (while ``on``)."""

    def __init__(self) -> None:
        from embedlab.embedders.transformers.openvino.runner import OpenVinoRunner

        self.calls: list[tuple[dict[str, np.ndarray], float, float]] = []
        self.on = False
        original = OpenVinoRunner.__call__
        log = self

        def timed(runner: OpenVinoRunner, feed: dict[str, np.ndarray]) -> np.ndarray:
            cpu, wall = time.thread_time(), time.perf_counter()
            out = original(runner, feed)
            if log.on:
                log.calls.append((feed, time.thread_time() - cpu, time.perf_counter() - wall))
            return out

        OpenVinoRunner.__call__ = timed  # type: ignore[method-assign]

        from embedlab.server.core.batcher import Batcher

        self.stage_cpu = 0.0  # the compute thread's CPU in Batcher._compute (whole batches)
        compute = Batcher._compute

        def timed_stage(batcher: Batcher, batch: list) -> tuple:
            cpu = time.thread_time()
            out = compute(batcher, batch)
            if log.on:
                log.stage_cpu += time.thread_time() - cpu
            return out

        Batcher._compute = timed_stage  # type: ignore[method-assign]

        self.full_collections: list[float] = []  # seconds of each full (gen 2) GC pass
        started: list[float] = []

        def on_gc(phase: str, info: dict) -> None:
            if info["generation"] != 2:
                return
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif log.on and started:
                log.full_collections.append(time.perf_counter() - started[0])

        gc.callbacks.append(on_gc)


def profile(
    texts: list[str],
    concurrency: int,
    duration: float,
    log: CallLog,
    compute_batch_size: int = 32,
    pin_threads: bool = False,
) -> dict:
    import uvicorn

    from embedlab.server.config import ServerConfig
    from embedlab.server.http.app import create_app

    settings = ServerConfig(
        models=["minilm"],
        runtime="auto",
        threads=1,
        log_level="warning",
        compute_batch_size=compute_batch_size,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    result: dict = {}

    def drive() -> None:
        while not server.started:
            time.sleep(0.2)
        port = server.servers[0].sockets[0].getsockname()[1]
        client = [sys.executable, "-c", CLIENT, str(Path(__file__).parent), str(port)]
        body = json.dumps(texts)
        subprocess.run(client + [str(concurrency), "3"], input=body, text=True, check=True)
        compute = next(t for t in threading.enumerate() if t.name.startswith("compute-"))
        loop = threading.main_thread()
        if pin_threads:  # a trial: the compute thread on the last core, the event loop on the first
            cores = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(compute.native_id, {cores[-1]})
            os.sched_setaffinity(loop.native_id, {cores[0]})
        before = thread_cpu(compute), thread_cpu(loop)
        log.calls.clear()
        log.stage_cpu = 0.0
        log.full_collections.clear()
        log.on = True
        run = subprocess.run(
            client + [str(concurrency), str(duration)],
            input=body,
            text=True,
            capture_output=True,
            check=True,
        )
        log.on = False
        result.update(json.loads(run.stdout.strip().splitlines()[-1]))
        result["compute_cpu"] = thread_cpu(compute) - before[0]
        result["loop_cpu"] = thread_cpu(loop) - before[1]
        server.should_exit = True

    threading.Thread(target=drive, daemon=True).start()
    server.run()
    return result


def replay(model: object, feeds: list[dict[str, np.ndarray]], rounds: int = 2) -> float:
    """CPU seconds of the same padded calls made alone (best of ``rounds``)."""
    run = model._backend()  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for feed in feeds:
            run(feed)
        best = min(best, time.process_time() - started)
    return best


def library(model: object, texts: list[str]) -> float:
    """CPU seconds a sentence of the library's own ``embed`` of 1,000 of ``texts``."""
    passes = (texts * (1000 // len(texts) + 1))[:1000]
    model.embed(passes[:64])  # type: ignore[attr-defined]
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        model.embed(passes)  # type: ignore[attr-defined]
        best = min(best, time.process_time() - started)
    return best / len(passes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", nargs="+", default=["sample", "stsb"])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--compute-batch-size", type=int, default=32, help="rows a model call")
    parser.add_argument(
        "--pin-threads", action="store_true", help="compute thread and event loop on own cores"
    )
    parser.add_argument("--note", default="")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    import embedlab
    from embedlab.data import sample_texts
    from encode import cpu_line, on_top, sentences

    log = CallLog()
    model = embedlab.load("minilm", runtime="auto", threads=1)
    rows = []
    for name in args.texts:
        texts = sample_texts() if name == "sample" else sentences(1000)[0]
        got = profile(
            texts, args.concurrency, args.duration, log, args.compute_batch_size, args.pin_threads
        )
        feeds = [feed for feed, _, _ in log.calls]
        n = sum(feed["input_ids"].shape[0] for feed in feeds)
        real = sum(int(feed["attention_mask"].sum()) for feed in feeds)
        padded = sum(feed["input_ids"].size for feed in feeds)
        alone = replay(model, feeds)
        per = 1e6 / n  # the threads' clocks cover every call logged, the client's warm-up too
        rows.append(
            {
                "texts": name,
                "rps": got["rps"],
                "p50": got["p50"],
                "p99": got["p99"],
                "errors": got["errors"],
                "library_us": 1e6 * library(model, texts),
                "loop_us": got["loop_cpu"] * per,
                "compute_us": got["compute_cpu"] * per,
                "stage_us": 1e6 * log.stage_cpu / n,
                "call_cpu_us": 1e6 * sum(c for _, c, _ in log.calls) / n,
                "call_wall_us": 1e6 * sum(w for _, _, w in log.calls) / n,
                "alone_us": 1e6 * alone / n,
                "rows_per_call": n / len(feeds),
                "padding": padded / real - 1,
                "gc": list(log.full_collections),
                "seconds": got["seconds"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    load = os.getloadavg()
    lines = [
        f"# Where a served request's time goes ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"`python bench/serve_profile.py --texts {' '.join(args.texts)} "
        f"--concurrency {args.concurrency} --duration {args.duration:g} "
        f"--compute-batch-size {args.compute_batch_size}`",
        "",
        *([f"What changed since the run below: {args.note}", ""] if args.note else []),
        f"CPU: {cpu_line()}; {os.cpu_count()} cores shared with other work (load average at the "
        f"end {load[0]:.1f}); MiniLM on `auto`, one compute thread; the server in this process, "
        f"its clients in another (2 s of warm-up, then the measured seconds; the threads' clocks and the GC passes cover both); {args.concurrency} concurrent single-sentence requests for "
        f"{args.duration:g} s. Per sentence (= per request): CPU of the event loop thread and of "
        "the compute thread (their CPU clocks), the compute thread's CPU and wall time inside the model "
        "calls and in whole batches (merging requests, padding, the calls, splitting the vectors), the same padded calls replayed alone afterwards, and the library's own `embed` "
        "of the same texts (sorted, 1,000 a call; tokenising included).",
        "",
        "| texts | requests/s (p50 / p99 ms) | full GC passes (longest, all) | event loop CPU us | compute thread CPU us | in batches (pad, run, "
        "split) CPU us | in model calls: CPU us "
        "| in model calls: wall us | same calls alone: CPU us | library `embed` CPU us | rows a "
        "call | padding |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['texts']} | {r['rps']:.0f} ({r['p50']:.1f} / {r['p99']:.1f}) | "
            f"{len(r['gc'])} ({1e3 * max(r['gc'], default=0):.0f} ms, {1e3 * sum(r['gc']):.0f} ms) | "
            f"{r['loop_us']:.0f} | {r['compute_us']:.0f} | "
            f"{r['stage_us']:.0f} | "
            f"{r['call_cpu_us']:.0f} | {r['call_wall_us']:.0f} | {r['alone_us']:.0f} | "
            f"{r['library_us']:.0f} | {r['rows_per_call']:.1f} | {r['padding']:.0%} |"
            + (f" ({r['errors']} errors)" if r["errors"] else "")
        )
    print("\n" + on_top(Path(args.out), "\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
