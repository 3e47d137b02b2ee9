"""The ONNX runtimes against the torch path, the export cache, batching and thread settings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab import threads
from embedlab.embedders.transformers.batching import batches_by_cost
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.embedders.transformers.onnx.cache import exported_model, list_exports
from embedlab.embedders.transformers.onnx.export import ExportSpec, export_graph
from embedlab.embedders.transformers.onnx.quantize import (
    DEFAULT_KEEP_FP32,
    fp32_nodes,
    operator_counts,
)
from embedlab.embedders.transformers.onnx.runner import OnnxRunner
from embedlab.embedders.transformers.switch import with_runtime
from embedlab.errors import InputError


@pytest.fixture(scope="module")
def onnx_home(tmp_path_factory: pytest.TempPathFactory):
    """A private cache home, so the test sees its own exports being made (and reused)."""
    home = tmp_path_factory.mktemp("embedlab-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def texts() -> list[str]:
    from embedlab.eval.datasets import sts_benchmark

    pairs = sts_benchmark("dev")[:60]
    long = " ".join(a for a, _, _ in pairs[:30])  # longer than 256 tokens: truncated
    return [a for a, _, _ in pairs] + [b for _, b, _ in pairs] + [long]


@pytest.fixture(scope="module")
def torch_vectors(minilm: TransformerEmbedder, texts: list[str]) -> np.ndarray:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return minilm.embed(texts)
    finally:
        torch.set_num_threads(before)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_onnx_fp32_matches_torch(onnx_home: Path, texts: list[str], torch_vectors) -> None:
    model = embedlab.load("minilm", runtime="onnx")
    vectors = model.embed(texts, batch_size=16)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert cosines(vectors, torch_vectors).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # in the graph
    assert model.onnx_path.is_relative_to(onnx_home / "onnx")
    info = json.loads((model.onnx_path.parent / "export.json").read_text())
    assert info["pooling"] == "mean" and info["normalize"] and not info["quantized"]
    assert info["check_min_cosine"] >= 0.9999


def test_onnx_int8_is_close_to_torch(onnx_home: Path, texts: list[str], torch_vectors) -> None:
    model = embedlab.load("minilm", runtime="onnx-int8", threads=1)
    vectors = model.embed(texts)
    cos = cosines(vectors, torch_vectors)
    assert cos.mean() >= 0.98 and cos.min() >= 0.95  # measured: mean 0.992
    fp32 = embedlab.load("minilm", runtime="onnx").onnx_path
    assert model.onnx_path.stat().st_size < fp32.stat().st_size / 2  # int8 weights
    info = json.loads((model.onnx_path.parent / "export.json").read_text())
    assert info["quantized"] and info["kept_fp32"] == []  # MiniLM quantises fully
    assert model.embed_tokens("I love programming.").notes[-1].startswith("the vector comes")


def test_export_happens_once(onnx_home: Path) -> None:
    first = embedlab.load("minilm", runtime="onnx-int8")
    first.embed("warm up")
    files = sorted((onnx_home / "onnx").glob("*/model.onnx"))
    assert len(files) == 2  # fp32 and int8, nothing else (no temporary folders left)
    assert not [p for p in (onnx_home / "onnx").iterdir() if p.name.startswith(".")]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = embedlab.load("minilm", runtime="onnx-int8")
    np.testing.assert_array_equal(again.embed("warm up"), first.embed("warm up"))
    assert again.onnx_path == first.onnx_path
    assert {p: p.stat().st_mtime_ns for p in files} == stamps  # reused, not rewritten
    assert again._loaded().model is None  # the torch weights were not even loaded
    # another option that changes the graph is another cache entry
    TransformerEmbedder(first.params["model"], runtime="onnx", normalize=False).embed("warm up")
    assert len(list((onnx_home / "onnx").glob("*/model.onnx"))) == 3


def test_a_broken_cache_entry_is_rebuilt(onnx_home: Path) -> None:
    model = embedlab.load("minilm", runtime="onnx")
    path = model.onnx_path
    (path.parent / "export.json").unlink()  # as if a crash happened mid-write
    path.write_bytes(b"not a model")
    rebuilt = embedlab.load("minilm", runtime="onnx")
    assert rebuilt.onnx_path == path and (path.parent / "export.json").is_file()
    assert rebuilt.embed("hello").shape == (384,)


def test_runtime_switch_and_saved_models(onnx_home: Path, tmp_path: Path) -> None:
    model = with_runtime(embedlab.load("minilm"), "onnx")
    assert model.runtime == "onnx" and model.onnx_path is not None
    saved = model.save(tmp_path / "saved")
    assert embedlab.load(saved).runtime == "onnx"  # the runtime is saved with the model
    with pytest.raises(InputError, match="for transformer models"):
        with_runtime(embedlab.load("tfidf"), "onnx")
    assert with_runtime(embedlab.load("tfidf"), "torch").method == "tfidf"


def test_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(threads.ENV_THREADS, raising=False)
    assert threads.resolve_threads(None) == threads.DEFAULT_THREADS
    monkeypatch.setenv(threads.ENV_THREADS, "2")
    assert threads.resolve_threads(None) == 2
    assert threads.resolve_threads(1) == 1  # the argument wins
    monkeypatch.setenv(threads.ENV_THREADS, "zero")
    with pytest.raises(InputError, match="EMBEDLAB_THREADS"):
        threads.resolve_threads(None)


def test_session_threads_follow_the_setting(onnx_home: Path, monkeypatch) -> None:
    monkeypatch.setenv(threads.ENV_THREADS, "2")
    model = embedlab.load("minilm", runtime="onnx")
    model.embed("hello")
    assert model._backend().threads == 2
    model.set_params(threads=1)
    model.embed("hello")
    assert model._backend().threads == 1


def test_batches_keep_the_budget_and_cut_where_padding_costs_more_than_a_call() -> None:
    lengths = np.array([5, 40, 12, 40, 7, 100, 3])
    batches = batches_by_cost(lengths, batch_size=3, token_budget=100)
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    assert [lengths[b].tolist() for b in batches] == [[100], [40, 40], [12], [7, 5, 3]]
    for batch in batches:
        assert len(batch) * lengths[batch].max() <= 100 or len(batch) == 1
    # one long text does not pad 31 short ones to its length; equal lengths fill whole calls
    mixed = [15] * 31 + [256]
    assert [len(b) for b in batches_by_cost(mixed, 32, 8192)] == [1, 31]
    assert [len(b) for b in batches_by_cost([15] * 70, 32, 8192)] == [32, 32, 6]
    assert batches_by_cost([], 32, 8192) == []


def test_fp32_node_groups(onnx_home: Path) -> None:
    path = embedlab.load("minilm", runtime="onnx").onnx_path
    ffn_output = fp32_nodes(path, ["ffn-output"])
    assert len(ffn_output) == 6 and all("/output/dense/MatMul" in n for n in ffn_output)
    assert not any("attention" in n for n in ffn_output)
    assert len(fp32_nodes(path, ["ffn-output", "ffn-input"])) == 12
    assert DEFAULT_KEEP_FP32["mpnet"] == ("ffn-output",)
    with pytest.raises(InputError, match="keep_fp32"):
        fp32_nodes(path, ["(unclosed"])


def test_int8_graph_is_fused(onnx_home: Path, minilm: TransformerEmbedder) -> None:
    """MiniLM's attention, embeddings and GELU are onnxruntime's fused operators, in int8."""
    from embedlab.data import sample_texts

    model = embedlab.load("minilm", runtime="onnx-int8", threads=1)
    ops = operator_counts(model.onnx_path)  # the graph itself, not export.json
    assert ops.get("QAttention") == 6 and ops.get("QEmbedLayerNormalization") == 1
    assert ops.get("BiasGelu") == 6
    assert not {"Softmax", "Transpose", "MatMul", "SkipLayerNormalization"} & set(ops)
    fp32 = embedlab.load("minilm", runtime="onnx").onnx_path
    info = json.loads((fp32.parent / "export.json").read_text())
    assert info["fuse"] and info["fused"]["Attention"] == 6 and "fusion_skipped" not in info
    assert info["fused_check_min_cosine"] >= 0.9999
    texts = sample_texts()
    cos = cosines(model.embed(texts), minilm.embed(texts))
    assert cos.mean() >= 0.99 and cos.min() >= 0.98  # measured: mean 0.992, min 0.989


def test_fusion_is_part_of_the_recipe(
    onnx_home: Path, minilm: TransformerEmbedder, tmp_path: Path
) -> None:
    torch_model = minilm._torch_model()
    state = minilm._loaded()
    fused = ExportSpec(
        state.hf_folder,
        state.config.model_type,
        state.input_names,
        state.pooling,
        state.normalize,
        quantize=False,
    )
    assert fused.fuse  # the default
    plain = replace(fused, fuse=False)
    assert plain.key() != fused.key()  # another graph, another cache entry
    path = exported_model(plain, lambda: torch_model)
    ops = operator_counts(path)
    assert "Attention" not in ops and ops["MatMul"] >= 36
    info = json.loads((path.parent / "export.json").read_text())
    assert not info["fuse"] and "fused" not in info
    # a fused export traces eager attention, then gives the model back as it was
    before = torch_model.config._attn_implementation
    details = export_graph(torch_model, tmp_path, fused)
    assert torch_model.config._attn_implementation == before
    assert details["fused"]["Attention"] == 6 and details["fused_check_min_cosine"] >= 0.9999
    from embedlab.data import sample_texts

    encoded = minilm.prepare(sample_texts())
    feed = minilm._pad(encoded.features, np.arange(len(encoded)))  # one padded batch
    with_fusion = OnnxRunner(tmp_path / "model.onnx", threads=1)(feed)
    without = OnnxRunner(path, threads=1)(feed)
    assert cosines(with_fusion, without).min() >= 0.9999
    # both recipes are current: neither is reported stale
    assert all(not e.stale for e in list_exports())
