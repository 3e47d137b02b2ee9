"""`embedlab serve` under concurrent load, against the library's own `embed` and against infinity.

Every server runs as its own process on 127.0.0.1 (loopback only) and serves all-MiniLM-L6-v2
from the same local folder. Clients send single-sentence requests (`encoding_format: float`) on
keep-alive connections at concurrency 1, 16 and 64, each level for a bounded time after a short
warm-up; each client is a minimal asyncio HTTP/1.1 loop, so the load generator costs little CPU
on this 2-core machine. Reported: requests/s, sentences/s (one sentence a request), p50/p99
latency, and sentences/s as a share of the library's own `embed` throughput measured in the same
run with the same runtime and threads (the goal is at least 80% at concurrency 64).

infinity (`infinity-emb` from PyPI) is used if its `infinity_emb` command is found (`--infinity`,
default /tmp/infvenv/bin/infinity_emb: install it into a separate venv so ours is not
disturbed); it gets the same compute threads through OMP_NUM_THREADS.

    python bench/serve.py [--duration 20] [--runtimes torch onnx-int8] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "serve.md"
LEVELS = (1, 16, 64)
WARMUP_S = 2.0
MAX_REQUESTS_PER_LEVEL = 200_000  # a hard bound besides time

LIBRARY = """
import json, sys, time
import embedlab
from embedlab.data import sample_texts
runtime, threads, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
model = embedlab.load("minilm", runtime=runtime, threads=threads)
texts = sample_texts() * 25                     # 1,000 single sentences a pass
model.embed(texts[:64])
done, started = 0, time.perf_counter()
while time.perf_counter() - started < duration:
    model.embed(texts)                          # the library's own batching (32 a batch)
    done += len(texts)
