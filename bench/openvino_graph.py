"""Is another OpenVINO graph or CPU-plugin setting faster than embedlab's, at the same fidelity?

embedlab's ``openvino-bf16`` and ``openvino-int8`` runtimes compile a plain ONNX export of the
model. Issue 15 wants ``auto`` at >= 6x sentence-transformers (MiniLM) and >= 5x (mpnet) per
CPU-second on AMX machines, so this bench tries, against the current runtimes, in one process:

- ``pt-sdpa``: ``openvino.convert_model`` straight from the PyTorch model (the same mean pooling
  and L2 normalisation as the export), which emits OpenVINO's fused ScaledDotProductAttention op;
  for BERT with ``attn_implementation="sdpa"`` and ``"eager"`` (``pt-eager``); MPNet has eager
  attention only (its relative-position bias), so ``pt-sdpa`` there patches
  ``MPNetSelfAttention.forward`` to call ``torch.nn.functional.scaled_dot_product_attention``
  with the bias added to the mask (the bench's own patch, nothing in ``src/`` changes);
- ``onnx-sdpa``: the plain ONNX export traced with SDPA attention, as embedlab made it before
  tracing eager attention (PLAIN_RECIPE 2);
- ``static/N``: the pt-sdpa graph reshaped to batch 32 x tokens rounded up to a multiple of N,
  one compiled model per bucket (short batches padded with copies of their first row);
- ``w8 dqG``: int8 weights (``nncf.compress_weights``, INT8_ASYM) with the CPU plugin's
  ``DYNAMIC_QUANTIZATION_GROUP_SIZE=G`` (0: off; activations quantized on the fly otherwise);
- ``nosnippets``: ``SNIPPETS_MODE=DISABLE``, so the CPU plugin runs attention as plain
  MatMul / Softmax nodes instead of its fused MHA "Subgraph" kernel;
- ``qkv``: Q, K and V projections fused into one Linear before conversion;
- ``nncf-int8 kept`` / ``ffn-out kept`` / ``linear``: NNCF post-training int8 of the pt-sdpa
  graph, calibrated on embedlab's own WordNet texts as openvino-int8 is (``--calibration N``:
  N STS-B train sentences instead); ``kept`` leaves attention (the SDPA op, or eager
  attention's activation-by-activation MatMuls) and the output projections in bf16 as
  embedlab's quantize.py does, ``ffn-out kept`` attention and the feed-forward output only,
  ``linear`` attention only; ``onnx int8 kept`` is embedlab's own openvino-int8 graph.

Every graph runs bf16 (``INFERENCE_PRECISION_HINT=bf16``; ``EXECUTION_MODE_HINT`` is
PERFORMANCE by default and printed from the compiled model), one thread, embedlab's own
tokenising and length-sorted batches of 32, and is timed in alternated rounds with
sentence-transformers fp32 and the embedlab runtimes (best round kept, process CPU time).
Cosines are to sentence-transformers' fp32 vectors of STS-B test then dev sentences.

    python bench/openvino_graph.py [--models minilm mpnet] [--n 1000] [--repeats 3]

Needs ``openvino`` and ``nncf`` (in ``[dev]``). The run goes on top of
bench/results/openvino_graph.md.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from embedlab.data import calibration_texts  # noqa: E402
from embedlab.embedders.transformers.openvino.quantize import KEPT, int8_path  # noqa: E402
from encode import alternated, cpu_line, on_top  # noqa: E402
from openvino_int8 import graph_encoder, model_parser, speed_rows, sts_sentences  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "openvino_graph.md"
BATCH = 32
# NNCF ignored scope for the PyTorch-converted graphs (node names follow the module paths)
KEPT_ATTENTION = [".*attention.self/aten::matmul.*", ".*attention.attn/aten::matmul.*"]
KEPT_OUTPUTS = [".*output.dense/aten::linear/MatMul", ".*attention.attn.o/aten::linear/MatMul"]
KEPT_FFN_OUTPUT = [r".*layer\.\d+\.output\.dense/aten::linear/MatMul"]  # not attention's
# the same for the ONNX export: quantize.py's attention patterns, and the feed-forward output only
ONNX_FFN_OUT_KEPT = [*KEPT[:2], r".*layer\.\d+/output/dense/MatMul"]

Encoder = Callable[[list[str]], np.ndarray]


def config(precision: str = "bf16", **extra: Any) -> dict[str, Any]:
    """The CPU plugin settings embedlab's OpenVinoRunner uses, one thread, plus ``extra``."""
    return {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "ENABLE_CPU_PINNING": False,
        **extra,
    }


