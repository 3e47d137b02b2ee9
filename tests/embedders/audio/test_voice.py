"""The voice and mfcc embedders on real speech: espeak-ng clips of three voices, two sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.eval.media import SENTENCES, VOICES, precision_at_k, synthesise_speech

soundfile = pytest.importorskip("soundfile")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    return synthesise_speech(tmp_path_factory.mktemp("speech"), VOICES[:3], SENTENCES[:2])


@pytest.fixture(scope="module")
def voice() -> embedlab.Embedder:
    return embedlab.load("voice", threads=1)


def _same_and_other(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    sims = vectors @ vectors.T
    same = np.equal.outer(labels, labels)
    off = ~np.eye(len(labels), dtype=bool)
    return sims[same & off], sims[~same]


def test_the_same_voice_is_closer_than_other_voices(voice, clips) -> None:
    vectors = voice.embed([str(p) for p, _ in clips])
    assert vectors.shape == (6, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    same, other = _same_and_other(vectors, [v for _, v in clips])
    assert same.min() > other.max(), (same, other)
    assert precision_at_k(vectors, [v for _, v in clips], 1) == 1.0


def test_mfcc_baseline_ranks_voices_but_less_apart(voice, clips) -> None:
    mfcc = embedlab.load("mfcc")
    paths, labels = [str(p) for p, _ in clips], [v for _, v in clips]
    vectors = mfcc.embed(paths, normalize=True)
    assert vectors.shape == (6, mfcc.dim) == (6, 76)
    same, other = _same_and_other(vectors, labels)
    assert same.mean() > other.mean()
    learned_same, learned_other = _same_and_other(voice.embed(paths), labels)
    # the learned model separates voices by a wider margin than cepstral statistics
    assert learned_same.mean() - learned_other.mean() > same.mean() - other.mean()


def test_bytes_arrays_and_paths_give_the_same_vector(voice, clips) -> None:
    path = clips[0][0]
    samples, rate = soundfile.read(path, dtype="float32")
    stereo = np.stack([samples, samples], axis=1)
    from_path = voice.embed(str(path))
    assert from_path.shape == (256,)
    assert np.allclose(voice.embed(path.read_bytes()), from_path, atol=1e-6)
    assert np.allclose(voice.embed(path), from_path, atol=1e-6)  # a Path object
    # an array with its own rate is resampled once; two equal channels are averaged to mono
    assert float(voice.embed((stereo, rate)) @ from_path) > 0.999


def test_the_walkthrough_shows_the_windows(voice, clips) -> None:
    steps = voice.embed_tokens(str(clips[0][0]))
    assert len(steps.tokens) >= 2 and steps.tokens[0].startswith("0.00-1.60")
    assert steps.lookup.shape == (len(steps.tokens), 256)
    mean = steps.lookup.mean(axis=0)
    assert np.allclose(mean / np.linalg.norm(mean), steps.vector, atol=1e-6)
    assert np.allclose(steps.vector, voice.embed(str(clips[0][0])), atol=1e-5)
    assert "windows of 1.6 s" in steps.notes[0]


def test_save_and_load_keep_the_options(voice, clips, tmp_path: Path) -> None:
    model = embedlab.load("voice", rate=2.0, threads=1)
    model.save(tmp_path / "v")
    again = embedlab.load(str(tmp_path / "v"))
    assert again.method == "voice" and again.params["rate"] == 2.0
    path = str(clips[1][0])
    assert np.allclose(again.embed(path), model.embed(path), atol=1e-6)
