"""TransformerEmbedder against sentence-transformers on the real MiniLM and mpnet weights."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import embedlab
from embedlab import catalogue
from embedlab.embedders.transformers.batching import Encoded
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.errors import (
    EmbedlabError,
    InputError,
    InputTooLongError,
    ModelFormatError,
    TruncationWarning,
    UnknownModelError,
)

# ~380 wordpieces: longer than MiniLM's 256 and mpnet's 384 limits once repeated
LONG_TEXT = " ".join(
    [
        "Version control lets a team work on the same codebase without overwriting each other,",
        "and unit tests catch regressions before the software reaches users.",
    ]
    * 12
)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on this shared 2-core machine two are often several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def minilm_reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(catalogue.minilm_path()), device="cpu")


def test_minilm_matches_sentence_transformers(
    minilm: TransformerEmbedder, minilm_reference, sample_texts: list[str]
) -> None:
    texts = [*sample_texts[:8], LONG_TEXT, "  padded with spaces  ", "Ünïcödé — naïve café 🎉"]
    assert len(minilm_reference.tokenizer(LONG_TEXT)["input_ids"]) > 300
    ours = minilm.embed(texts, batch_size=4)
    reference = minilm_reference.encode(texts, batch_size=4, convert_to_numpy=True)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    assert cosines(ours, reference).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)  # Normalize module


def test_length_sorting_keeps_input_order(minilm: TransformerEmbedder) -> None:
    texts = ["Short.", LONG_TEXT, "A sentence of middling length about cooking pasta.", "Hi"]
    batched = minilm.embed(texts, batch_size=2)
    one_by_one = np.stack([minilm.embed([t])[0] for t in texts])
    assert cosines(batched, one_by_one).min() >= 0.99999


def test_mpnet_matches_sentence_transformers(sample_texts: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    folder = str(catalogue.mpnet_path())
    texts = [sample_texts[0], sample_texts[12], sample_texts[36], LONG_TEXT + " " + LONG_TEXT]
    ours = TransformerEmbedder(folder, runtime="torch")  # parity: the torch runtime
    reference = SentenceTransformer(folder, device="cpu").encode(texts, convert_to_numpy=True)
    assert ours.dim == 768 and ours.max_length == 384 and ours.pooling == "mean"
    assert cosines(ours.embed(texts), reference).min() >= 0.99999
    walk = ours.embed_tokens("I love programming.")
    assert walk.tokens == ["<s>", "i", "love", "programming", ".", "</s>"]


def test_embed_tokens_walkthrough(minilm: TransformerEmbedder, minilm_reference) -> None:
    text = "I love programming."
    walk = minilm.embed_tokens(text)
    assert walk.tokens == ["[CLS]", "i", "love", "programming", ".", "[SEP]"]
    assert walk.ids == minilm_reference.tokenizer(text)["input_ids"]
    assert [text[s:e] for s, e in walk.offsets] == ["", "I", "love", "programming", ".", ""]
    table = minilm_reference[0].auto_model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_array_equal(walk.lookup, table[walk.ids])
    assert walk.contextual.shape == (6, 384)
    assert not np.allclose(walk.contextual, walk.lookup)  # context layers changed the vectors
    np.testing.assert_allclose(walk.vector, minilm.embed([text])[0], atol=1e-6)
    assert walk.pooling.startswith("mean") and walk.notes == []


def test_contextual_vectors_depend_on_context(minilm: TransformerEmbedder) -> None:
    def bank(sentence: str) -> tuple[np.ndarray, np.ndarray]:
        walk = minilm.embed_tokens(sentence)
        i = walk.tokens.index("bank")
        return walk.contextual[i], walk.lookup[i]

    river, river_row = bank("I sat by the river bank.")
    money, money_row = bank("I opened a bank account.")
    np.testing.assert_array_equal(river_row, money_row)  # same table row before context...
    cos = float(river @ money / np.linalg.norm(river) / np.linalg.norm(money))
    assert cos < 0.9  # ...different after it (measured 0.73)
    again, _ = bank("I sat by the river bank.")
    np.testing.assert_array_equal(river, again)


def test_truncation_is_noted(minilm: TransformerEmbedder) -> None:
    walk = minilm.embed_tokens(LONG_TEXT)
    assert len(walk.tokens) == 256 and walk.tokens[-1] == "[SEP]"
    assert any("truncated to 256 tokens" in note for note in walk.notes)
    np.testing.assert_allclose(walk.vector, minilm.embed([LONG_TEXT])[0], atol=1e-6)


def truncation_warnings(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if issubclass(w.category, TruncationWarning)]


def test_embed_warns_once_when_it_truncates(minilm: TransformerEmbedder) -> None:
    long = " ".join(LONG_TEXT.split()[:20] * 30)  # 600 words, far over MiniLM's 256 tokens
    assert len(long.split()) == 600
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        vectors = minilm.embed([long, "A short sentence.", long])
    (warning,) = truncation_warnings(record)  # one per call, however many texts were cut
    message = str(warning.message)
    assert (warning.message.count, warning.message.total, warning.message.limit) == (2, 3, 256)
    assert "2 of 3 texts" in message and "cut to 256" in message
    assert "sliding_window=True" in message
    assert warning.filename == __file__  # points at the caller's embed(), not at embedlab
    np.testing.assert_allclose(vectors[0], minilm.embed(long), atol=1e-6)  # still truncated
    # "word" is one wordpiece: 254 of them + [CLS] + [SEP] fill the 256 exactly, uncut
    assert minilm.count_tokens(" ".join(["word"] * 254)) == 256
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)
        minilm.embed(["A short sentence.", " ".join(["word"] * 254)])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        minilm.embed([" ".join(["word"] * 255)])  # one token too many
    assert "the text was longer" in str(truncation_warnings(record)[0].message)


def test_sliding_window_does_not_warn() -> None:
    windowed = embedlab.load("minilm", sliding_window=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)
        assert windowed.embed([LONG_TEXT]).shape == (1, 384)


def test_public_stages_are_what_embed_runs(minilm: TransformerEmbedder) -> None:
    texts = ["Short.", LONG_TEXT, "A sentence of middling length about cooking pasta."]
    first, rest = minilm.prepare(texts[:1]), minilm.prepare(texts[1:])
    encoded = Encoded.concat([first, rest])  # two requests merged, as the server does
    assert len(encoded) == 3 and encoded.lengths[1] == 256  # cut at max_length
    assert encoded.slice(1, 3).lengths == rest.lengths
    batches = minilm.plan_batches(encoded, batch_size=2)
    assert [b.tolist() for b in batches] == [[1], [2, 0]]  # longest first, the long text alone
    one = minilm.finish(minilm.run_batch(encoded, np.array([0])))
    np.testing.assert_allclose(one, minilm.embed(texts[:1]), atol=1e-6)
    staged = minilm.finish(minilm.run(encoded, batch_size=2))
    np.testing.assert_allclose(staged, minilm.embed(texts, batch_size=2), atol=1e-6)
    assert max(minilm.prepare(texts, max_tokens=10).lengths) == 10
    with pytest.raises(InputTooLongError, match="text 1 has") as caught:
        minilm.prepare(texts, max_tokens=300, truncate=False)  # capped at max_length (256)
    assert (caught.value.index, caught.value.limit) == (1, 256) and caught.value.tokens > 300
    assert minilm.prepare(texts[:1], truncate=False).lengths == [4]


def test_options_override_the_folder_config(minilm: TransformerEmbedder) -> None:
    text = "The striker scored twice in the second half."
    cls = TransformerEmbedder(
        minilm.params["model"], pooling="cls", normalize=False, max_length=8, runtime="torch"
    )
    walk = cls.embed_tokens(text)
    assert len(walk.tokens) == 8
    np.testing.assert_allclose(walk.vector, walk.contextual[0], atol=1e-6)
    assert abs(float(np.linalg.norm(walk.vector)) - 1.0) > 0.01  # not normalised
    np.testing.assert_allclose(cls.embed(text), walk.vector, atol=1e-6)


def test_save_load_round_trip_without_the_source_folder(
    minilm: TransformerEmbedder, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "minilm-copy"
    shutil.copytree(catalogue.minilm_path(), source)
    texts = ["I love programming.", "Simmer the tomato sauce with garlic."]
    model = TransformerEmbedder(str(source))
    before = model.embed(texts)
    saved = model.save(tmp_path / "saved")
    shutil.rmtree(source)  # a saved model must not need the folder it came from
    meta = json.loads((saved / "embedlab.json").read_text())
    assert meta["method"] == "transformer" and meta["dim"] == 384
    assert not list(saved.rglob("*.bin")) and list(saved.rglob("*.safetensors"))

    loaded = embedlab.load(saved)
    assert isinstance(loaded, TransformerEmbedder)
    assert Path(loaded.params["model"]).is_relative_to(saved)
    np.testing.assert_array_equal(loaded.embed(texts), before)
    assert (loaded.pooling, loaded.normalize, loaded.max_length) == ("mean", True, 256)
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "Loading weights" not in err


def test_plain_hugging_face_folder_defaults(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(catalogue.minilm_path() / name, plain / name)
    model = embedlab.load(plain)
    assert isinstance(model, TransformerEmbedder)
    assert (model.pooling, model.normalize, model.max_length) == ("mean", False, 512)
    assert abs(float(np.linalg.norm(model.embed("I love programming."))) - 1.0) > 0.01


def test_threads_from_environment(minilm: TransformerEmbedder, monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setenv("EMBEDLAB_THREADS", "1")
    try:
        TransformerEmbedder(minilm.params["model"]).embed("hello")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setenv("EMBEDLAB_THREADS", "many")
    with pytest.raises(InputError, match="EMBEDLAB_THREADS"):
        TransformerEmbedder(minilm.params["model"]).embed("hello")


def test_errors_name_the_problem(minilm: TransformerEmbedder, tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="no model folder"):
        TransformerEmbedder(str(tmp_path / "missing")).embed("hello")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="no config.json"):
        TransformerEmbedder(str(tmp_path / "empty")).embed("hello")
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copyfile(catalogue.minilm_path() / "tokenizer.json", odd / "tokenizer.json")
    (odd / "config.json").write_text('{"model_type": "bert", "hidden_size": 8}')
    with pytest.raises(ModelFormatError, match=r"no \.safetensors weights.*never unpickles"):
        TransformerEmbedder(str(odd)).embed("hello")
    save_file({"unrelated": np.zeros(3, dtype=np.float32)}, str(odd / "model.safetensors"))
    tiny = {
        "hidden_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 8,
    }
    (odd / "config.json").write_text(json.dumps({"model_type": "bert", **tiny}))
    with pytest.raises(ModelFormatError, match="do not match its config.json"):
        TransformerEmbedder(str(odd)).embed("hello")
    (odd / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(ModelFormatError, match="transformers cannot load the model.*model_type"):
        TransformerEmbedder(str(odd)).embed("hello")
    with pytest.raises(InputError, match="text 0 is empty"):
        minilm.embed([""])
    with pytest.raises(EmbedlabError, match="empty"):
        minilm.embed_tokens("   ")
    with pytest.raises(InputError, match="pooling"):
        TransformerEmbedder(minilm.params["model"], pooling="median")
    with pytest.raises(InputError, match="more than this model takes"):
        TransformerEmbedder(minilm.params["model"], max_length=4096).embed("hello")


# -- issue 4: long-text windows, Matryoshka truncation, pooling, layers, words -------------------
def test_sliding_window_averages_window_vectors_like_sentence_transformers(
    minilm: TransformerEmbedder, minilm_reference
) -> None:
    long_text = LONG_TEXT + " " + LONG_TEXT  # ~760 wordpieces: four windows of 256 at stride 127
    windowed = TransformerEmbedder(minilm.params["model"], sliding_window=True, runtime="torch")
    pieces = windowed.windows(long_text)
    assert len(pieces) >= 4 and all(piece in long_text for piece in pieces)
    assert all(len(minilm_reference.tokenizer(p)["input_ids"]) <= 256 for p in pieces)
    assert pieces[0].startswith("Version") and long_text.endswith(pieces[-1])
    # every window starts at a word, so it tokenizes as it did inside the whole text
    assert all(long_text[long_text.index(p) - 1] == " " for p in pieces[1:])

    reference = minilm_reference.encode(pieces, convert_to_numpy=True).mean(axis=0)
    reference /= np.linalg.norm(reference)
    short = "A short sentence fits in one window."
    ours = windowed.embed([long_text, short])
    assert float(ours[0] @ reference) >= 0.99999
    truncated = minilm.embed(long_text)
    assert float(ours[0] @ truncated) < 0.999  # the window average differs from truncation
    np.testing.assert_allclose(ours[1], minilm.embed(short), atol=1e-6)  # short texts: unchanged
    assert windowed.windows(short) == [short]
    walk = windowed.embed_tokens(long_text)
    assert any(f"averages {len(pieces)} overlapping windows" in n for n in walk.notes)
    np.testing.assert_allclose(walk.vector, ours[0], atol=1e-6)
    with pytest.raises(InputError, match="window_stride"):
        TransformerEmbedder(minilm.params["model"], sliding_window=True, window_stride=300).embed(
            long_text
        )


def test_matryoshka_truncation(minilm: TransformerEmbedder, sample_texts: list[str]) -> None:
    full = minilm.embed(sample_texts[:6])
    cut = TransformerEmbedder(minilm.params["model"], truncate_dim=64, runtime="torch")
    short = cut.embed(sample_texts[:6])
    assert cut.dim == 64 and short.shape == (6, 64)
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)  # re-normalised
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(short, expected, atol=1e-5)
    raw = TransformerEmbedder(minilm.params["model"], truncate_dim=64, normalize=False)
    assert abs(float(np.linalg.norm(raw.embed("hello")[:64])) - 1) > 0.01  # not when asked not to
    with pytest.raises(InputError, match="truncate_dim 1000"):
        TransformerEmbedder(minilm.params["model"], truncate_dim=1000).embed("hello")
    with pytest.raises(InputError, match="truncate_dim must be a positive"):
        TransformerEmbedder(minilm.params["model"], truncate_dim=0)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "lasttoken"])
def test_pooling_modes_read_the_contextual_vectors(minilm: TransformerEmbedder, pooling) -> None:
    text = "The goalkeeper saved a penalty in the last minute."
    model = TransformerEmbedder(
        minilm.params["model"], pooling=pooling, normalize=False, runtime="torch"
    )
    walk = model.embed_tokens(text)
    expected = {
        "mean": walk.contextual.mean(axis=0),
        "cls": walk.contextual[0],
        "max": walk.contextual.max(axis=0),
        "lasttoken": walk.contextual[-1],
    }[pooling]
    np.testing.assert_allclose(walk.vector, expected, atol=1e-5)
    # padding in a batch with a longer text does not change any pooling
    batch = model.embed([text, LONG_TEXT], batch_size=2)
    np.testing.assert_allclose(batch[0], expected, atol=1e-4)


def test_every_layer_and_equal_mixing(minilm: TransformerEmbedder) -> None:
    text = "I sat by the river bank."
    states = minilm.hidden_states(text)
    assert minilm.num_layers == 6 and states.shape == (7, 9, 384)
    walk = minilm.embed_tokens(text)
    np.testing.assert_allclose(states[-1], walk.contextual, atol=1e-5)
    first = minilm.embed_tokens(text, layer=0)
    np.testing.assert_allclose(first.contextual, states[0], atol=1e-6)
    assert "embedding layer" in " ".join(first.notes)
    assert not np.allclose(states[0], states[3], atol=1e-2)  # layers really differ
    np.testing.assert_allclose(minilm.embed_tokens(text, layer=-3).contextual, states[4], atol=1e-6)
    mixed = minilm.embed_tokens(text, layer="mix")
    np.testing.assert_allclose(mixed.contextual, states.mean(axis=0), atol=1e-5)
    # a model configured with layer="mix" pools the mean of all layers
    model = TransformerEmbedder(minilm.params["model"], layer="mix", normalize=False)
    np.testing.assert_allclose(model.embed(text), states.mean(axis=0).mean(axis=0), atol=1e-5)
    features = minilm.layer_features([text, "Another sentence."])
    assert features.shape == (2, 7, 384)
    np.testing.assert_allclose(features[0], states.mean(axis=1), atol=1e-5)
    with pytest.raises(InputError, match="layer 7 does not exist"):
        minilm.embed_tokens(text, layer=7)
    with pytest.raises(InputError, match="unknown layer"):
        TransformerEmbedder(minilm.params["model"], layer="top")


def test_word_vectors_merge_subwords(minilm: TransformerEmbedder) -> None:
    text = "Embeddings are unbelievably useful."
    words = minilm.embed_words(text)
    assert words.words == ["Embeddings", "are", "unbelievably", "useful", "."]
    walk = minilm.embed_tokens(text)
    group = words.token_indices[2]
    assert len(group) > 1 and "".join(walk.tokens[i] for i in group).replace("#", "") == (
        "unbelievably"
    )
    np.testing.assert_allclose(words.vector("UNBELIEVABLY"), walk.contextual[group].mean(0))
    assert [text[a:b] for a, b in words.spans] == words.words
    with pytest.raises(InputError, match="not a word"):
        words.vector("bank")


def test_bank_in_context(minilm: TransformerEmbedder) -> None:
    from embedlab.embedders.transformers.context import compare_contexts

    river, money = "I sat by the river bank.", "I opened a Bank account."
    result = compare_contexts(minilm, "bank", [river, money, river])
    assert [c.tokens for c in result.contexts] == [["bank"]] * 3
    assert result.similarity[0, 1] < 0.9  # measured 0.73
    assert result.similarity[0, 2] == pytest.approx(1.0, abs=1e-6)  # same context, same vector
    assert result.lookup_similarity == pytest.approx(1.0)  # one table row for every "bank"
    assert result.most_different()[:2] in ((0, 1), (1, 2))
    layers = result.layer_similarity
    assert len(layers) == 7 and layers[0] > layers[-1]  # context builds up through the layers
    with pytest.raises(InputError, match="does not occur in text 2"):
        compare_contexts(minilm, "bank", [river, "No such word here."])
    with pytest.raises(InputError, match="at least two texts"):
        compare_contexts(minilm, "bank", [river])


def test_runtime_options_are_checked(minilm: TransformerEmbedder) -> None:
    with pytest.raises(InputError, match="unknown runtime"):
        TransformerEmbedder(minilm.params["model"], runtime="gpu")
    with pytest.raises(InputError, match="torch runtime"):
        TransformerEmbedder(minilm.params["model"], runtime="onnx", layer="mix")
    with pytest.raises(InputError, match="threads must be"):
        TransformerEmbedder(minilm.params["model"], threads=0)
    assert minilm.count_tokens(LONG_TEXT) > 300  # counts past the model's limit


def test_encoder_decoder_models_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "t5"
    folder.mkdir()
    shutil.copyfile(catalogue.minilm_path() / "tokenizer.json", folder / "tokenizer.json")
    config = {"model_type": "t5", "is_encoder_decoder": True, "d_model": 8, "num_heads": 2}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match="encoder-decoder model"):
        embedlab.load(folder).embed("hello")


def test_a_call_of_one_text_is_padded_to_a_multiple_of_8_with_the_same_vector(
    minilm: TransformerEmbedder,
) -> None:
    texts = ["A bank by the river bend.", "Rates rose.", "The central bank raised interest rates."]
    encoded = minilm.prepare(texts)
    assert encoded.lengths[0] % 8 != 0  # so the padding shows
    feed = minilm._pad(encoded.features, np.array([0]), width_step=8)
    width = feed["input_ids"].shape[1]
    assert width % 8 == 0 and width > encoded.lengths[0]
    assert feed["attention_mask"].sum() == encoded.lengths[0]  # the padding is masked
    one = minilm.run_batch(encoded, np.array([0]))[0]
    three = minilm.run_batch(encoded, np.arange(3))[0]  # three rows: padded to the longest only
    assert float(one @ three / np.linalg.norm(one) / np.linalg.norm(three)) > 0.9999
    np.testing.assert_allclose(minilm.embed(texts[:1])[0], one, atol=1e-5)
