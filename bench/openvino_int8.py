"""Would an OpenVINO int8 runtime beat openvino-bf16? NNCF's int8 recipes, measured in one process.

Issue 15 asked for OpenVINO int8 (NNCF) beside fp32 and bf16. This bench quantizes the same plain
ONNX export that embedlab's ``openvino`` runtimes compile, with NNCF's post-training
quantization (``ModelType.TRANSFORMER``, calibrated on STS-B *train* sentences, scored on
test/dev ones) and with weight-only int8, and times every variant against sentence-transformers
fp32 and embedlab's openvino / openvino-bf16 graphs on the same length-sorted batches of 32, one
thread, alternated rounds, best kept, per CPU-second. Cosines are to sentence-transformers' fp32
vectors, the gate ``auto`` applies (mean >= 0.99, min >= 0.97).

Variants:
- ``int8 all``: every MatMul int8, attention's activation-by-activation MatMuls included;
- ``int8 kept``: attention scores / context MatMuls and the output projections
  (``.../output/dense``, mpnet's ``attn/o``) left in bf16, the rest int8;
- ``int8 weights``: weight-only int8 (``nncf.compress_weights``), compute in bf16.

    python bench/openvino_int8.py [--models minilm mpnet] [--n 1000] [--calibration 200]

Needs ``nncf`` (in ``[dev]``). The run goes on top of bench/results/openvino_int8.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from encode import alternated, cpu_line, on_top, run_header  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "openvino_int8.md"
# Name patterns of the MatMuls that ``int8 kept`` leaves in bf16 (BERT and MPNet exports).
KEPT = [
    ".*attention/self/MatMul.*",  # BERT: scores and context (activation x activation)
    ".*attention/attn/MatMul.*",  # MPNet: the same
    ".*/output/dense/MatMul",  # BERT: attention output and FFN output projections
    ".*attention/attn/o/MatMul",  # MPNet: attention output projection
]


def sts_sentences(split: str) -> list[str]:
    from embedlab.eval.datasets import sts_benchmark

    return list(dict.fromkeys(s for a, b, _ in sts_benchmark(split) for s in (a, b)))


def compile_cpu(model: object, precision: str) -> object:
    import openvino as ov

    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "ENABLE_CPU_PINNING": False,
    }
    return ov.Core().compile_model(model, "CPU", config)


def graph_encoder(compiled: object, embedder: object) -> Callable[[list[str]], np.ndarray]:
    """Texts -> pooled vectors through a compiled graph, with embedlab's own tokenising,
    length-sorted batches of 32 and padding (so only the graph differs between rows)."""
    request = compiled.create_infer_request()  # type: ignore[attr-defined]
    output = compiled.output(0)  # type: ignore[attr-defined]

    def encode(texts: list[str]) -> np.ndarray:
        encoded = embedder.prepare(texts)  # type: ignore[attr-defined]
        out = np.empty((len(texts), embedder.hidden_size), dtype=np.float32)  # type: ignore[attr-defined]
        for rows in embedder.plan_batches(encoded, batch_size=32):  # type: ignore[attr-defined]
            feed = embedder._pad(encoded.features, rows)  # type: ignore[attr-defined]
            out[rows] = request.infer(feed)[output]
        return out

    return encode


def quantized_models(path: Path, embedder: object, calibration: list[str]) -> dict:
    """NNCF's variants of the ONNX graph at ``path``, with their quantization seconds."""
    import nncf
    import openvino as ov

    core = ov.Core()
    encoded = embedder.prepare(calibration)  # type: ignore[attr-defined]
    items = [
        embedder._pad(encoded.features, rows)  # type: ignore[attr-defined]
        for rows in embedder.plan_batches(encoded, batch_size=8)  # type: ignore[attr-defined]
    ]
    out = {}
    for name, ignored in (("int8 all", None), ("int8 kept", KEPT)):
        start = time.perf_counter()
        extra = {"ignored_scope": nncf.IgnoredScope(patterns=ignored, validate=False)}
        model = nncf.quantize(
            core.read_model(str(path)),
            nncf.Dataset(items),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(items),
            **(extra if ignored else {}),
        )
        out[name] = (model, time.perf_counter() - start)
    start = time.perf_counter()
    model = nncf.compress_weights(
        core.read_model(str(path)), mode=nncf.CompressWeightsMode.INT8_ASYM
    )
    out["int8 weights"] = (model, time.perf_counter() - start)
    return out


