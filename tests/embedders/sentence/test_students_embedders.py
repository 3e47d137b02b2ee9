"""The DAN and BiLSTM students as Embedders: folder round trip, token walkthrough, stages.

The weights come from the students' own torch networks at their seeded initialisation (no
teacher needed here: tests/training/test_students.py trains them); the tokenizer is MiniLM's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import embedlab
from embedlab.catalogue import minilm_path
from embedlab.embedders.sentence.bilstm import BiLSTMEmbedder
from embedlab.embedders.sentence.dan import DANEmbedder
from embedlab.embedders.sentence.student import StudentEmbedder
from embedlab.embedders.sentence.tokens import tokenizer_from_folder
from embedlab.errors import ModelFormatError, NotFittedError

TEXTS = [
    "A man is playing a guitar.",
    "The central bank raised interest rates again.",
    "Kittens like to play with yarn",
    "unbelievably",
]


def _student(klass: type[StudentEmbedder], **options: object) -> StudentEmbedder:
    torch.manual_seed(0)
    student = klass(output_dim=24, **options)
    tokenizer = tokenizer_from_folder(minilm_path(), 128)
    net = student.torch_net(tokenizer.get_vocab_size())  # type: ignore[attr-defined]
    weights = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    student.set_state(tokenizer, weights, {"note": "initialised, not trained"})
    return student


@pytest.fixture(scope="module")
def dan() -> StudentEmbedder:
    return _student(DANEmbedder, dim=16, hidden=32, layers=2, bigram_buckets=64)


@pytest.fixture(scope="module")
def bilstm() -> StudentEmbedder:
    return _student(BiLSTMEmbedder, dim=16, hidden=12)


@pytest.mark.parametrize("which", ["dan", "bilstm"])
def test_save_load_round_trip_gives_equal_vectors(which, request, tmp_path: Path):
    model = request.getfixturevalue(which)
    before = model.embed(TEXTS)
    model.save(tmp_path / which)
    assert {p.name for p in (tmp_path / which).iterdir()} == {
        "embedlab.json",
        "model.safetensors",
        "tokenizer.json",
    }
    loaded = embedlab.load(tmp_path / which)
    assert type(loaded) is type(model) and loaded.dim == 24
    np.testing.assert_array_equal(loaded.embed(TEXTS), before)
    assert loaded.training == {"note": "initialised, not trained"}
    assert np.allclose(np.linalg.norm(before, axis=1), 1)  # normalised by default


def test_numpy_dan_matches_its_torch_network(dan):
    """Inference is numpy; the network trained is torch: the two must give the same vectors."""
    from embedlab.embedders.sentence.tokens import Flat

    flat = Flat.of(dan.ids(TEXTS))
    net = dan.torch_net(dan.vocab_size).eval()
    with torch.no_grad():
        expected = net(*dan.net_inputs(flat, dan.vocab_size)).numpy()
    np.testing.assert_allclose(
        dan.change_params({"normalize": False}).embed(TEXTS), expected, atol=1e-5
    )
    dan.change_params({"normalize": True})


def test_bilstm_gives_the_same_vector_alone_and_in_a_padded_batch(bilstm):
    """Packing by length: a short text beside long ones gets exactly its own vector."""
    alone = np.stack([bilstm.embed(t) for t in TEXTS])
    np.testing.assert_allclose(bilstm.embed(TEXTS), alone, atol=1e-5)


def test_dan_walkthrough_shows_subword_tokens_and_their_rows(dan):
    walk = dan.embed_tokens("Kittens like to play")
    assert walk.tokens == ["kitten", "##s", "like", "to", "play"]
    assert walk.ids == dan.tokenizer.encode("Kittens like to play", add_special_tokens=False).ids
    np.testing.assert_array_equal(walk.lookup, dan.weights["bag.weight"][walk.ids])
    np.testing.assert_allclose(walk.vector, dan.embed("Kittens like to play"), atol=1e-6)
    assert walk.contextual is None and "4 hashed bigram rows" in walk.notes[-1]


def test_bilstm_walkthrough_shows_per_token_hidden_states(bilstm):
    walk = bilstm.embed_tokens("The bank raised rates")
    assert walk.tokens == ["the", "bank", "raised", "rates"]
    assert walk.lookup.shape == (4, 16)
    assert walk.contextual is not None and walk.contextual.shape == (4, 24)  # 2 x 12 hidden
    assert np.isfinite(walk.contextual).all()
    np.testing.assert_allclose(walk.vector, bilstm.embed("The bank raised rates"), atol=1e-5)
    assert "max pooling" in walk.notes[-1]


@pytest.mark.parametrize("which", ["dan", "bilstm"])
def test_stages_give_what_embed_gives(which, request):
    model = request.getfixturevalue(which)
    prepared = model.prepare(TEXTS, max_tokens=3)
    assert prepared.lengths == [3, 3, 3, 3]
    full = model.prepare(TEXTS)
    halves = type(full).concat([full.slice(0, 2), full.slice(2, 4)])
    np.testing.assert_allclose(
        model.finish(model.run(halves, batch_size=3)), model.embed(TEXTS), atol=1e-5
    )


def test_unfitted_student_and_damaged_folder_are_refused(dan, tmp_path: Path):
    with pytest.raises(NotFittedError):
        embedlab.load("dan").embed("a text")
    dan.save(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelFormatError, match="model.safetensors"):
        embedlab.load(tmp_path / "m")
