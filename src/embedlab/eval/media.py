"""Evaluation of audio and image embedders on real data: speakers and digits.

- **speakers**: clips of several voices (Debian's ``espeak-ng`` voices by default, or a folder
  of ``SPEAKER/clip.wav``); precision@1 of retrieving another clip of the same voice, and the
  equal error rate of "same voice?" decided by a cosine threshold over all pairs.
- **digits**: scikit-learn's bundled 8x8 handwritten digits (1,797 real scans, 10 classes), or
  a folder of ``CLASS/image.png``; trainable models are fitted on one half, and precision@10 of
  retrieving images of the query's class is measured on the other.

Both are tasks in :mod:`embedlab.eval.base`'s sense (``SpeakerRetrieval().run(model)``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.errors import DataFormatError, InputError
from embedlab.eval.base import Task
from embedlab.paths import cache_home

# espeak-ng voice variants that sound like different people: picked greedily from 26 English
# variants, each the one least like those already picked (voice vectors of two sentences each).
# Plain en, en-us, en-gb-scotland and en+m3 are one synthetic voice to the model (cosine 0.88,
# as close as two sentences of one voice), so they would measure nothing.
VOICES = ("en+m1", "en+Alicia", "en+f4", "en+Hugo", "en+whisper", "en+boris", "en+Andy", "en+Annie")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her.",
    "The rainbow is a division of white light into many beautiful colours.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese.",
)
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


# -- metrics --------------------------------------------------------------------------------------
def precision_at_k(vectors: np.ndarray, labels: Sequence[Any] | np.ndarray, k: int = 1) -> float:
    """Leave-one-out: the share of each item's ``k`` nearest others (cosine) that share its
    label, averaged over items."""
    labels_array = np.asarray(labels)
    if len(labels_array) <= k:
        raise InputError(f"{len(labels_array)} items are too few for precision@{k}", None)
    unit = l2_normalize(np.asarray(vectors, dtype=np.float32))
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return float((labels_array[top] == labels_array[:, None]).mean())


def pair_scores(
    vectors: np.ndarray, labels: Sequence[Any] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every pair ``i < j`` and whether the two share a label."""
    labels_array = np.asarray(labels)
    unit = l2_normalize(np.asarray(vectors, dtype=np.float32))
    i, j = np.triu_indices(len(unit), k=1)
    return (unit[i] * unit[j]).sum(axis=1), labels_array[i] == labels_array[j]


def equal_error_rate(vectors: np.ndarray, labels: Sequence[Any] | np.ndarray) -> float:
    """The error rate where false accepts equal false rejects, over all pairs (0 is perfect,
    0.5 is chance)."""
    scores, same = pair_scores(vectors, labels)
    if same.all() or not same.any():
        raise InputError("the equal error rate needs pairs of both kinds", "use 2+ labels")
    order = np.argsort(-scores, kind="stable")
    same = same[order]
    accepted_same = np.cumsum(same) / same.sum()  # threshold after each pair: true accepts
    accepted_other = np.cumsum(~same) / (~same).sum()  # false accepts
    false_reject = 1.0 - accepted_same
    best = int(np.argmin(np.abs(false_reject - accepted_other)))
    return float((false_reject[best] + accepted_other[best]) / 2)