def run_model(model_name: str, n: int, calibration: int, repeats: int) -> list[dict]:
    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer

    import embedlab
    from embedlab import catalogue

    torch.set_num_threads(1)
    texts = (sts_sentences("test") + sts_sentences("dev"))[:n]
    calib = sts_sentences("train")[:calibration]
    st = SentenceTransformer(str(catalogue.find(model_name).path()), device="cpu")
    embedder = embedlab.load(model_name, runtime="openvino", threads=1)
    embedder.embed(["warm up"])
    path = embedder.onnx_path
    assert path is not None
    plain = ov.Core().read_model(str(path))
    graphs = {
        "openvino (fp32)": (compile_cpu(plain, "f32"), None),
        "openvino-bf16": (compile_cpu(plain, "bf16"), None),
    }
    for name, (model, seconds) in quantized_models(path, embedder, calib).items():
        graphs[name] = (compile_cpu(model, "bf16"), seconds)
    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        "sentence-transformers": lambda t: st.encode(t, batch_size=32, convert_to_numpy=True)
    }
    encoders.update({name: graph_encoder(c, embedder) for name, (c, _) in graphs.items()})
    timings = alternated(encoders, texts, repeats)
    rows = speed_rows(model_name, timings, len(texts))
    for row in rows:
        row["quantize_s"] = graphs.get(row["variant"], (None, None))[1]
        print(row, flush=True)
    return rows


def write(rows: list[dict], args: argparse.Namespace) -> str:
    *heading, cpu = run_header("OpenVINO int8 (NNCF) against openvino-bf16", "openvino_int8.py")
    lines = [
        *heading,
        f"{cpu} One thread, length-sorted "
        f"batches of 32, best of {args.repeats} alternated rounds, sentences per CPU-second of "
        f"this process. Calibration: {args.calibration} STS-B train sentences; scored on STS-B "
        "test then dev sentences. Cosine to sentence-transformers fp32.",
        "",
        "| model | variant | sentences | sentences/CPU-s | x ST (CPU) | mean cos | min cos "
        "| passes auto's gate | quantize s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gate = "yes" if r["mean_cos"] >= 0.99 and r["min_cos"] >= 0.97 else "no"
        seconds = f"{r['quantize_s']:.0f}" if r["quantize_s"] is not None else ""
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['sentences']:,} | {r['per_cpu_s']:.0f} | "
            f"{r['x_st']:.2f}x | {r['mean_cos']:.5f} | {r['min_cos']:.5f} | {gate} | {seconds} |"
        )
    return on_top(Path(args.out), "\n".join(lines) + "\n")


def speed_rows(model_name: str, timings: dict[str, Any], sentences: int) -> list[dict]:
    """One row per encoder: sentences per CPU-second, the ratio to sentence-transformers, and
    the mean and minimum per-sentence cosine to its fp32 vectors."""

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    reference = unit(timings["sentence-transformers"]["vectors"])
    base = timings["sentence-transformers"]["cpu"]
    rows = []
    for name, timing in timings.items():
        cos = (unit(timing["vectors"]) * reference).sum(1)
        rows.append(
            {
                "model": model_name,
                "variant": name,
                "sentences": sentences,
                "per_cpu_s": sentences / timing["cpu"],
                "x_st": base / timing["cpu"],
                "mean_cos": float(cos.mean()),
                "min_cos": float(cos.min()),
            }
        )
    return rows


def model_parser(doc: str) -> argparse.ArgumentParser:
    """The options the OpenVINO studies share (--models, --n), offline settings first."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "mpnet"])
    parser.add_argument("--n", type=int, default=1000, help="sentences timed per model")
    return parser


def main() -> None:
    parser = model_parser(__doc__ or "")
    parser.add_argument("--calibration", type=int, default=200, help="NNCF calibration sentences")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    print(f"CPU: {cpu_line()}", flush=True)
    rows = [
        row
        for model in args.models
        for row in run_model(model, args.n, args.calibration, args.repeats)
    ]
    print(write(rows, args))


if __name__ == "__main__":
    main()