def compile_cpu(model: Any, **extra: Any) -> Any:
    import openvino as ov

    return ov.Core().compile_model(model, "CPU", config(**extra))


def _mpnet_sdpa_forward(
    self: Any,
    hidden_states: Any,
    attention_mask: Any = None,
    position_bias: Any = None,
    output_attentions: bool = False,
    **kwargs: Any,
) -> tuple[Any, ...]:
    """MPNetSelfAttention.forward with torch's fused attention: bias and mask as one float mask
    (same arithmetic: softmax(q k^T / sqrt(d) + bias + mask) v)."""
    import torch

    b, n, _ = hidden_states.shape
    heads, size = self.num_attention_heads, self.attention_head_size

    def split(x: Any) -> Any:
        return x.view(b, n, heads, size).transpose(1, 2)

    q, k, v = (
        split(self.q(hidden_states)),
        split(self.k(hidden_states)),
        split(self.v(hidden_states)),
    )
    mask = attention_mask
    if position_bias is not None:
        mask = position_bias if mask is None else position_bias + mask
    c = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    c = c.permute(0, 2, 1, 3).reshape(b, n, heads * size)
    return (self.o(c),)


class _FusedProjection:
    """Q, K and V of one attention layer as one Linear (one wider FullyConnected for the CPU
    plugin): the query module computes all three, key and value return their parts."""

    def __init__(self, q: Any, k: Any, v: Any) -> None:
        import torch

        self.weight = torch.cat([q.weight, k.weight, v.weight]).detach()
        self.bias = torch.cat([q.bias, k.bias, v.bias]).detach()
        self.parts: tuple[Any, ...] = ()

    def part(self, index: int) -> Any:
        import torch

        fused = self

        class Part(torch.nn.Module):
            def forward(self, x: Any) -> Any:
                if index == 0:
                    y = torch.nn.functional.linear(x, fused.weight, fused.bias)
                    fused.parts = tuple(y.chunk(3, dim=-1))
                return fused.parts[index]

        return Part()


def _fuse_qkv(model: Any) -> list[tuple[Any, str, Any]]:
    """Swap every attention layer's Q, K, V Linears for one fused one; what to put back."""
    import torch

    def linears(module: Any, names: tuple[str, ...]) -> bool:
        return all(isinstance(getattr(module, n, None), torch.nn.Linear) for n in names)

    undo = []
    for module in list(model.modules()):
        names = next(
            (n for n in (("query", "key", "value"), ("q", "k", "v")) if linears(module, n)), None
        )
        if names is None:
            continue
        fused = _FusedProjection(*(getattr(module, n) for n in names))
        for i, n in enumerate(names):
            undo.append((module, n, getattr(module, n)))
            setattr(module, n, fused.part(i))
    return undo


