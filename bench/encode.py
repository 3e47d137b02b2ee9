"""Sentence encoding speed and fidelity: sentence-transformers against every embedlab runtime.

It first prints the CPU's features (AMX, VNNI, AVX-512, AVX2: the runtimes' speeds depend on
them, so every table names the kind of CPU it came from). The same real sentences (STS
Benchmark: every test-split sentence, then dev and train ones up to ``--n``) are then encoded
in one process by sentence-transformers (torch fp32) and by embedlab on ``auto`` and on every
runtime this CPU runs (torch, onnx, onnx-int8, openvino, openvino-bf16, openvino-int8), all with
the same number of intra-op threads and batch size 32, in alternated rounds (each round runs
every encoder once; the best round of each is kept), so a busy moment of the shared machine
does not fall on one runtime only. For each it prints sentences per second (wall clock, and per
CPU-second, which is steadier on a shared machine), the speed ratio to sentence-transformers,
the mean and minimum cosine to sentence-transformers' fp32 vectors, and the STS-B test Spearman
x100 computed from the same vectors (so no second encoding). Each runtime is warmed up first
(the one-off export and auto's check are not timed; the export's duration is read from the
export cache). A second table compares 1 and 2 threads, a third measures which MatMuls int8
must leave in fp32 (for mpnet by default).

    python bench/encode.py [--models minilm mpnet] [--n 5000] [--mpnet-n 1000] [--threads 1]
                           [--note "what changed since the last run"] [--out bench/results/encode.md]

Each run is added on top of the results file; the earlier runs stay below it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).parent / "results" / "encode.md"
RUNTIMES = ("auto", "torch", "onnx", "onnx-int8", "openvino", "openvino-bf16", "openvino-int8")


def runnable(runtimes: tuple[str, ...] = RUNTIMES) -> list[str]:
    """The runtimes this CPU runs (bf16 only where it is native)."""
    from embedlab.cpu import detect
    from embedlab.embedders.transformers.runtime import BF16_RUNTIMES

    return [r for r in runtimes if r not in BF16_RUNTIMES or detect().native_bf16]


def cpu_line() -> str:
    from embedlab.cpu import detect

    cpu = detect()
    return (
        f"{cpu.model_name or platform.processor() or platform.machine()}: kind {cpu.kind}, "
        f"features {', '.join(cpu.found) or 'none of AMX/VNNI/AVX-512/AVX2'}"
    )


def run_header(title: str, script: str) -> list[str]:
    """A results file's run heading: the title with the time, the command, and the line naming
    the CPU and the load (a bench's own settings follow it)."""
    load = os.getloadavg()
    return [
        f"# {title} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"`python bench/{script} " + " ".join(sys.argv[1:]) + "`",
        "",
        f"CPU: {cpu_line()}; {os.cpu_count()} cores shared with other work (load average at the "
        f"end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}).",
    ]


def sentences(n: int) -> tuple[list[str], list[tuple[str, str, float]]]:
    """``n`` unique STS-B sentences, test split first; and the test pairs."""
    from embedlab.eval.datasets import sts_benchmark

    test = sts_benchmark("test")
    pool = [
        s for split in ("test", "dev", "train") for a, b, _ in sts_benchmark(split) for s in (a, b)
    ]
    return list(dict.fromkeys(pool))[:n], test


def spearman(
    vectors: dict[str, np.ndarray], pairs: list[tuple[str, str, float]]
) -> tuple[float, int]:
    """STS-B test Spearman x100 over the pairs whose two sentences were encoded."""
    from scipy.stats import spearmanr

    covered = [(a, b, s) for a, b, s in pairs if a in vectors and b in vectors]
    a = np.stack([vectors[p[0]] for p in covered])
    b = np.stack([vectors[p[1]] for p in covered])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return 100 * float(spearmanr(cos, [p[2] for p in covered]).statistic), len(covered)


def timed(encode: Callable[[list[str]], np.ndarray], texts: list[str], repeats: int) -> dict:
    """Best of ``repeats`` passes, by wall clock and by this process's CPU time."""
    return alternated({"one": encode}, texts, repeats)["one"]


def alternated(
    encoders: dict[str, Callable[[list[str]], np.ndarray]], texts: list[str], repeats: int
) -> dict[str, dict]:
    """Each encoder warmed up, then ``repeats`` rounds of every encoder once; best kept."""
    for encode in encoders.values():
        encode(texts[:64])  # warm up: exports, auto's check, sessions, allocators
    out = {name: {"vectors": None, "wall": float("inf"), "cpu": float("inf")} for name in encoders}
    for _ in range(repeats):
        for name, encode in encoders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            vectors = encode(texts)
            best = out[name]
            best["wall"] = min(best["wall"], time.perf_counter() - wall)
            best["cpu"] = min(best["cpu"], time.process_time() - cpu)
            best["vectors"] = vectors
    return out


def encoders(model: str, threads: int) -> dict[str, Callable[[list[str]], np.ndarray]]:
    import torch
    from sentence_transformers import SentenceTransformer

    import embedlab
    from embedlab import catalogue

    torch.set_num_threads(threads)
    folder = str(catalogue.find(model).path())
    st = SentenceTransformer(folder, device="cpu")
    out: dict[str, Callable[[list[str]], np.ndarray]] = {
        "sentence-transformers": lambda t: st.encode(t, batch_size=32, convert_to_numpy=True)
    }
    for runtime in runnable():
        ours = embedlab.load(model, runtime=runtime, threads=threads)
        label = f"embedlab {runtime}"
        if runtime == "auto":
            label += f" ({ours.runtime})"  # checks (or reads) auto's choice now, untimed
        out[label] = lambda t, m=ours: m.embed(t, batch_size=32)
    return out


def export_seconds(model: str, runtime: str) -> float | None:
    import embedlab

    path = embedlab.load(model, runtime=runtime).onnx_path
    info = json.loads((path.parent / "export.json").read_text())
    return info.get("seconds")


def run_model(model: str, n: int, threads: int, repeats: int) -> list[dict]:
    texts, pairs = sentences(n)
    rows = []
    reference = None
    results = alternated(encoders(model, threads), texts, repeats)
    for name, result in results.items():
        vectors = result["vectors"]
        if reference is None:
            reference = vectors
        cos = (vectors * reference).sum(1) / (
            np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1)
        )
        sts, covered = spearman(dict(zip(texts, vectors, strict=True)), pairs)
        rows.append(
            {
                "model": model,
                "runtime": name,
                "sentences": len(texts),
                "threads": threads,
                "per_s": len(texts) / result["wall"],
                "per_cpu_s": len(texts) / result["cpu"],
                "mean_cos": float(cos.mean()),
                "min_cos": float(cos.min()),
                "sts": sts,
                "sts_pairs": covered,
            }
        )
        print(_line(rows[-1], rows[0]), flush=True)
    for row in rows:
        row["x_st"] = row["per_s"] / rows[0]["per_s"]
        row["x_st_cpu"] = row["per_cpu_s"] / rows[0]["per_cpu_s"]
    return rows


