"""GPT-style embeddings from a small GPT-2 trained here, in seconds, on a real news corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.errors import InputError, OutputError
from embedlab.eval.datasets import gensim_test_file
from embedlab.training.gpt import GPTSettings, train_gpt

TINY = GPTSettings(
    layers=2, dim=32, heads=2, context=48, vocab_size=600, steps=60, batch_size=8, threads=1
)


def lee_documents(n: int = 120) -> list[str]:
    """The first ``n`` articles of gensim's Lee news corpus (a real corpus, latin-1)."""
    lines = gensim_test_file("lee_background.cor").read_text(encoding="latin-1").splitlines()
    return [line for line in lines if line.strip()][:n]


@pytest.fixture(scope="module")
def gpt_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gpt") / "tiny-gpt"
    result = train_gpt(lee_documents, folder, TINY)
    assert result.steps == TINY.steps and result.parameters > 10_000
    assert result.loss_after < result.loss_before - 0.5  # it learned something
    return folder


@pytest.fixture(scope="module")
def gpt(gpt_folder: Path) -> TransformerEmbedder:
    return embedlab.load(gpt_folder, threads=1, runtime="torch")  # the torch pipeline's parity


def test_saved_as_an_ordinary_hugging_face_folder(gpt_folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in gpt_folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "training.json"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in names)
    config = json.loads((gpt_folder / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["n_layer"] == 2
    tokenizer = AutoTokenizer.from_pretrained(gpt_folder)
    model = AutoModelForCausalLM.from_pretrained(gpt_folder)
    ids = tokenizer("The government said", return_tensors="pt")["input_ids"]
    generated = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert generated.shape[1] == ids.shape[1] + 5  # a working language model
    # byte-level BPE: any text encodes without unknown tokens
    assert tokenizer.decode(tokenizer("naïve café 🎉")["input_ids"]) == "naïve café 🎉"


def test_loads_like_any_model_with_last_token_pooling(gpt: TransformerEmbedder) -> None:
    assert gpt.is_causal and gpt.pooling == "lasttoken" and not gpt.normalize
    assert gpt.dim == 32 and gpt.max_length == 48
    texts = ["The bank raised interest rates.", "Police said the fire was deliberately lit."]
    vectors = gpt.embed(texts)
    assert vectors.shape == (2, 32) and vectors.dtype == np.float32
    walk = gpt.embed_tokens(texts[0])
    np.testing.assert_allclose(walk.vector, walk.contextual[-1], atol=1e-5)
    np.testing.assert_allclose(vectors[0], walk.contextual[-1], atol=1e-4)  # padded batch too
    mean = TransformerEmbedder(gpt.params["model"], pooling="mean", threads=1, runtime="torch")
    np.testing.assert_allclose(mean.embed(texts[0]), walk.contextual.mean(axis=0), atol=1e-5)


def test_left_to_right_a_later_token_never_changes_earlier_vectors(
    gpt: TransformerEmbedder, minilm: TransformerEmbedder
) -> None:
    a = "The bank raised its interest rates on Monday"
    b = "The bank raised its interest rates on Friday"

    def shared_prefix(model: TransformerEmbedder) -> tuple[np.ndarray, np.ndarray, int]:
        wa, wb = model.embed_tokens(a), model.embed_tokens(b)
        n = next(i for i, (x, y) in enumerate(zip(wa.tokens, wb.tokens, strict=False)) if x != y)
        return wa.contextual, wb.contextual, n

    ca, cb, n = shared_prefix(gpt)
    assert n >= 6
    np.testing.assert_allclose(ca[:n], cb[:n], atol=1e-5)  # GPT: earlier tokens unchanged
    assert np.abs(ca[n] - cb[n]).max() > 1e-3  # the changed token itself differs
    assert not np.allclose(gpt.embed(a), gpt.embed(b), atol=1e-3)  # and so does the text vector

    ba, bb, m = shared_prefix(minilm)  # BERT reads both ways: the same edit reaches back
    assert np.abs(ba[1:m] - bb[1:m]).max() > 1e-3


def test_save_load_round_trip(gpt: TransformerEmbedder, tmp_path: Path) -> None:
    text = "The minister said the talks would continue."
    saved = gpt.save(tmp_path / "saved-gpt")
    loaded = embedlab.load(saved)
    assert loaded.pooling == "lasttoken"
    np.testing.assert_allclose(loaded.embed(text), gpt.embed(text), atol=1e-6)


def test_training_errors(tmp_path: Path, gpt_folder: Path) -> None:
    with pytest.raises(OutputError, match="already exists"):
        train_gpt(lee_documents, gpt_folder, TINY)
    with pytest.raises(InputError, match="multiple of heads"):
        train_gpt(lee_documents, tmp_path / "x", GPTSettings(dim=30, heads=4))
    with pytest.raises(InputError, match="too few"):
        train_gpt(["A single short sentence."], tmp_path / "y", TINY)
    assert not (tmp_path / "y").exists()  # nothing half-written