def convert(embedder: Any, attention: str, fuse_qkv: bool = False) -> Any:
    """The pooled, normalised model converted by OpenVINO from PyTorch (``attention``: sdpa or
    eager; ``fuse_qkv``: one projection for Q, K and V); dynamic batch and tokens."""
    import openvino as ov
    import torch
    from transformers.models.mpnet import modeling_mpnet

    from embedlab.embedders.transformers.pooling import pool

    model = embedder._torch_model()
    names = list(embedder._loaded().input_names)
    pooling, normalize = embedder.pooling, embedder.normalize
    patched = None
    if model.config.model_type == "mpnet":
        if attention == "sdpa":
            patched = modeling_mpnet.MPNetSelfAttention.forward
            modeling_mpnet.MPNetSelfAttention.forward = _mpnet_sdpa_forward
    else:
        model.set_attn_implementation(attention)
    undo = _fuse_qkv(model) if fuse_qkv else []

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            named = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                named["token_type_ids"] = token_type_ids
            vectors = pool(self.model(**named).last_hidden_state, attention_mask, pooling)
            return torch.nn.functional.normalize(vectors, p=2, dim=1) if normalize else vectors

    example = {name: torch.ones(2, 9, dtype=torch.long) for name in names}
    example["input_ids"] = torch.randint(1000, 2000, (2, 9))
    example["attention_mask"][1, 6:] = 0
    try:
        with torch.no_grad():
            converted = ov.convert_model(
                Pooled().eval(),
                example_input=example,
                input=[(name, [-1, -1], ov.Type.i64) for name in names],
            )
    finally:
        if patched is not None:
            modeling_mpnet.MPNetSelfAttention.forward = patched
        for module, name, original in undo:
            setattr(module, name, original)
    return converted


def sdpa_export(embedder: Any) -> Any:
    """The plain ONNX export traced with SDPA attention (embedlab's recipe before eager), in a
    temporary folder."""
    import tempfile

    import openvino as ov

    from embedlab.embedders.transformers.onnx.export import export_graph

    folder = Path(tempfile.mkdtemp(prefix="sdpa-export-"))
    spec = embedder._export_spec("openvino")
    export_graph(embedder._torch_model(), folder, spec, attention="sdpa")
    return ov.Core().read_model(str(folder / "model.onnx"))


def op_counts(model: Any, compiled: Any) -> str:
    """SDPA / MatMul / Softmax in the graph, and what the CPU plugin made of them."""
    graph = collections.Counter(op.get_type_name() for op in model.get_ops())
    runtime = collections.Counter(
        op.get_rt_info()["layerType"].astype(str) for op in compiled.get_runtime_model().get_ops()
    )
    keys = ("ScaledDotProductAttention", "MatMul", "Softmax")
    rkeys = (
        "FullyConnected",
        "MatMul",
        "Softmax",
        "Subgraph",
        "ScaledDotProductAttention",
        "Transpose",
        "Reorder",
    )
    return (
        "graph "
        + ", ".join(f"{k} {graph[k]}" for k in keys)
        + "; compiled "
        + ", ".join(f"{k} {runtime[k]}" for k in rkeys if runtime[k])
    )