def thread_comparison(model: str, n: int, repeats: int) -> list[dict]:
    """sentence-transformers and int8 at 1 and 2 threads, same sentences, same process."""
    texts, _ = sentences(n)
    rows = []
    for threads in (1, 2):
        chosen = encoders(model, threads)
        for name in ("sentence-transformers", "embedlab onnx-int8"):
            result = timed(chosen[name], texts, repeats)
            rows.append(
                {
                    "runtime": name,
                    "threads": threads,
                    "per_s": len(texts) / result["wall"],
                    "per_cpu_s": len(texts) / result["cpu"],
                }
            )
            print(f"  {name:24s} threads={threads}: {rows[-1]['per_s']:7.1f}/s wall", flush=True)
    return rows


def quantization_study(model: str, n: int, threads: int) -> list[dict]:
    """Which MatMuls must stay fp32 in int8: each group kept in turn, cosine to fp32 ONNX."""
    import embedlab
    from embedlab.embedders.transformers.embedder import TransformerEmbedder

    texts, _ = sentences(n)
    folder = embedlab.load(model).params["model"]
    reference = TransformerEmbedder(folder, runtime="onnx", threads=threads).embed(texts)
    rows = []
    for groups in ([], ["ffn-output"], ["ffn-input"], ["attention-output"]):
        quantized = TransformerEmbedder(
            folder, runtime="onnx-int8", keep_fp32=groups, threads=threads
        )
        result = timed(quantized.embed, texts, 1)
        v = result["vectors"]
        cos = (v * reference).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(reference, axis=1)
        rows.append(
            {
                "fp32": ", ".join(groups) or "nothing (all int8)",
                "mean_cos": float(cos.mean()),
                "min_cos": float(cos.min()),
                "per_cpu_s": len(texts) / result["cpu"],
            }
        )
        print(f"  keep fp32: {rows[-1]['fp32']:20s} cos {cos.mean():.4f}", flush=True)
    return rows


def _line(row: dict, base: dict) -> str:
    return (
        f"{row['model']:7s} {row['runtime']:22s} {row['per_s']:7.1f}/s "
        f"x{row['per_s'] / base['per_s']:.2f} (CPU x{row['per_cpu_s'] / base['per_cpu_s']:.2f}) "
        f"cos {row['mean_cos']:.5f}/{row['min_cos']:.5f} STS {row['sts']:.2f}"
    )


