"""A CLIP-style folder, made here with transformers' config classes: both towers in one space.

No image-text model is available offline, so the test builds a tiny CLIP (2-layer towers, 16-d
space) and its tokenizer, trains it for 120 contrastive steps (about 3 s) on real digits
captioned "zero" / "one" / "two", saves it as a user's folder would be, and loads that folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.eval.media import digits
from embedlab.media.collection import add_files, search_by_example
from embedlab.media.errors import WrongInputKindError
from embedlab.store import create_collection

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

NAMES = ("zero", "one", "two")


def tiny_clip(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3}
    for word in ("a", "photo", "of", "the", "digit", *NAMES):
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)]
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
    )
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    text = transformers.CLIPTextConfig(
        vocab_size=len(vocab),
        max_position_embeddings=16,
        num_attention_heads=2,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        **small,
    )
    vision = transformers.CLIPVisionConfig(
        image_size=32, patch_size=8, num_attention_heads=2, **small
    )
    config = transformers.CLIPConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def train_a_little(folder: Path, images: list, labels: np.ndarray, steps: int = 120) -> None:
    """Contrastive steps, through the embedder's own preprocessing: each image against the
    three class captions (CLIP's image-to-text loss, every caption in a batch distinct)."""
    clip = embedlab.load("clip", model=str(folder), threads=1)
    model = clip._loaded().train()
    pixels = torch.from_numpy(np.stack([clip._pixels(clip.decode(im)) for im in images]))
    captions = clip._tokenizer(
        [f"a photo of the digit {name}" for name in NAMES], padding=True, return_tensors="pt"
    )
    target = torch.from_numpy(labels)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    normal = torch.nn.functional.normalize
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            pick = torch.from_numpy(rng.choice(len(images), 30, replace=False))
            seen = normal(model.get_image_features(pixel_values=pixels[pick]).pooler_output, dim=-1)
            said = normal(model.get_text_features(**captions).pooler_output, dim=-1)
            logits = model.logit_scale.exp() * seen @ said.T
            loss = torch.nn.functional.cross_entropy(logits, target[pick])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(before)
    model.eval().save_pretrained(folder)


@pytest.fixture(scope="module")
def data() -> tuple[list, np.ndarray]:
    images, labels = digits()
    keep = np.flatnonzero(labels < 3)[:240]
    return [images[i] for i in keep], labels[keep]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, data) -> Path:
    images, labels = data
    path = tmp_path_factory.mktemp("tiny-clip")
    tiny_clip(path)
    train_a_little(path, images[:180], labels[:180])
    return path


def test_both_towers_embed_into_one_normalised_space(folder: Path, data) -> None:
    images, _ = data
    model = embedlab.load("clip", model=str(folder), threads=1)
    assert model.input_kind == "image" and model.dim == 16 and model.name == f"clip:{folder.name}"
    pictures = model.embed(images[:5])
    words = model.embed_texts(["a photo of the digit one", "zero"])
    assert pictures.shape == (5, 16) and words.shape == (2, 16)
    assert np.allclose(np.linalg.norm(pictures, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(words, axis=1), 1, atol=1e-5)
    assert model.embed(images[0]).shape == (16,)
    # queries: a text goes to the text tower, a picture to the image tower
    assert np.allclose(model.embed_queries("zero"), words[1], atol=1e-6)
    assert np.allclose(model.embed_queries([images[0]]), pictures[:1], atol=1e-6)
    with pytest.raises(WrongInputKindError, match="not text"):
        model.embed("a photo of the digit one")


def test_a_text_query_finds_pictures_of_its_class(folder: Path, data, tmp_path: Path) -> None:
    images, labels = data
    model = embedlab.load("clip", model=str(folder), threads=1)
    held_out, held_labels = images[180:], labels[180:]
    files = []
    for i, image in enumerate(held_out):
        path = tmp_path / f"{i}.png"
        Image.fromarray((image * 255).astype(np.uint8)).save(path)
        files.append(path)
    collection = create_collection(tmp_path / "pictures", model=model)
    add_files(collection, files, metadatas=[{"digit": int(c)} for c in held_labels])
    hits_per_class = []
    for c, name in enumerate(NAMES):
        hits = collection.search(f"a photo of the digit {name}", k=10)
        hits_per_class.append(np.mean([h.metadata["digit"] == c for h in hits]))
    assert np.mean(hits_per_class) > 0.6, hits_per_class  # chance is 1/3
    by_example = search_by_example(collection, str(files[0]), k=1)
    assert by_example[0].text == str(files[0].resolve())
    collection.close()


def test_save_and_load_a_clip_model(folder: Path, data, tmp_path: Path) -> None:
    images, _ = data
    model = embedlab.load("clip", model=str(folder), threads=1)
    saved = model.save(tmp_path / "saved")
    again = embedlab.load(str(saved))
    assert again.method == "clip" and again.name == model.name
    assert np.allclose(again.embed(images[:3]), model.embed(images[:3]), atol=1e-6)
    assert np.allclose(again.embed_texts(["two"]), model.embed_texts(["two"]), atol=1e-6)


def test_a_clip_folder_loads_by_its_path_and_by_a_spec(folder: Path, data) -> None:
    """load(folder) reads config.json's model_type: a CLIP folder is the clip method, not a
    text transformer; "clip:/path" is the same model."""
    images, _ = data
    by_path = embedlab.load(str(folder), threads=1)
    by_spec = embedlab.load(f"clip:{folder}", threads=1)
    assert by_path.method == by_spec.method == "clip" and by_path.input_kind == "image"
    assert np.allclose(by_path.embed(images[:2]), by_spec.embed(images[:2]), atol=1e-6)


def test_a_text_only_folder_is_refused(tmp_path: Path) -> None:
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    transformers.BertModel(config).save_pretrained(tmp_path / "bert")
    model = embedlab.load("clip", model=str(tmp_path / "bert"))
    with pytest.raises(embedlab.errors.ModelFormatError, match="no image and text towers"):
        model.embed(np.zeros((8, 8)))


def test_a_siglip_folder_embeds_both_towers_too(tmp_path: Path) -> None:
    tiny_clip(tmp_path)  # its tokenizer; the model is replaced by a SigLIP one
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    config = transformers.SiglipConfig(
        text_config=transformers.SiglipTextConfig(
            vocab_size=20, max_position_embeddings=16, num_attention_heads=2, **small
        ).to_dict(),
        vision_config=transformers.SiglipVisionConfig(
            image_size=32, patch_size=8, num_attention_heads=2, **small
        ).to_dict(),
    )
    transformers.SiglipModel(config).save_pretrained(tmp_path)
    model = embedlab.load("clip", model=str(tmp_path))
    pictures = model.embed([np.random.default_rng(0).random((20, 30, 3))])
    words = model.embed_texts(["a photo of the digit one", "zero"])
    assert pictures.shape == (1, 32) and words.shape == (2, 32)
    assert np.allclose(np.linalg.norm(np.vstack([pictures, words]), axis=1), 1, atol=1e-5)
