"""``voice``: speaker vectors from resemblyzer's pretrained GE2E encoder (256 dims).

The encoder (a 3-layer LSTM over 40-band mel frames, trained with the generalised end-to-end
loss) ships inside the ``resemblyzer`` package (``pretrained.pt``, 17 MB), so it works offline.
A clip is resampled to 16 kHz, its volume normalised and long silences cut (webrtcvad), then cut
into 1.6 s windows (``rate`` windows per second); each window gets a vector and the clip's vector
is their L2-normalised mean. ``embed_tokens`` shows those windows: the audio walkthrough.

Windows of all the clips in a batch go through the LSTM in one call.
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.checks import flag, number
from embedlab.checks import threads as threads_check
from embedlab.embedders.base import TokenEmbeddings
from embedlab.embedders.options import LOAD, Option, declare
from embedlab.extras import require
from embedlab.media.audio import Clip, read_audio
from embedlab.media.embedder import MediaEmbedder, torch_threads
from embedlab.media.errors import MediaFormatError

SAMPLE_RATE = 16_000
DEFAULT_MAX_SECONDS = 600.0


def _resemblyzer() -> Any:
    with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        return require("resemblyzer", "audio")


class VoiceEmbedder(MediaEmbedder):
    """Speaker vectors: clips of the same voice are close, other voices far.

    ``rate``: windows per second (at least 0.625, so 1.6 s windows cover the clip);
    ``min_coverage``: how full the last window must be to count; ``trim_silence``: cut pauses
    longer than resemblyzer's limit first; ``max_seconds``: longer clips are refused.
    """

    method = "voice"
    input_kind = "audio"
    options = declare(
        Option("rate", 1.3, LOAD, number(0.625)),
        Option("min_coverage", 0.75, LOAD, number(0.01)),
        Option("trim_silence", True, LOAD, flag),
        Option("max_seconds", DEFAULT_MAX_SECONDS, LOAD, number(0.1)),
        Option("threads", None, LOAD, threads_check),
    )

    def __init__(
        self,
        *,
        rate: float = 1.3,
        min_coverage: float = 0.75,
        trim_silence: bool = True,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        threads: int | None = None,
    ) -> None:
        super().__init__(
            rate=rate,
            min_coverage=min_coverage,
            trim_silence=trim_silence,
            max_seconds=max_seconds,
            threads=threads,
        )
        self._encoder: Any = None

    @property
    def dim(self) -> int:
        return 256

    @property
    def encoder(self) -> Any:
        """resemblyzer's ``VoiceEncoder`` on the CPU, loaded on first use."""
        if self._encoder is None:
            self._encoder = _resemblyzer().VoiceEncoder("cpu", verbose=False)
        return self._encoder

    # -- decoding --------------------------------------------------------------------------
    def decode(self, item: Any, index: int = 0) -> Clip:
        clip = read_audio(
            item,
            sample_rate=SAMPLE_RATE,
            index=index,
            max_seconds=self.params["max_seconds"],
            model=self.name,
        )
        samples = clip.samples
        if self.params["trim_silence"]:
            audio = _resemblyzer().audio
            samples = audio.normalize_volume(samples, -30, increase_only=True)
            samples = audio.trim_long_silences(samples)
        if len(samples) < SAMPLE_RATE // 10:
            raise MediaFormatError(
                f"{clip.source} holds less than 0.1 s of speech",
                "pass a clip of someone speaking (at least about a second)",
            )
        return Clip(samples.astype(np.float32, copy=False), SAMPLE_RATE, clip.source)

    # -- embedding -------------------------------------------------------------------------
    def _windows(self, clip: Clip) -> tuple[np.ndarray, list[slice]]:
        """The mel frames of each window ``(n, frames, 40)`` and the samples each covers."""
        encoder, audio = self.encoder, _resemblyzer().audio
        wav_slices, mel_slices = encoder.compute_partial_slices(
            len(clip.samples), self.params["rate"], self.params["min_coverage"]
        )
        wav = clip.samples
        if wav_slices[-1].stop >= len(wav):
            wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
        mel = audio.wav_to_mel_spectrogram(wav)
        return np.stack([mel[s] for s in mel_slices]), list(wav_slices)

    def _partials(self, clips: list[Clip]) -> list[tuple[np.ndarray, list[slice]]]:
        """Each clip's window vectors (unit length) and window spans, all in one LSTM call."""
        windows = [self._windows(clip) for clip in clips]
        mels = np.concatenate([w for w, _ in windows])
        with torch_threads(self.params["threads"]) as torch, torch.inference_mode():
            vectors = self.encoder(torch.from_numpy(mels)).numpy()
        bounds = np.cumsum([len(w) for w, _ in windows])[:-1]
        return [
            (part, spans)
            for part, (_, spans) in zip(np.split(vectors, bounds), windows, strict=True)
        ]

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for i, (partials, _) in enumerate(self._partials(items)):
            mean = partials.mean(axis=0)
            out[i] = mean / np.linalg.norm(mean)
        return out

    def embed_tokens(self, text: Any) -> TokenEmbeddings:
        """The windows of one clip: their spans (seconds), vectors, and the clip's vector."""
        clip = self.decode(text)
        ((partials, spans),) = self._partials([clip])
        mean = partials.mean(axis=0)
        vector = (mean / np.linalg.norm(mean)).astype(np.float32)
        labels = [f"{s.start / SAMPLE_RATE:.2f}-{s.stop / SAMPLE_RATE:.2f}s" for s in spans]
        return TokenEmbeddings(
            text=clip.source,
            model=self.name,
            tokens=labels,
            ids=list(range(len(spans))),
            lookup=partials.astype(np.float32),
            vector=vector,
            pooling="mean of window vectors, L2-normalised",
            offsets=[(int(s.start), int(s.stop)) for s in spans],
            notes=[
                f"{len(spans)} windows of 1.6 s at {self.params['rate']:g} per second over "
                f"{clip.seconds:.2f} s of speech (16 kHz"
                + (", long silences cut" if self.params["trim_silence"] else "")
                + "); offsets are sample positions in that audio"
            ],
        )

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Only embedlab.json: the weights stay those inside the resemblyzer package."""
        return {
            "weights": "resemblyzer/pretrained.pt",
            "resemblyzer_version": version("resemblyzer"),
        }
