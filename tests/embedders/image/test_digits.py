"""The image baselines and the small CNN on real images: scikit-learn's handwritten digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.eval.media import digits, image_scores, precision_at_k

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def sample() -> tuple[list[np.ndarray], np.ndarray]:
    images, labels = digits()
    return images[:600], labels[:600]


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("pixels", {}),
        ("pixels", {"components": None}),
        ("hog", {}),
        ("image-cnn", {"grey": True, "epochs": 4, "threads": 1}),
    ],
)
def test_digits_retrieve_their_class_far_above_chance(method, options, sample) -> None:
    images, labels = sample
    model = embedlab.load(method, **options)
    scores = image_scores(model, images, labels, 10)
    assert 0.08 < scores["chance"] < 0.12
    assert scores["p@10"] > 0.75, scores  # chance is 0.10


def test_fitted_models_save_and_load(sample, tmp_path: Path) -> None:
    images, labels = sample
    for model in (
        embedlab.load("pixels", components=16).fit(images[:200]),
        embedlab.load("image-cnn", grey=True, epochs=2, threads=1).fit(images[:200], labels[:200]),
    ):
        folder = model.save(tmp_path / model.method)
        assert not list(folder.glob("*.pkl"))
        again = embedlab.load(str(folder))
        assert np.allclose(again.embed(images[200:220]), model.embed(images[200:220]), atol=1e-5)


def test_the_cnn_learns(sample) -> None:
    images, labels = sample
    model = embedlab.load("image-cnn", grey=True, epochs=3, threads=1)
    with pytest.raises(embedlab.errors.NotFittedError):
        model.embed(images[0])
    model.fit(images[:300], labels[:300])
    assert model.losses[-1] < model.losses[0]
    vectors = model.embed(images[300:])
    assert vectors.shape == (300, 64)
    assert precision_at_k(vectors, labels[300:], 1) > 0.6


def test_colour_photos_as_files_and_bytes(tmp_path: Path) -> None:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    from PIL import Image

    paths = []
    for name, array in zip(photos.filenames, photos.images, strict=True):
        path = tmp_path / Path(name).name
        Image.fromarray(array).save(path)
        paths.append(path)
    model = embedlab.load("hog")
    from_files = model.embed([str(p) for p in paths])
    assert from_files.shape == (2, model.dim)
    assert np.allclose(model.embed(paths[0].read_bytes()), from_files[0], atol=1e-6)
    # a picture is closer to a slightly cropped copy of itself than to the other photo
    cropped = photos.images[0][10:-10, 10:-10]
    near = model.embed(cropped, normalize=True)
    unit = from_files / np.linalg.norm(from_files, axis=1, keepdims=True)
    assert float(near @ unit[0]) > float(near @ unit[1])