def bucketed_encoder(model: Any, embedder: Any, multiple: int) -> Encoder:
    """Static shapes: batch ``BATCH`` x tokens rounded up to ``multiple``, one compiled model per
    bucket (compiled on first use; the bench warms every bucket before timing)."""
    compiled: dict[int, Any] = {}

    def bucket(width: int) -> Any:
        if width not in compiled:
            fixed = model.clone()
            fixed.reshape({port.get_any_name(): [BATCH, width] for port in fixed.inputs})
            net = compile_cpu(fixed)
            compiled[width] = (net.create_infer_request(), net.output(0))
        return compiled[width]

    def encode(texts: list[str]) -> np.ndarray:
        encoded = embedder.prepare(texts)
        out = np.empty((len(texts), embedder.hidden_size), dtype=np.float32)
        for rows in embedder.plan_batches(encoded, batch_size=BATCH):
            feed = embedder._pad(encoded.features, rows)
            width = feed["input_ids"].shape[1]
            target = -(-width // multiple) * multiple
            full = {}
            for name, matrix in feed.items():
                padded = np.zeros((BATCH, target), dtype=np.int64)
                padded[: len(rows), :width] = matrix
                padded[len(rows) :, :width] = matrix[0]  # filler rows: copies of the first
                full[name] = padded
            request, output = bucket(target)
            out[rows] = request.infer(full)[output][: len(rows)]
        return out

    return encode


def calibration_items(embedder: Any, texts: list[str]) -> list[dict[str, np.ndarray]]:
    encoded = embedder.prepare(texts)
    return [embedder._pad(encoded.features, r) for r in embedder.plan_batches(encoded, 8)]


def nncf_int8(
    model: Any,
    items: list[dict[str, np.ndarray]],
    kept: list[str],
    attention: list[str] = KEPT_ATTENTION,
) -> Any:
    """NNCF int8 of ``model``; attention and the MatMuls matching ``kept`` stay bf16."""
    import nncf

    patterns = attention + kept
    return nncf.quantize(
        model.clone(),
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
        ignored_scope=nncf.IgnoredScope(
            patterns=patterns, types=["ScaledDotProductAttention"], validate=False
        ),
    )


def variants(embedder: Any, calibration: list[str], only: set[str]) -> dict:
    """name -> (encoder, note) for every graph variant of this model."""
    import nncf
    import openvino as ov

    out: dict[str, tuple[Encoder, str]] = {}
    nosnip = {"SNIPPETS_MODE": "DISABLE"}

    def want(name: str) -> bool:
        return not only or name in only

    def add(name: str, model: Any, note: str = "", **extra: Any) -> None:
        if want(name):
            net = compile_cpu(model, **extra)
            counts = op_counts(model, net)
            out[name] = (graph_encoder(net, embedder), "; ".join(x for x in (counts, note) if x))

    onnx = ov.Core().read_model(str(embedder.onnx_path))
    add("onnx bf16", onnx)
    add("onnx bf16 nosnippets", onnx, **nosnip)
    if want("onnx-sdpa bf16 nosnippets"):  # the export before PLAIN_RECIPE 2: SDPA traced
        add("onnx-sdpa bf16 nosnippets", sdpa_export(embedder), **nosnip)
    start = time.perf_counter()
    sdpa = convert(embedder, "sdpa")
    mode = compile_cpu(sdpa).get_property("EXECUTION_MODE_HINT")
    add("pt-sdpa bf16", sdpa, f"convert {time.perf_counter() - start:.1f} s; mode {mode}")
    add("pt-sdpa bf16 nosnippets", sdpa, **nosnip)
    bert_like = embedder._torch_model().config.model_type != "mpnet"  # mpnet: eager only
    if bert_like and want("pt-eager bf16"):
        add("pt-eager bf16", convert(embedder, "eager"))
    if want("pt-sdpa qkv bf16") or want("pt-sdpa qkv bf16 nosnippets"):
        qkv = convert(embedder, "sdpa", fuse_qkv=True)
        add("pt-sdpa qkv bf16", qkv)
        add("pt-sdpa qkv bf16 nosnippets", qkv, **nosnip)
    for multiple in (8, 16):
        name = f"pt-sdpa static/{multiple}"
        if want(name):
            out[name] = (bucketed_encoder(sdpa, embedder, multiple), "batch 32 fixed")
    if any(want(f"pt-sdpa w8 dq{g}") for g in (0, 32, 128)):
        start = time.perf_counter()
        weights = nncf.compress_weights(sdpa.clone(), mode=nncf.CompressWeightsMode.INT8_ASYM)
        note = f"compress {time.perf_counter() - start:.0f} s"
        for group in (0, 32, 128):
            add(f"pt-sdpa w8 dq{group}", weights, note, DYNAMIC_QUANTIZATION_GROUP_SIZE=group)
    items = None
    for name, kept in (
        ("nncf-int8 kept", KEPT_OUTPUTS),
        ("nncf-int8 ffn-out kept", KEPT_FFN_OUTPUT),
        ("nncf-int8 linear", []),
    ):
        if want(f"pt-sdpa {name}") or want(f"pt-sdpa {name} nosnippets"):
            items = items or calibration_items(embedder, calibration)
            start = time.perf_counter()
            quantized = nncf_int8(sdpa, items, kept)
            seconds = time.perf_counter() - start
            fq = sum(op.get_type_name() == "FakeQuantize" for op in quantized.get_ops())
            note = f"quantize {seconds:.0f} s; {fq} FakeQuantize"
            if name == "nncf-int8 kept":
                add(f"pt-sdpa {name}", quantized, note)
            add(f"pt-sdpa {name} nosnippets", quantized, note, **nosnip)
    if want("onnx nncf-int8 ffn-out kept nosnippets"):
        items = items or calibration_items(embedder, calibration)
        start = time.perf_counter()
        quantized = nncf_int8(onnx, items, ONNX_FFN_OUT_KEPT, attention=[])
        note = f"quantize {time.perf_counter() - start:.0f} s"
        add("onnx nncf-int8 ffn-out kept nosnippets", quantized, note, **nosnip)
    int8 = int8_path(embedder.onnx_path)
    if int8.is_file():  # embedlab's openvino-int8 graph (NNCF of the ONNX export), if made
        embedlab_int8 = ov.Core().read_model(str(int8))
        add("onnx int8 kept", embedlab_int8, int8.name)
        add("onnx int8 kept nosnippets", embedlab_int8, int8.name, **nosnip)
    return out


def run_model(
    model_name: str, n: int, calibration: int, repeats: int, only: set[str]
) -> list[dict]:
    import torch
    from sentence_transformers import SentenceTransformer

    import embedlab
    from embedlab import catalogue

    torch.set_num_threads(1)
    texts = (sts_sentences("test") + sts_sentences("dev"))[:n]
    calib = sts_sentences("train")[:calibration] if calibration else calibration_texts()
    st = SentenceTransformer(str(catalogue.find(model_name).path()), device="cpu")
    embedder = embedlab.load(model_name, runtime="openvino", threads=1)
    embedder.embed(["warm up"])
    encoders: dict[str, Encoder] = {
        "sentence-transformers": lambda t: st.encode(t, batch_size=BATCH, convert_to_numpy=True)
    }
    runtimes = ["openvino-bf16"] + (["openvino-int8"] if model_name == "mpnet" else [])
    for runtime in runtimes:
        if not only or f"embedlab {runtime}" in only:
            ours = embedlab.load(model_name, runtime=runtime, threads=1)
            ours.embed(["warm up"])  # exports (and quantizes) now, untimed
            encoders[f"embedlab {runtime}"] = lambda t, m=ours: m.embed(t, batch_size=BATCH)
    notes: dict[str, str] = {}
    for name, (encode, note) in variants(embedder, calib, only).items():
        encoders[name] = encode
        notes[name] = note
        if "static" in name:
            encode(texts)  # compile every bucket before timing
        print(f"{model_name} {name}: {note}", flush=True)
    timings = both_orders(encoders, texts, repeats)
    # auto's runtime today: openvino-int8 for wide models (mpnet), openvino-bf16 otherwise
    now = "embedlab " + runtimes[-1]
    current = timings.get(now, {}).get("cpu")
    rows = speed_rows(model_name, timings, len(texts))
    for r in rows:
        cpu = timings[r["variant"]]["cpu"]
        r["x_now"] = current / cpu if current else math.nan
        r["note"] = notes.get(r["variant"], "")
        print(
            f"{model_name:7s} {r['variant']:26s} {r['per_cpu_s']:7.1f}/CPU-s x{r['x_st']:.2f} ST "
            f"x{r['x_now']:.2f} now cos {r['mean_cos']:.5f}/{r['min_cos']:.5f}",
            flush=True,
        )
    return rows


def profile(model_name: str, n: int) -> list[dict]:
    """Where one pass of the graph spends its time, by CPU-plugin node type (``PERF_COUNT``):
    embedlab's ONNX graph against the PyTorch-converted one, snippets on and off."""
    import openvino as ov
    import torch

    import embedlab

    torch.set_num_threads(1)
    embedder = embedlab.load(model_name, runtime="openvino", threads=1)
    embedder.embed(["warm up"])
    encoded = embedder.prepare((sts_sentences("test") + sts_sentences("dev"))[:n])
    feeds = [embedder._pad(encoded.features, r) for r in embedder.plan_batches(encoded, BATCH)]
    graphs = {
        "onnx": ov.Core().read_model(str(embedder.onnx_path)),
        "pt-sdpa": convert(embedder, "sdpa"),
    }
    rows = []
    for label, model in graphs.items():
        for snippets in ("ENABLE", "DISABLE"):
            request = compile_cpu(
                model, PERF_COUNT=True, SNIPPETS_MODE=snippets
            ).create_infer_request()
            request.infer(feeds[0])
            spent: collections.Counter[str] = collections.Counter()
            cpu = time.process_time()
            for feed in feeds:
                request.infer(feed)
                for node in request.profiling_info:
                    spent[node.node_type] += node.real_time.total_seconds()
            cpu = time.process_time() - cpu
            total = sum(spent.values())
            top = ", ".join(f"{k} {v / total:.0%}" for k, v in spent.most_common(7))
            rows.append(
                {
                    "model": model_name,
                    "graph": label,
                    "snippets": snippets,
                    "per_cpu_s": len(encoded) / cpu,
                    "top": top,
                }
            )
            print(rows[-1], flush=True)
    return rows


def both_orders(encoders: dict[str, Encoder], texts: list[str], repeats: int) -> dict[str, dict]:
    """Alternated rounds (bench/encode.py), half of them in reverse order, best of all kept: so
    no encoder always runs right after sentence-transformers (on this shared machine the same
    graph measured up to 7% apart by its place in the round)."""
    first = alternated(encoders, texts, (repeats + 1) // 2)
    if repeats < 2:
        return first
    second = alternated(dict(reversed(list(encoders.items()))), texts, repeats // 2)
    return {
        name: min(first[name], second[name], key=lambda timing: timing["cpu"]) for name in encoders
    }


def write(rows: list[dict], args: argparse.Namespace, profiled: list[dict]) -> str:
    load = os.getloadavg()
    lines = [
        f"# OpenVINO graphs and CPU-plugin settings ({time.strftime('%Y-%m-%d %H:%M')} UTC)",
        "",
        "`python bench/openvino_graph.py " + shlex.join(sys.argv[1:]) + "`",
        "",
        f"CPU: {cpu_line()}; {os.cpu_count()} cores shared with other work (load average at "
        f"the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}). One thread, length-sorted "
        f"batches of 32, best of {args.repeats} alternated rounds (half in reverse order), "
        "sentences per CPU-second of "
        "this process; `x now` is the ratio to the embedlab runtime auto picks today "
        "(openvino-bf16 for MiniLM, openvino-int8 for mpnet) in the same rounds. "
        "Scored on STS-B test then dev sentences, cosine to sentence-transformers fp32; "
        "NNCF calibration: "
        + (
            f"{args.calibration} STS-B train sentences."
            if args.calibration
            else "embedlab's own (256 WordNet texts, as openvino-int8)."
        ),
        "",
        "| model | variant | sentences | sentences/CPU-s | x ST (CPU) | x now | mean cos "
        "| min cos | passes auto's gate | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gate = "yes" if r["mean_cos"] >= 0.99 and r["min_cos"] >= 0.97 else "no"
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['sentences']:,} | {r['per_cpu_s']:.0f} | "
            f"{r['x_st']:.2f}x | {r['x_now']:.2f}x | {r['mean_cos']:.5f} | {r['min_cos']:.5f} "
            f"| {gate} | {r['note']} |"
        )
    if profiled:
        lines += [
            "",
            "Profile (`--profile`, one pass of the graph alone, with PERF_COUNT on, so slower than "
            "above; share of the plugin's per-node time by node type):",
            "",
            "| model | graph | snippets | sentences/CPU-s | time by node type |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['graph']} | {r['snippets']} | {r['per_cpu_s']:.0f} | {r['top']} |"
            for r in profiled
        ]
    return on_top(Path(args.out), "\n".join(lines) + "\n")


def main() -> None:
    parser = model_parser(__doc__ or "")
    parser.add_argument(
        "--calibration",
        type=int,
        default=0,
        help="NNCF calibration: this many STS-B train sentences (0: embedlab's own WordNet texts)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=[], help="variant names to run (default all)")
    parser.add_argument("--profile", action="store_true", help="add per-node-type profiles")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    print(f"CPU: {cpu_line()}", flush=True)
    only = set(args.only)
    rows = [
        row
        for model in args.models
        for row in run_model(model, args.n, args.calibration, args.repeats, only)
    ]
    profiled = [r for model in args.models for r in profile(model, args.n)] if args.profile else []
    print(write(rows, args, profiled))


if __name__ == "__main__":
    main()
