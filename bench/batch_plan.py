"""How a call's texts are cut into model calls: every 32 sorted rows (before) against least cost (now).

A transformer pads each model call to its longest text. Before, embedlab sorted a call's texts
by length and cut every ``batch_size`` rows (within the token budget), so one long text among
short ones padded them all to its length. Now :func:`~embedlab.embedders.transformers.batching.
batches_by_cost` cuts the sorted rows where a new call costs less than the padding. This bench
runs both plans on the same prepared texts, in one process, in alternated rounds (best kept),
on real text (STS Benchmark sentences; "passages" are consecutive STS-B sentences joined, cut at
the model's 256 tokens), and prints CPU time per text, the ratio, the number of model calls and
padded tokens, and the largest difference between the two plans' vectors (there should be none
beyond float noise: padding is masked).

Cases: one long passage among 31 sentences (a server batch when a document arrives with
queries); 8 passages of 40-256 tokens among 24 sentences (a retrieval mix); 32 random sentences
(what the server's batches hold under bench/serve.py's load); and 1,000 sentences in one call
(the library's own case, already sorted: the plan should cost nothing).

    python bench/batch_plan.py [--models minilm mpnet] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from encode import cpu_line, on_top, sentences  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "batch_plan.md"
BATCH = 32
Plan = Callable[[Sequence[int], int, int], list[np.ndarray]]


def every_batch_size(lengths: Sequence[int], batch_size: int, budget: int) -> list[np.ndarray]:
    """The plan before: sorted longest first, a call every ``batch_size`` rows (or the budget)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    out, start = [], 0
    while start < len(order):
        width = max(int(lengths[order[start]]), 1)
        rows = max(1, min(batch_size, budget // width))
        out.append(order[start : start + rows])
        start += rows
    return out


def cases(pool: list[str], seed: int = 0) -> dict[str, list[list[str]]]:
    """Each case: the calls to ``embed``, each a list of texts."""
    rng = random.Random(seed)

    def passage(words: int) -> str:
        start = rng.randrange(len(pool) - 40)
        text, k = "", start
        while len(text.split()) < words:
            text += pool[k] + " "
            k += 1
        return text.strip()

    return {
        "1 long passage among 31 sentences": [
            rng.sample(pool, 31) + [passage(260)] for _ in range(12)
        ],
        "8 passages (40-256 tokens) among 24 sentences": [
            rng.sample(pool, 24) + [passage(rng.randint(30, 220)) for _ in range(8)]
            for _ in range(8)
        ],
        "32 random sentences (a server batch)": [rng.sample(pool, 32) for _ in range(30)],
        "1,000 sentences in one call": [pool[:1000]],
    }


def measure(model_name: str, threads: int, rounds: int, pool: list[str]) -> list[dict]:
    import embedlab
    from embedlab.embedders.transformers.batching import DEFAULT_TOKEN_BUDGET, batches_by_cost

    model = embedlab.load(model_name, runtime="auto", threads=threads)
    hidden = model.hidden_size

    def least_cost(lengths: Sequence[int], batch_size: int, budget: int) -> list[np.ndarray]:
        return batches_by_cost(lengths, batch_size, budget, hidden_size=hidden)

    plans: dict[str, Plan] = {"before": every_batch_size, "now": least_cost}
    rows = []
    for case, calls in cases(pool).items():
        encoded = [model.prepare(texts) for texts in calls]
        n = sum(len(e) for e in encoded)

        def run(plan: Plan, encoded: list = encoded) -> np.ndarray:
            out = []
            for enc in encoded:
                vectors = np.empty((len(enc), hidden), dtype=np.float32)
                for batch in plan(enc.lengths, BATCH, DEFAULT_TOKEN_BUDGET):
                    vectors[batch] = model.run_batch(enc, batch)
                out.append(vectors)
            return np.concatenate(out)

        vectors = {name: run(plan) for name, plan in plans.items()}  # warm-up, and the vectors
        best = dict.fromkeys(plans, float("inf"))
        for k in range(rounds):
            for name in plans if k % 2 == 0 else reversed(plans):
                started = time.process_time()
                run(plans[name])
                best[name] = min(best[name], time.process_time() - started)
        shape = {}
        for name, plan in plans.items():
            batches = [plan(enc.lengths, BATCH, DEFAULT_TOKEN_BUDGET) for enc in encoded]
            padded = sum(
                len(b) * max(enc.lengths[i] for i in b)
                for enc, bs in zip(encoded, batches, strict=True)
                for b in bs
            )
            shape[name] = (sum(map(len, batches)), padded)
        real = sum(sum(enc.lengths) for enc in encoded)
        a, b = vectors["before"], vectors["now"]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        rows.append(
            {
                "model": model_name,
                "runtime": model.runtime,
                "case": case,
                "texts": n,
                "real": real,
                "before_us": 1e6 * best["before"] / n,
                "now_us": 1e6 * best["now"] / n,
                "before_shape": shape["before"],
                "now_shape": shape["now"],
                "min_cos": float(cosine.min()),
            }
        )
        print(
            f"{model_name} | {case}: before {rows[-1]['before_us']:.0f} us, now "
            f"{rows[-1]['now_us']:.0f} us a text",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "mpnet"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    pool, _ = sentences(6000)
    print(cpu_line(), flush=True)
    rows = [r for m in args.models for r in measure(m, args.threads, args.rounds, pool)]
    load = os.getloadavg()
    lines = [
        f"# Batch plans ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"`python bench/batch_plan.py --models {' '.join(args.models)} --rounds {args.rounds} "
        f"--threads {args.threads}`",
        "",
        *([f"What changed since the run below: {args.note}", ""] if args.note else []),
        f"CPU: {cpu_line()}. {platform.machine()}, {os.cpu_count()} cores shared with other work "
        f"(load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}); "
        f"{args.threads} thread(s); rows of at most {BATCH} a call; CPU time of this process, "
        f"best of {args.rounds} alternated rounds (every other round in reverse order).",
        "",
        "| model | runtime | case | texts (real tokens) | before: us a text | now: us a text | "
        "now x faster | calls before / now | padded tokens before / now | min cosine between "
        "the plans |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['runtime']} | {r['case']} | {r['texts']:,} ({r['real']:,}) | "
            f"{r['before_us']:.0f} | {r['now_us']:.0f} | {r['before_us'] / r['now_us']:.2f}x | "
            f"{r['before_shape'][0]} / {r['now_shape'][0]} | "
            f"{r['before_shape'][1]:,} / {r['now_shape'][1]:,} | {r['min_cos']:.5f} |"
        )
    print("\n" + on_top(Path(args.out), "\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