print(json.dumps({"sentences_per_s": done / (time.perf_counter() - started)}))
"""


@dataclass
class Level:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


class Server:
    """A server child process; ``url`` once it answers."""

    def __init__(
        self, command: list[str], env: dict[str, str], ready_url: str | None, port: int | None
    ):
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.port = port
        deadline = time.monotonic() + 600
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            match = re.search(r"ready at http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
            if ready_url and "Uvicorn running on" in line:
                break
            if time.monotonic() > deadline:
                break
        if self.proc.poll() is not None or self.port is None:
            raise RuntimeError(f"server did not start: {command}")
        # keep draining output so the child never blocks on a full pipe
        import threading

        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


async def _client(
    port: int,
    path: str,
    model: str,
    texts: list[str],
    offset: int,
    stop_at: float,
    record_from: float,
    out: list,
    errors: list,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while (now := time.perf_counter()) < stop_at and len(out) < MAX_REQUESTS_PER_LEVEL:
            body = json.dumps(
                {"model": model, "input": [texts[i % len(texts)]], "encoding_format": "float"}
            ).encode()
            i += 1
            writer.write(
                (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            payload = await reader.readexactly(length)
            done = time.perf_counter()
            if now >= record_from:
                if head.startswith(b"HTTP/1.1 200"):
                    out.append(done - now)
                else:
                    errors.append(head.split(b"\r\n", 1)[0] + payload[:200])
    finally:
        writer.close()


async def _level(
    port: int, path: str, model: str, texts: list[str], concurrency: int, duration: float
) -> Level:
    start = time.perf_counter()
    record_from = start + WARMUP_S
    stop_at = record_from + duration
    latencies: list[float] = []
    errors: list[bytes] = []
    await asyncio.gather(
        *(
            _client(port, path, model, texts, k * 7, stop_at, record_from, latencies, errors)
            for k in range(concurrency)
        )
    )
    seconds = time.perf_counter() - record_from
    lat = np.array(latencies) * 1000
    return Level(
        concurrency,
        len(latencies),
        len(errors),
        seconds,
        float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        float(np.percentile(lat, 99)) if len(lat) else float("nan"),
    )


def drive(port: int, path: str, model: str, texts: list[str], duration: float) -> list[Level]:
    out = []
    for concurrency in LEVELS:
        level = asyncio.run(_level(port, path, model, texts, concurrency, duration))
        print(
            f"    c={concurrency:>2}: {level.rps:7.1f} req/s  p50 {level.p50_ms:6.1f} ms  "
            f"p99 {level.p99_ms:6.1f} ms  errors {level.errors}",
            flush=True,
        )
        out.append(level)
    return out


def library_rate(runtime: str, threads: int, duration: float, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", LIBRARY, runtime, str(threads), str(duration)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["sentences_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--runtimes", nargs="+", default=["torch", "onnx-int8"])
    parser.add_argument("--threads", type=int, default=1, help="compute threads per model")
    parser.add_argument("--infinity", default="/tmp/infvenv/bin/infinity_emb")
    args = parser.parse_args()

    from embedlab.catalogue import minilm_path
    from embedlab.data import sample_texts

    texts = sample_texts()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "EMBEDLAB_THREADS": str(args.threads),
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
    }
    rows: list[tuple[str, str, float, Level | None]] = []
    load_before = os.getloadavg()
    library_runs: dict[str, list[float]] = {}
    for runtime in args.runtimes:
        print(f"library embed, {runtime} (before the server) ...", flush=True)
        before = library_rate(runtime, args.threads, args.duration, env)
        print(f"    {before:.1f} sentences/s", flush=True)
        print(f"embedlab serve, {runtime} ...", flush=True)
        server = Server(
            [
                sys.executable,
                "-m",
                "embedlab.cli.main",
                "serve",
                "--port",
                "0",
                "--models",
                "minilm",
            ]
            + ["--runtime", runtime, "--threads", str(args.threads), "--log-level", "warning"],
            env,
            None,
            None,
        )
        try:
            levels = drive(server.port, "/v1/embeddings", "minilm", texts, args.duration)
        finally:
            server.stop()
        print(f"library embed, {runtime} (after the server) ...", flush=True)
        after = library_rate(runtime, args.threads, args.duration, env)
        print(f"    {after:.1f} sentences/s", flush=True)
        library_runs[runtime] = [before, after]
        lib = (before + after) / 2  # the machine is shared: the mean of runs either side
        rows.append(("embedlab library `embed`", runtime, lib, None))
        rows += [("embedlab serve", runtime, lib, level) for level in levels]

    infinity_note = ""
    if Path(args.infinity).is_file():
        print("infinity (torch engine) ...", flush=True)
        port = 7997
        inf_env = {**env, "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}
        try:
            server = Server(
                [args.infinity, "v2", "--model-id", str(minilm_path()), "--served-model-name"]
                + ["minilm", "--port", str(port), "--host", "127.0.0.1", "--device", "cpu"]
                + ["--engine", "torch", "--no-model-warmup"],
                inf_env,
                "ready",
                port,
            )
        except RuntimeError as exc:
            infinity_note = f"infinity did not start: {exc}"
        else:
            try:
                torch_lib = next((r[2] for r in rows if r[1] == "torch"), float("nan"))
                for level in drive(port, "/embeddings", "minilm", texts, args.duration):
                    rows.append(("infinity 0.0.78", "torch", torch_lib, level))
            finally:
                server.stop()
    else:
        infinity_note = (
            f"infinity not found at {args.infinity}; install infinity-emb[server,torch] there"
        )

    header = (
        "| system | runtime | concurrency | requests/s | sentences/s | p50 ms | p99 ms | "
        "share of library `embed` |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for name, runtime, lib, level in rows:
        if level is None:
            runs = " and ".join(f"{x:.0f}" for x in library_runs.get(runtime, []))
            lines.append(
                f"| {name} | {runtime} | – | – | {lib:.0f} (runs: {runs}) | – | – | 100% |"
            )
        else:
            lines.append(
                f"| {name} | {runtime} | {level.concurrency} | {level.rps:.0f} | {level.rps:.0f} | "
                f"{level.p50_ms:.1f} | {level.p99_ms:.1f} | {level.rps / lib:.0%} |"
                + (f" ({level.errors} errors)" if level.errors else "")
            )
    table = "\n".join(lines)
    print("\n" + table)
    if infinity_note:
        print(infinity_note)
    load_after = os.getloadavg()
    import embedlab

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# `embedlab serve` under load\n\n"
        f"`python bench/serve.py --duration {args.duration:g} --threads {args.threads}` on "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other work (load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after), Python "
        f"{platform.python_version()}, embedlab {embedlab.__version__}. Model all-MiniLM-L6-v2 from "
        "the same local folder for every system; one compute thread per server; single-sentence "
        f"requests, `encoding_format: float`, {WARMUP_S:g} s warm-up then {args.duration:g} s per "
        "level, clients on keep-alive connections on 127.0.0.1. The share compares sentences/s "
        "with the library's own `embed` (batches of 32) on the same runtime in the same run, "
        "measured just before and just after the server and averaged, because the machine is "
        "shared (infinity is compared with the torch library figure).\n\n"
        + table
        + ("\n\n" + infinity_note if infinity_note else "")
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