# -- data -----------------------------------------------------------------------------------------
def synthesise_speech(
    folder: str | Path,
    voices: Sequence[str] = VOICES[:4],
    sentences: Sequence[str] = SENTENCES[:3],
) -> list[tuple[Path, str]]:
    """Speak every sentence in every voice with Debian's ``espeak-ng`` into ``folder``
    (``VOICE/N.wav``); returns ``(path, voice)`` pairs. Files already there are reused."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise InputError(
            "espeak-ng is not installed, so no speech can be synthesised",
            "install it (apt-get install espeak-ng, part of make setup), or pass a folder of "
            "SPEAKER/clip.wav recordings",
        )
    out = []
    for voice in voices:
        target = Path(folder) / voice
        target.mkdir(parents=True, exist_ok=True)
        for n, sentence in enumerate(sentences):
            path = target / f"{n}.wav"
            if not path.is_file():
                done = subprocess.run(
                    [program, "-v", voice, "-w", str(path), sentence],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0 or not path.is_file():
                    raise InputError(f"espeak-ng failed for voice {voice!r}", done.stderr.strip())
            out.append((path, voice))
    return out


def labelled_files(folder: str | Path, suffixes: set[str]) -> list[tuple[Path, str]]:
    """``(file, label)`` for each ``LABEL/file`` with one of ``suffixes`` under ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise DataFormatError(f"{root} is not a folder", "pass a folder of LABEL/file files")
    found = sorted(
        (path, path.parent.name)
        for path in root.glob("*/*")
        if path.is_file() and path.suffix.lower() in suffixes
    )
    if len({label for _, label in found}) < 2:
        raise DataFormatError(
            f"{root} has fewer than two labelled subfolders of media files",
            "lay it out as LABEL/file (e.g. alice/1.wav, bob/1.wav)",
        )
    return found


def digits() -> tuple[list[np.ndarray], np.ndarray]:
    """scikit-learn's bundled 8x8 digits as greyscale images in [0, 1], and their classes."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return [image / 16.0 for image in data.images], data.target


# -- tasks ----------------------------------------------------------------------------------------
def speaker_scores(model: Embedder, clips: Sequence[Any], speakers: Sequence[str]) -> dict:
    vectors = model.embed(list(clips))
    scores, same = pair_scores(vectors, speakers)
    return {
        "p@1": precision_at_k(vectors, speakers, 1),
        "eer": equal_error_rate(vectors, speakers),
        "same_cosine": float(scores[same].mean()),
        "other_cosine": float(scores[~same].mean()),
    }


def split_half(count: int) -> tuple[list[int], list[int]]:
    """Alternate items to fit and to evaluate: both halves hold every class alike."""
    return list(range(0, count, 2)), list(range(1, count, 2))


def image_scores(
    model: Embedder, images: Sequence[Any], labels: Sequence[Any] | np.ndarray, k: int = 10
) -> dict[str, float]:
    """Fit a trainable model on one half (with labels), precision@k on the other half."""
    fit_on, test_on = split_half(len(images))
    labels_array = np.asarray(labels)
    if model.trainable:
        model.fit([images[i] for i in fit_on], labels_array[fit_on])
    vectors = model.embed([images[i] for i in test_on])
    test_labels = labels_array[test_on]
    chance = float(np.mean([np.mean(test_labels == c) for c in test_labels]))
    return {
        f"p@{k}": precision_at_k(vectors, test_labels, k),
        "p@1": precision_at_k(vectors, test_labels, 1),
        "chance": chance,
    }


class SpeakerRetrieval(Task):
    """Speaker retrieval and equal error rate; ``data``: a folder of SPEAKER/clip files."""

    name = "speakers"
    main_score = "p@1"

    def clips(self) -> list[tuple[Path, str]]:
        if self.data is not None:
            return labelled_files(self.data, AUDIO_SUFFIXES)[: self.limit]
        key = hashlib.sha256(repr((VOICES, SENTENCES)).encode()).hexdigest()[:12]
        return synthesise_speech(cache_home() / "speech" / key, VOICES, SENTENCES[:4])

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        clips = self.clips()
        scores = speaker_scores(model, [str(p) for p, _ in clips], [s for _, s in clips])
        return scores, len(clips), {"speakers": len({s for _, s in clips})}


class DigitRetrieval(Task):
    """Image retrieval by class; ``data``: a folder of CLASS/image files (else the digits)."""

    name = "digits"
    main_score = "p@10"

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        if self.data is not None:
            files = labelled_files(self.data, IMAGE_SUFFIXES)
            images: list[Any] = [str(p) for p, _ in files]
            labels: Any = np.asarray([label for _, label in files])
        else:
            images, labels = digits()
        if self.limit:
            images, labels = images[: self.limit], labels[: self.limit]
        scores = image_scores(model, images, labels, 10)
        return scores, len(images), {"classes": len(set(labels.tolist()))}
