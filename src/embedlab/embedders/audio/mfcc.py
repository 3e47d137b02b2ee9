"""``mfcc``: the classic audio baseline, statistics of mel-frequency cepstral coefficients.

Per clip: leading and trailing silence trimmed, ``n_mfcc`` coefficients per 25 ms frame (10 ms
hop) and their deltas; the vector is each coefficient's mean and standard deviation over the
frames, coefficient 0 (loudness) left out so volume does not decide similarity. No training,
no weights: what a learned speaker model (``voice``) is compared against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embedlab.checks import number, whole
from embedlab.embedders.options import FIT, LOAD, Option, declare
from embedlab.media.audio import Clip, read_audio
from embedlab.media.audio import librosa as load_librosa
from embedlab.media.embedder import MediaEmbedder

SAMPLE_RATE = 16_000


class MfccEmbedder(MediaEmbedder):
    """Mean and standard deviation of MFCCs 1..n-1 and their deltas: ``4 * (n_mfcc - 1)`` dims."""

    method = "mfcc"
    input_kind = "audio"
    options = declare(
        Option("n_mfcc", 20, FIT, whole(2)),
        Option("max_seconds", 600.0, LOAD, number(0.1)),
    )

    def __init__(self, *, n_mfcc: int = 20, max_seconds: float = 600.0) -> None:
        super().__init__(n_mfcc=n_mfcc, max_seconds=max_seconds)

    @property
    def dim(self) -> int:
        return 4 * (self.params["n_mfcc"] - 1)

    def decode(self, item: Any, index: int = 0) -> Clip:
        return read_audio(
            item,
            sample_rate=SAMPLE_RATE,
            index=index,
            max_seconds=self.params["max_seconds"],
            model=self.name,
        )

    def features(self, clip: Clip) -> np.ndarray:
        """The frames' coefficients and deltas, ``(frames, 2 * (n_mfcc - 1))``."""
        librosa = load_librosa()
        samples, _ = librosa.effects.trim(clip.samples, top_db=30)
        if len(samples) < 2048:
            samples = np.pad(samples, (0, 2048 - len(samples)))
        mfcc = librosa.feature.mfcc(
            y=samples, sr=SAMPLE_RATE, n_mfcc=self.params["n_mfcc"], n_fft=400, hop_length=160
        )[1:]
        delta = librosa.feature.delta(mfcc)  # width 9: a padded clip has at least 13 frames
        return np.concatenate([mfcc, delta]).T

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for i, clip in enumerate(items):
            frames = self.features(clip)
            out[i] = np.concatenate([frames.mean(axis=0), frames.std(axis=0)])
        return out
