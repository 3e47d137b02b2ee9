"""`embedlab embed` in one process against `embedlab embed --ray` on a local Ray cluster.

The input is real, repeat-free text: WordNet glosses and GCIDE dictionary paragraphs (what
`embedlab data corpus wordnet gcide` prepares), one text a line, the first ``--rows`` distinct
lines. Each way runs as its own `embedlab` command in a fresh process, back to back on this
machine, with the same model and runtime:

1. single process: ``embedlab embed corpus.txt -o single.parquet``;
2. Ray, one node, one CPU: the same cores as (1), so the ratio is Ray's overhead;
3. Ray, one node, two CPUs (two actors);
4. Ray, two nodes of one CPU each on loopback (``ray start --head`` + ``ray start --address``).

For each: wall time of the whole command (process start, model load, cluster join, actor start,
planning, embedding, writing), rows per second, rows per second per CPU, and the steady rate of
the actors (rows over the seconds they spent on shards, from the run's journal), which is what
a long job converges to. The clusters are started and ended here (their own process groups).
The vectors of every Ray run are checked against the single-process output.

    python bench/distributed.py                 # 200,000 texts, static-minilm (~10 min here)
    python bench/distributed.py --rows 339000   # all distinct lines of both corpora
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

RESULTS = Path(__file__).parent / "results" / "distributed.md"
RAY = str(Path(sys.executable).with_name("ray"))
ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "EMBEDLAB_THREADS": "1",
}


def corpus(path: Path, rows: int) -> int:
    """The first ``rows`` distinct non-empty lines of WordNet then GCIDE, written to ``path``."""
    from embedlab.text.corpora import prepare_corpus

    seen: dict[str, None] = {}
    for name in ("wordnet", "gcide"):
        prepared = prepare_corpus(name, progress=True)
        with prepared.path.open(encoding="utf-8") as handle:
            for line in handle:
                text = line.strip()
                if text:
                    seen.setdefault(text)
                if len(seen) >= rows:
                    break
        if len(seen) >= rows:
            break
    path.write_text("\n".join(seen) + "\n", encoding="utf-8")
    return len(seen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """``ray start`` daemons on loopback, each in a process group of its own, ended by id."""

    def __init__(self, nodes: list[int], temp_dir: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.groups: list[int] = []
        env = {**os.environ, **ENV}
        env.pop("RAY_ADDRESS", None)
        for index, cpus in enumerate(nodes):
            role = (
                [
                    "--head",
                    f"--port={self.port}",
                    "--include-dashboard=false",
                    f"--temp-dir={temp_dir}",
                ]
                if index == 0
                else [f"--address={self.address}"]
            )
            proc = subprocess.Popen(
                [RAY, "start", *role, "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
                 "--object-store-memory=200000000", "--disable-usage-stats",
                 f"--dashboard-agent-listen-port={free_port()}"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,
            )  # fmt: skip
            out, _ = proc.communicate(timeout=180)
            self.groups.append(proc.pid)
            if proc.returncode != 0:
                self.stop()
                raise RuntimeError(f"ray start failed:\n{out[-2000:]}")

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in self.groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, sig)
            time.sleep(3)


def run(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "embedlab.cli.main", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=1800,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stderr[-3000:]}")
    return wall, result.stderr.strip().splitlines()[-1]


def vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(path, columns=["id", "vector"])
    column = table.column("vector").combine_chunks()
    ids = np.asarray(table.column("id").to_pylist())
    order = np.argsort(ids)
    return ids[order], column.flatten().to_numpy().reshape(len(ids), -1)[order]


def steady_rate(out: Path) -> tuple[float, dict[str, int]]:
    """Rows per second per actor while on shards, and rows per node, from the journal."""
    entries = [json.loads(line) for line in (out / "_journal.jsonl").read_text().splitlines()]
    rows = sum(e["rows"] for e in entries)
    seconds = sum(e["seconds"] for e in entries)
    per_node: dict[str, int] = {}
    for e in entries:
        per_node[e["node"][:8]] = per_node.get(e["node"][:8], 0) + e["rows"]
    return rows / seconds, per_node


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--model", default="static-minilm")
    parser.add_argument("--shard-rows", type=int, default=10_000)
    args = parser.parse_args()
    flags = subprocess.run(
        "grep -o -E 'amx_[a-z0-9]+|avx512_vnni' /proc/cpuinfo | sort -u",
        shell=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        work = Path(tmp)
        source = work / "corpus.txt"
        rows = corpus(source, args.rows)
        print(f"{rows:,} distinct texts, {source.stat().st_size / 1e6:.1f} MB", flush=True)
        common = ["-m", args.model, "--no-progress"]
        single_out = work / "single.parquet"
        wall, line = run(["embed", str(source), "-o", str(single_out), *common])
        own = float(re.search(r"in ([\d.]+) s", line).group(1))  # type: ignore[union-attr]
        print(f"single process: {wall:.1f} s wall; {line}", flush=True)
        results = [("single process (`embedlab embed`)", 1, 1, 1, wall, own, rows / own, {})]
        ids, reference = vectors(single_out)
        single_out.unlink()
        for label, nodes in (
            ("Ray, 1 node, 1 CPU", [1]),
            ("Ray, 1 node, 2 CPUs", [2]),
            ("Ray, 2 nodes x 1 CPU", [1, 1]),
        ):
            cluster = LocalCluster(nodes, Path(tempfile.mkdtemp(prefix="ray", dir=work)))
            try:
                out = work / f"shards-{len(nodes)}-{sum(nodes)}"
                wall, line = run(
                    ["embed", str(source), "-o", str(out), *common,
                     "--chunk-rows", str(args.shard_rows), "--ray", cluster.address]
                )  # fmt: skip
            finally:
                cluster.stop()
            own = float(re.search(r"in ([\d.]+) s", line).group(1))  # type: ignore[union-attr]
            rate, per_node = steady_rate(out)
            got_ids, got = vectors(out)
            assert np.array_equal(got_ids, ids) and np.array_equal(got, reference), label
            print(f"{label}: {wall:.1f} s wall; {line}", flush=True)
            results.append((label, len(nodes), sum(nodes), sum(nodes), wall, own, rate, per_node))
        # The single process once more, last: how much the shared machine drifted meanwhile.
        wall, line = run(["embed", str(source), "-o", str(single_out), *common])
        own = float(re.search(r"in ([\d.]+) s", line).group(1))  # type: ignore[union-attr]
        print(f"single process again: {wall:.1f} s wall; {line}", flush=True)
        results.append(("single process, again (last)", 1, 1, 1, wall, own, rows / own, {}))
    base_wall = results[0][4] / 1  # single process, one CPU
    base_rate = results[0][6]
    table = [
        "| run | nodes | actors | wall s | rows/s (wall) | rows/s per CPU | vs single, per CPU "
        "| steady rows/s per actor | vs single, steady | rows per node |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, nodes, actors, cpus, wall, _, rate, per_node in results:
        per_cpu = rows / wall / cpus
        table.append(
            f"| {label} | {nodes} | {actors} | {wall:.1f} | {rows / wall:,.0f} | {per_cpu:,.0f} "
            f"| {per_cpu / (rows / base_wall):.2f}x | {rate:,.0f} | {rate / base_rate:.2f}x "
            f"| {', '.join(f'{v:,}' for v in per_node.values()) or '-'} |"
        )
    text = "\n".join(
        [
            "# Distributed embedding: one process vs a Ray cluster (bench/distributed.py)",
            "",
            f"{rows:,} distinct real texts (WordNet glosses, then GCIDE paragraphs), model "
            f"{args.model}, {args.shard_rows:,} rows per shard, one model thread per actor. "
            f"CPU: {cpu} ({', '.join(flags) or 'no AMX/VNNI'}), {os.cpu_count()} cores shared "
            "with other work (figures are noisy; compare only within this table). Each run is "
            "a fresh `embedlab` command; clusters are `ray start` on loopback.",
            "",
            *table,
            "",
            "- *wall*: the whole command, from process start to the summary line (model load, "
            "cluster join, actor start, planning, embedding, Parquet shards and manifest).",
            "- *steady*: rows over the seconds actors spent on shards (read, embed, write), "
            "what a long job tends to; single process: its own timing of the whole file "
            "after start.",
            "- Every Ray output was checked equal, id by id and bit for bit, to the single "
            "process output.",
            "- *1 CPU* is a Ray resource, not a reserved core: the machine's cores are shared "
            "with other jobs, so 2 actors do not get 2 free cores.",
            "",
        ]
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
