"""`embedlab serve` under concurrent load, against the library's own `embed` and against infinity.

Every server runs as its own process on 127.0.0.1 (loopback only) and serves all-MiniLM-L6-v2
from the same local folder. Clients send single-sentence requests (`encoding_format: float`;
``--texts sample``: the 40 bundled sentences, ``--texts stsb``: 1,000 STS-B sentences of more
varied lengths, which the library embeds too) on
keep-alive connections at concurrency 1, 16 and 64, each level for a bounded time after a short
warm-up; each client is a minimal asyncio HTTP/1.1 loop, so the load generator costs little CPU
on this 2-core machine. Reported: requests/s, sentences/s (one sentence a request), p50/p99
latency, the server process's CPU time per request, and sentences/s as a share of the library's
own `embed` throughput on the same runtime and threads (the goal is at least 85% at concurrency
64).

Because the machine is shared, the library and the server are alternated: ``--rounds R`` runs
library, server levels, library, server levels, ..., library; each round's share compares the
server with the mean of the library runs just before and after it, and the table gives the
median over rounds (each round's share is listed). The library's CPU time per sentence and the
server's per request are steadier than the wall clock when other processes compete for cores.

infinity (`infinity-emb` from PyPI) is used if its `infinity_emb` command is found (`--infinity`,
default /tmp/infvenv/bin/infinity_emb: install it into a separate venv so ours is not
disturbed); it gets the same compute threads through OMP_NUM_THREADS.

    python bench/serve.py [--duration 20] [--rounds 3] [--runtimes auto torch onnx-int8] [--threads 1]
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
TEXTS = {
    "sample": "the 40 bundled sentences, 11-19 tokens; the library embeds them 25 times a pass",
    "stsb": "1,000 STS-B sentences, 6-60 tokens; the library embeds the same 1,000 a pass",
}
WARMUP_S = 2.0
MAX_REQUESTS_PER_LEVEL = 200_000  # a hard bound besides time

LIBRARY = """
import json, sys, time
import embedlab
runtime, threads, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
model = embedlab.load("minilm", runtime=runtime, threads=threads)
texts = json.loads(sys.argv[4])                 # the 1,000 sentences of a pass
model.embed(texts[:64])
done, started, cpu = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - started < duration:
    model.embed(texts)                          # the library's own batching (32 a batch)
    done += len(texts)
print(json.dumps({"sentences_per_s": done / (time.perf_counter() - started),
                  "cpu_us": 1e6 * (time.process_time() - cpu) / done}))