def _without_note(argv: list[str]) -> list[str]:
    """The command line as run, less ``--note`` (its text is printed on its own line)."""
    out, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--note="):
            skip = False
            continue
        skip = arg == "--note"
        if not skip:
            out.append(arg)
    return out


def write(
    rows: list[dict],
    threads_rows: list[dict],
    study: list[dict],
    args: argparse.Namespace,
    exports: dict,
) -> str:
    load = os.getloadavg()
    lines = [
        f"# encode ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "`" + " ".join(["python bench/encode.py", *_without_note(args.argv)]) + "`",
        "",
        *([f"What changed since the run below: {args.note}", ""] if args.note else []),
        f"CPU: {cpu_line()}.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared "
        f"with other work (load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}); "
        f"{args.threads} intra-op thread(s) for every runtime, batch size 32. Sentences: unique "
        "STS Benchmark sentences, test split first. Speed: best of "
        f"{args.repeats} alternated round(s) after a warm-up; `CPU` is sentences per CPU-second of this "
        "process, steadier than the wall clock when other processes compete for the cores. "
        "Cosine: to sentence-transformers' vectors of the same sentences. STS-B: cosine "
        "Spearman x100 on the test pairs whose sentences were encoded.",
        "",
        "| model | runtime | sentences | sentences/s | x ST | sentences/CPU-s | x ST (CPU) "
        "| mean cos | min cos | STS-B (pairs) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['runtime']} | {r['sentences']:,} | {r['per_s']:.0f} | "
            f"{r['x_st']:.2f}x | {r['per_cpu_s']:.0f} | {r['x_st_cpu']:.2f}x | "
            f"{r['mean_cos']:.5f} | {r['min_cos']:.5f} | {r['sts']:.2f} ({r['sts_pairs']:,}) |"
        )
    if exports:
        lines += ["", "One-off export (cached afterwards; read from the cache's export.json):"]
        lines += [f"- {k}: {v:.1f} s" for k, v in exports.items() if v is not None]
    if threads_rows:
        lines += [
            "",
            f"Threads ({args.thread_model}, {args.thread_n:,} sentences, same process):",
            "",
            "| runtime | threads | sentences/s | sentences/CPU-s |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['runtime']} | {r['threads']} | {r['per_s']:.0f} | {r['per_cpu_s']:.0f} |"
            for r in threads_rows
        ]
    if study:
        lines += [
            "",
            f"int8 MatMuls kept in fp32 ({args.study_model}, {args.study_n:,} sentences; cosine "
            "to the fp32 ONNX vectors):",
            "",
            "| kept in fp32 | mean cos | min cos | sentences/CPU-s |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['fp32']} | {r['mean_cos']:.4f} | {r['min_cos']:.4f} | {r['per_cpu_s']:.0f} |"
            for r in study
        ]
    return on_top(Path(args.out), "\n".join(lines) + "\n")


def on_top(out: Path, text: str) -> str:
    """Put a run's text on top of a results file; the earlier runs stay below it."""
    earlier = out.read_text(encoding="utf-8") if out.is_file() else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + ("\n" + earlier if earlier else ""), encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "mpnet"])
    parser.add_argument("--n", type=int, default=5000, help="sentences for MiniLM")
    parser.add_argument("--mpnet-n", type=int, default=1000, help="sentences for mpnet (slow)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--thread-model", default="minilm", help="'' to skip the thread table")
    parser.add_argument("--thread-n", type=int, default=1000)
    parser.add_argument("--study-model", default="mpnet", help="'' to skip the int8 study")
    parser.add_argument("--study-n", type=int, default=300)
    parser.add_argument("--note", default="", help="what changed since the previous run")
    parser.add_argument("--out", default=str(RESULTS), help="results file; the run goes on top")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    print(f"CPU: {cpu_line()}", flush=True)
    rows: list[dict] = []
    exports: dict[str, float | None] = {}
    for model in args.models:
        n = args.mpnet_n if model == "mpnet" else args.n
        for runtime in ("onnx", "onnx-int8", "openvino"):
            exports[f"{model} {runtime}"] = export_seconds(model, runtime)  # export before timing
        rows += run_model(model, n, args.threads, args.repeats)
    threads_rows = (
        thread_comparison(args.thread_model, args.thread_n, args.repeats)
        if args.thread_model
        else []
    )
    study = (
        quantization_study(args.study_model, args.study_n, args.threads) if args.study_model else []
    )
    print(write(rows, threads_rows, study, args, exports))


if __name__ == "__main__":
    main()
