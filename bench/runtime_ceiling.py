"""How far can ``auto`` go on this CPU? Where a sentence's time goes, against the goal's budget.

Issue 15 asks ``auto`` for >= 6x sentence-transformers per CPU-second for MiniLM (>= 5x for
mpnet) on AMX machines. This bench splits ``auto``'s time per sentence into tokenising, batch
planning and padding, and model calls; splits the model calls by OpenVINO node type (one
profiled pass, ``PERF_COUNT``, scaled to the unprofiled time); counts the matrix products'
FLOPs (every ``nn.Linear`` of the encoder, on the padded tokens the graph computes); and times
the best bf16 matrix product this process has (torch's oneDNN on AMX, the model's own
``Linear`` shapes, one call's rows, weights hot in cache, so an upper bound; and int8 x int8
products, ``torch._int_mm``) to say what the products would cost at those rates. From these it prints the goal's budget per sentence and the
ratio ``auto`` would reach (a) with the products at that rate and everything else as now, and
(b) with the products at that rate and every other node free.

    python bench/runtime_ceiling.py [--models minilm mpnet] [--n 1000] [--repeats 3]

One thread, length-sorted batches of 32, the same STS-B sentences as bench/encode.py. The run
goes on top of bench/results/runtime_ceiling.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from encode import alternated, on_top, run_header, sentences  # noqa: E402
from openvino_graph import compile_cpu  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "runtime_ceiling.md"
BATCH = 32
GOALS = {"minilm": 6.0, "mpnet": 5.0}  # issue 15, AMX machines


def best_cpu(fn: Any, repeats: int) -> float:
    """Least process CPU seconds of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def precision_hint(precision: str) -> str:
    """The CPU plugin's name for a runner's precision ("bf16" or "fp32")."""
    from embedlab.embedders.transformers.openvino.runner import PRECISIONS

    return PRECISIONS[precision]