"""


@dataclass
class Level:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us: float = float("nan")  # server process CPU time per request

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
    port: int,
    path: str,
    model: str,
    texts: list[str],
    concurrency: int,
    duration: float,
    pid: int | None = None,
) -> Level:
    start = time.perf_counter()
    record_from = start + WARMUP_S
    stop_at = record_from + duration
    latencies: list[float] = []
    errors: list[bytes] = []
    cpu: list[float] = []

    async def mark_cpu() -> None:  # the server's CPU time from the end of the warm-up
        await asyncio.sleep(max(0.0, record_from - time.perf_counter()))
        if pid is not None:
            cpu.append(process_cpu(pid))

    await asyncio.gather(
        mark_cpu(),
        *(
            _client(port, path, model, texts, k * 7, stop_at, record_from, latencies, errors)
            for k in range(concurrency)
        ),
    )
    seconds = time.perf_counter() - record_from
    lat = np.array(latencies) * 1000
    cpu_us = (
        1e6 * (process_cpu(pid) - cpu[0]) / max(len(latencies), 1) if pid is not None else np.nan
    )
    return Level(
        concurrency,
        len(latencies),
        len(errors),
        seconds,
        float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        float(cpu_us),
    )


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(
    port: int, path: str, model: str, texts: list[str], duration: float, pid: int
) -> list[Level]:
    out = []
    for concurrency in LEVELS:
        level = asyncio.run(_level(port, path, model, texts, concurrency, duration, pid))
        print(
            f"    c={concurrency:>2}: {level.rps:7.1f} req/s  p50 {level.p50_ms:6.1f} ms  "
            f"p99 {level.p99_ms:6.1f} ms  CPU {level.cpu_us:6.0f} us/req  errors {level.errors}",
            flush=True,
        )
        out.append(level)
    return out


def library_rate(
    runtime: str, threads: int, duration: float, env: dict[str, str], texts: list[str]
) -> tuple[float, float]:
    """(sentences/s, CPU microseconds per sentence) of the library's own ``embed`` of passes of
    1,000 of ``texts`` (repeated as needed)."""
    passes = (texts * (1000 // len(texts) + 1))[:1000]
    result = subprocess.run(
        [sys.executable, "-c", LIBRARY, runtime, str(threads), str(duration), json.dumps(passes)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return out["sentences_per_s"], out["cpu_us"]


def start_server(runtime: str, threads: int, env: dict[str, str]) -> Server:
    return Server(
        [sys.executable, "-m", "embedlab.cli.main", "serve", "--port", "0", "--models", "minilm"]
        + ["--runtime", runtime, "--threads", str(threads), "--log-level", "warning"],
        env,
        None,
        None,
    )


@dataclass
class Row:
    """One table row: the library (``levels`` empty) or one concurrency level over rounds."""

    system: str
    runtime: str
    library: list[float]  # sentences/s of each library run, in order
    library_cpu: list[float]  # CPU microseconds per sentence of each library run
    levels: list[Level]  # this concurrency level, one per round
    shares: list[float]  # each round's sentences/s over its neighbouring library runs' mean

    @property
    def level(self) -> Level:
        """The round with the median share (its figures are printed)."""
        order = sorted(range(len(self.levels)), key=lambda i: self.shares[i])
        return self.levels[order[len(order) // 2]]


def measure(
    runtime: str, threads: int, duration: float, rounds: int, texts: list[str], env: dict
) -> list[Row]:
    """Library, server levels, library, ... (``rounds`` server rounds), on one runtime."""
    library: list[tuple[float, float]] = []

    def library_run() -> None:
        print(f"library embed, {runtime} ...", flush=True)
        rate, cpu = library_rate(runtime, threads, duration, env, texts)
        library.append((rate, cpu))
        print(f"    {rate:.1f} sentences/s, {cpu:.0f} us CPU a sentence", flush=True)

    library_run()
    server = start_server(runtime, threads, env)
    per_round: list[list[Level]] = []
    try:
        for k in range(rounds):
            print(f"embedlab serve, {runtime}, round {k + 1} of {rounds} ...", flush=True)
            per_round.append(
                drive(server.port, "/v1/embeddings", "minilm", texts, duration, server.proc.pid)
            )
            library_run()
    finally:
        server.stop()
    rates = [rate for rate, _ in library]
    cpus = [cpu for _, cpu in library]
    rows = [Row("embedlab library `embed`", runtime, rates, cpus, [], [])]
    for i, _ in enumerate(LEVELS):
        levels = [per_round[k][i] for k in range(rounds)]
        shares = [level.rps / ((rates[k] + rates[k + 1]) / 2) for k, level in enumerate(levels)]
        rows.append(Row("embedlab serve", runtime, rates, cpus, levels, shares))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--rounds", type=int, default=2, help="server rounds, library between")
    parser.add_argument("--runtimes", nargs="+", default=["auto"])
    parser.add_argument("--threads", type=int, default=1, help="compute threads per model")
    parser.add_argument("--infinity", default="/tmp/infvenv/bin/infinity_emb")
    parser.add_argument("--note", default="", help="what changed since the last run")
    parser.add_argument(
        "--texts",
        choices=("sample", "stsb"),
        default="sample",
        help="sample: the 40 bundled sentences (11-19 tokens); stsb: 1,000 STS-B sentences "
        "(6-60 tokens, test split first), where batches of random lengths pad more",
    )
    args = parser.parse_args()

    from embedlab.catalogue import minilm_path
    from embedlab.cpu import detect
    from embedlab.data import sample_texts
    from encode import sentences  # unique STS-B sentences, test split first

    texts = sample_texts() if args.texts == "sample" else sentences(1000)[0]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "EMBEDLAB_THREADS": str(args.threads),
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
    }
    cpu = detect()
    print(f"CPU: {cpu.model_name}, kind {cpu.kind} ({', '.join(cpu.found)})", flush=True)
    rows: list[Row] = []
    load_before = os.getloadavg()
    for runtime in args.runtimes:
        rows += measure(runtime, args.threads, args.duration, args.rounds, texts, env)

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
                torch_row = next((r for r in rows if r.runtime == "torch" and not r.levels), None)
                lib = float(np.mean(torch_row.library)) if torch_row else float("nan")
                levels = drive(port, "/embeddings", "minilm", texts, args.duration, server.proc.pid)
                for level in levels:
                    rows.append(
                        Row("infinity 0.0.78", "torch", [lib], [], [level], [level.rps / lib])
                    )
            finally:
                server.stop()
    else:
        infinity_note = (
            f"infinity not found at {args.infinity}; install infinity-emb[server,torch] there"
        )

    header = (
        "| system | runtime | concurrency | requests/s | p50 ms | p99 ms | CPU us a request | "
        "share of library `embed` (median; rounds) |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for row in rows:
        if not row.levels:
            runs = ", ".join(f"{x:.0f}" for x in row.library)
            lines.append(
                f"| {row.system} | {row.runtime} | – | {np.median(row.library):.0f} sentences/s "
                f"(runs: {runs}) | – | – | {np.median(row.library_cpu):.0f} a sentence | 100% |"
            )
            continue
        level = row.level
        rounds = " / ".join(f"{x:.0%}" for x in row.shares)
        lines.append(
            f"| {row.system} | {row.runtime} | {level.concurrency} | {level.rps:.0f} | "
            f"{level.p50_ms:.1f} | {level.p99_ms:.1f} | {level.cpu_us:.0f} | "
            f"{float(np.median(row.shares)):.0%} ({rounds}) |"
            + (f" ({level.errors} errors)" if level.errors else "")
        )
    table = "\n".join(lines)
    print("\n" + table)
    if infinity_note:
        print(infinity_note)
    load_after = os.getloadavg()
    import embedlab

    command = (
        f"python bench/serve.py --duration {args.duration:g} --rounds {args.rounds} "
        f"--runtimes {' '.join(args.runtimes)} --threads {args.threads} --texts {args.texts}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else ""
    report = (
        f"# `embedlab serve` under load ({time.strftime('%Y-%m-%d %H:%M')})\n\n"
        f"`{command}`\n\n"
        + (f"What changed since the run below: {args.note}\n\n" if args.note else "")
        + f"CPU: {cpu.model_name}, kind {cpu.kind} ({', '.join(cpu.found)}). "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other work (load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after), Python "
        f"{platform.python_version()}, embedlab {embedlab.__version__}. Model all-MiniLM-L6-v2 from "
        "the same local folder for every system; one compute thread per server; single-sentence "
        f"requests ({TEXTS[args.texts]}), `encoding_format: float`, {WARMUP_S:g} s warm-up then {args.duration:g} s per "
        "level, clients on keep-alive connections on 127.0.0.1. Library and server alternate "
        "(library, server levels, library, ...); each round's share compares the server's "
        "sentences/s with the mean of the library runs just before and after it; the row shows "
        "the round with the median share. `CPU us` is the server process's CPU time (all "
        "threads) per request, against the library's per sentence: steadier than the wall "
        "clock on a shared machine.\n\n"
        + table
        + ("\n\n" + infinity_note if infinity_note else "")
        + "\n"
    )
    RESULTS.write_text(report + ("\n" + previous if previous else ""), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