def node_shares(embedder: Any, feeds: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Share of the plugin's per-node time by node type, one profiled pass of ``feeds``."""
    import openvino as ov

    runner = embedder._backend()
    infer = compile_cpu(
        ov.Core().read_model(str(runner.path)),
        precision=precision_hint(runner.precision),
        PERF_COUNT=True,
        **({} if runner.fused_attention else {"SNIPPETS_MODE": "DISABLE"}),
    ).create_infer_request()
    inputs = [{name: feed[name] for name in runner.input_names} for feed in feeds]
    infer.infer(inputs[0])
    spent: collections.Counter[str] = collections.Counter()
    for feed in inputs:
        infer.infer(feed)
        for node in infer.profiling_info:
            spent[node.node_type] += node.real_time.total_seconds()
    total = sum(spent.values())
    return {kind: seconds / total for kind, seconds in spent.most_common()}


def linear_shapes(embedder: Any) -> list[tuple[int, int]]:
    """(in, out) of every ``nn.Linear`` the encoder runs per token (pooler excluded)."""
    import torch

    model = embedder._torch_model()
    return [
        (module.in_features, module.out_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and "pooler" not in name
    ]


def products_alone_s(shapes: list[tuple[int, int]], rows: int, precision: str) -> float | None:
    """CPU seconds of one call of the model's matrix products alone (an OpenVINO graph of its
    ``Linear`` shapes in order, with biases, nothing else), ``rows`` rows; None if the shapes do
    not chain. Measured directly, because PERF_COUNT's per-node times cover only part of a
    call's time (a hand check, not a bench figure: their sum was 43% of one 32-row MiniLM
    call's wall time)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    source = ops.parameter([-1, shapes[0][0]], ov.Type.f32)
    x = source
    width = shapes[0][0]
    for k, n in shapes:
        if k != width:
            return None
        weights = ops.constant((rng.standard_normal((n, k)) * 0.05).astype(np.float32))
        bias = ops.constant((rng.standard_normal(n) * 0.01).astype(np.float32))
        x = ops.add(ops.matmul(x, weights, False, True), bias)
        width = n
    model = ov.Model([x], [source])
    infer = compile_cpu(model, precision=precision_hint(precision)).create_infer_request()
    feed = {0: rng.standard_normal((rows, shapes[0][0])).astype(np.float32)}
    for _ in range(3):
        infer.infer(feed)
    calls = 20
    start = time.process_time()
    for _ in range(calls):
        infer.infer(feed)
    return (time.process_time() - start) / calls


def gemm_rates(
    shapes: list[tuple[int, int]], rows: int, int8: bool = False
) -> dict[tuple[int, int], float]:
    """Operations a second of torch's bf16 ``linear`` (``int8``: ``torch._int_mm``, int8 x int8
    to int32, no quantizing or rescaling counted) per distinct shape, ``rows`` rows, weights
    hot."""
    import torch

    rates = {}
    for k, n in sorted(set(shapes)):
        if int8:
            a = torch.randint(-100, 100, (rows, k), dtype=torch.int8)
            w = torch.randint(-100, 100, (k, n), dtype=torch.int8)
            product = torch._int_mm
        else:
            a = torch.randn(rows, k).to(torch.bfloat16)
            w = torch.randn(n, k).to(torch.bfloat16)
            product = torch.nn.functional.linear
        for _ in range(5):
            product(a, w)
        calls = 100
        start = time.process_time()
        for _ in range(calls):
            product(a, w)
        rates[(k, n)] = 2 * rows * k * n * calls / (time.process_time() - start)
    return rates


def run_model(name: str, n: int, repeats: int) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    import embedlab
    from embedlab import catalogue

    torch.set_num_threads(1)
    texts, _ = sentences(n)
    st = SentenceTransformer(str(catalogue.find(name).path()), device="cpu")
    auto = embedlab.load(name, threads=1)
    runtime = auto.runtime
    timings = alternated(
        {
            "st": lambda t: st.encode(t, batch_size=BATCH, convert_to_numpy=True),
            "auto": lambda t: auto.embed(t, batch_size=BATCH),
        },
        texts,
        repeats,
    )
    st_us = timings["st"]["cpu"] / len(texts) * 1e6
    auto_us = timings["auto"]["cpu"] / len(texts) * 1e6
    encoded = auto.prepare(texts)
    plan = auto.plan_batches(encoded, BATCH)
    feeds = [auto._pad(encoded.features, rows) for rows in plan]
    backend = auto._backend()
    tokenise = best_cpu(lambda: auto.prepare(texts), repeats) / len(texts) * 1e6
    pad = best_cpu(
        lambda: [auto._pad(encoded.features, r) for r in auto.plan_batches(encoded, BATCH)],
        repeats,
    )
    pad_us = pad / len(texts) * 1e6
    model_us = best_cpu(lambda: [backend(feed) for feed in feeds], repeats) / len(texts) * 1e6
    shares = node_shares(auto, feeds) if runtime.startswith("openvino") else {}
    fc_share = shares.get("FullyConnected", 0.0)
    padded_tokens = sum(feed["input_ids"].size for feed in feeds) / len(texts)
    shapes = linear_shapes(auto)
    flops = 2 * padded_tokens * sum(k * m for k, m in shapes)  # per sentence
    rows = int(round(padded_tokens * BATCH))
    rates = gemm_rates(shapes, rows)
    ceiling_s = 2 * padded_tokens * sum(k * m / rates[(k, m)] for k, m in shapes)
    rates8 = gemm_rates(shapes, rows, int8=True)
    ceiling8_s = 2 * padded_tokens * sum(k * m / rates8[(k, m)] for k, m in shapes)
    fc_us = model_us * fc_share
    alone = products_alone_s(shapes, rows, backend.precision) if shares else None
    alone_us = alone / BATCH * 1e6 if alone is not None else float("nan")
    rest_us = auto_us - fc_us  # tokenising, planning, padding, Python and every other node
    goal = GOALS.get(name, 6.0)
    return {
        "model": name,
        "runtime": runtime,
        "sentences": len(texts),
        "tokens": padded_tokens,
        "st_us": st_us,
        "auto_us": auto_us,
        "x_st": st_us / auto_us,
        "tokenise_us": tokenise,
        "pad_us": pad_us,
        "model_us": model_us,
        "fc_us": fc_us,
        "fc_share": fc_share,
        "alone_us": alone_us,
        "other_nodes": ", ".join(f"{k} {v:.0%}" for k, v in list(shares.items())[1:7]),
        "fc_gflops": flops / fc_us / 1e3 if fc_us else float("nan"),
        "ceiling_gflops": flops / ceiling_s / 1e9,
        "ceiling_fc_us": ceiling_s * 1e6,
        "goal": goal,
        "budget_us": st_us / goal,
        "x_fc_at_ceiling": st_us / (rest_us + ceiling_s * 1e6),
        "x_only_products": st_us / (tokenise + pad_us + ceiling_s * 1e6),
        "int8_gops": flops / ceiling8_s / 1e9,
        "x_int8_ceiling": st_us / (rest_us + ceiling8_s * 1e6),
    }


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    *heading, cpu = run_header("Runtime ceiling", "runtime_ceiling.py")
    lines = [
        *heading,
        f"{cpu} One thread, length-sorted batches of "
        f"{BATCH}, {rows[0]['sentences']:,} STS-B sentences, per CPU-second of this process, "
        f"best of {args.repeats}. Times are µs of CPU per sentence. `FC` is OpenVINO's "
        "FullyConnected nodes (the matrix products with weights), their share of the model "
        "calls from one profiled pass; `ceiling` is torch's bf16 `linear` on AMX at the model's "
        "own shapes and one call's rows, weights hot in cache (an upper bound).",
        "",
        "| model | auto runtime | padded tokens / sentence | ST | auto | x ST | tokenise | "
        "plan + pad | model calls | FC (share) | FC GFLOP/s | ceiling GFLOP/s | goal | "
        "budget | x ST, FC at ceiling | x ST, only FC at ceiling | int8 GOP/s | "
        "x ST, FC at int8 ceiling | products alone |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['runtime']} | {r['tokens']:.1f} | {r['st_us']:.0f} | "
            f"{r['auto_us']:.0f} | {r['x_st']:.2f}x | {r['tokenise_us']:.0f} | "
            f"{r['pad_us']:.0f} | {r['model_us']:.0f} | {r['fc_us']:.0f} "
            f"({r['fc_share']:.0%}) | {r['fc_gflops']:.0f} | {r['ceiling_gflops']:.0f} | "
            f"{r['goal']:.0f}x | {r['budget_us']:.0f} | {r['x_fc_at_ceiling']:.2f}x | "
            f"{r['x_only_products']:.2f}x | {r['int8_gops']:.0f} | {r['x_int8_ceiling']:.2f}x | "
            f"{r['alone_us']:.0f} |"
        )
    lines += ["", "Other node types' shares of the model calls:", ""]
    lines += [f"- {r['model']}: {r['other_nodes']}" for r in rows]
    lines += [
        "",
        "`budget` is what a sentence may cost to reach the goal; `x ST, FC at ceiling` keeps "
        "everything but the products as measured; `x ST, only FC at ceiling` also makes every "
        "other node free (only tokenising, padding and the products at the ceiling remain). "
        "`int8 GOP/s` is `torch._int_mm` at the same shapes (int8 x int8 to int32, nothing "
        "quantized or rescaled: more optimistic still), and the last column puts the products "
        "at that rate with everything else as measured. `products alone` is a graph of only "
        "the model's `Linear` layers (with biases) in bf16, at one call's rows: measured "
        "directly, it checks the FC column, which rests on PERF_COUNT's shares (for "
        "openvino-int8, whose products run in int8, it is bf16's cost, not the runtime's).",
    ]
    return on_top(Path(args.out), "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "mpnet"])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [run_model(name, args.n, args.repeats) for name in args.models]
    print(write(rows, args))


if __name__ == "__main__":
    main()
