"""Audio to one float32 mono waveform at the model's sample rate, done once for every model.

Files and bytes are read with soundfile (libsndfile: WAV, FLAC, OGG, MP3, ...); the length is
checked from the header before anything is decoded, so an over-long clip costs nothing. Several
channels are averaged to mono; other sample rates are resampled with librosa (soxr).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import MissingExtraError
from embedlab.extras import require
from embedlab.media.errors import MediaFormatError, MediaTooLongError
from embedlab.media.inputs import describe, local_path

TEXT_SUFFIXES = {".txt", ".md", ".csv", ".json", ".jsonl", ".html", ".xml", ".py"}


@dataclass(frozen=True)
class Clip:
    """One decoded clip: mono float32 samples at ``sample_rate``, and where it came from."""

    samples: np.ndarray
    sample_rate: int
    source: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def _soundfile() -> Any:
    return require("soundfile", "audio")


def librosa() -> Any:
    """librosa (resampling, MFCCs), which the [audio] extra brings with resemblyzer."""
    try:
        import librosa as module
    except ModuleNotFoundError:
        raise MissingExtraError("audio embedding", "librosa", "audio") from None
    return module


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _not_audio(name: str, head: bytes, path: Path | None, exc: Exception) -> MediaFormatError:
    textual = _looks_like_text(head) or (path is not None and path.suffix in TEXT_SUFFIXES)
    what = "a text file, not audio" if textual else f"not audio soundfile can read ({exc})"
    return MediaFormatError(
        f"{name} is {what}",
        "pass a WAV, FLAC, OGG or MP3 file (embed texts with a text model such as 'minilm')",
    )


def _check_length(seconds: float, name: str, max_seconds: float | None, model: str) -> None:
    if max_seconds is not None and seconds > max_seconds:
        raise MediaTooLongError(
            f"{name} is {seconds:.1f} s long, more than the {max_seconds:g} s {model} takes",
            f"cut it into clips of at most {max_seconds:g} s, or load the model with "
            "a larger max_seconds",
        )


def _from_file(source: Any, name: str, path: Path | None, max_seconds: float | None, model: str):
    sf = _soundfile()
    if path is not None:
        with path.open("rb") as handle:
            head = handle.read(64)
    else:
        head = bytes(source.getvalue()[:64])
    try:
        info = sf.info(source)
        if info.frames <= 0 or info.samplerate <= 0:
            raise MediaFormatError(f"{name} holds no audio samples", "pass a clip with sound")
        _check_length(info.frames / info.samplerate, name, max_seconds, model)
        if hasattr(source, "seek"):
            source.seek(0)
        data, rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, EOFError) as exc:
        raise _not_audio(name, head, path, exc) from None
    return data, int(rate)


# Shorter than this is no sound to embed: most likely an array that is not audio at all.
MIN_SECONDS = 0.05


def _from_array(item: Any, name: str, default_rate: int) -> tuple[np.ndarray, int]:
    array, rate = (item[0], item[1]) if isinstance(item, tuple) else (item, default_rate)
    if not isinstance(rate, int | np.integer) or isinstance(rate, bool) or rate < 1:
        raise MediaFormatError(
            f"{name} has sample rate {rate!r}", "pass (array, sample_rate) with a positive int"
        )
    array = np.asarray(array)
    if array.dtype.kind == "i":  # PCM integers: scale to [-1, 1]
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
    elif array.dtype.kind == "u":
        info = np.iinfo(array.dtype)
        array = (array.astype(np.float32) - (info.max + 1) / 2) / ((info.max + 1) / 2)
    elif array.dtype.kind != "f":
        raise MediaFormatError(
            f"{name} is an array of {array.dtype}, not audio samples",
            "pass float samples in [-1, 1] or PCM integers",
        )
    if array.ndim == 1:
        array = array[:, None]
    elif array.ndim == 2 and array.shape[0] <= 8 < array.shape[1]:
        array = array.T  # (channels, samples), librosa's layout
    elif array.ndim != 2:
        raise MediaFormatError(
            f"{name} is a {array.ndim}-D array, not a clip",
            "pass (samples,) or (samples, channels); for several clips pass a list",
        )
    return array.astype(np.float32, copy=False), int(rate)


def read_audio(
    item: Any,
    *,
    sample_rate: int,
    index: int = 0,
    max_seconds: float | None = None,
    model: str = "this model",
) -> Clip:
    """Decode one item to a mono :class:`Clip` at ``sample_rate``; every failure says which
    item and what to pass instead."""
    name = describe(item, index)
    path = local_path(item, index, "audio", model)
    if path is not None:
        data, rate = _from_file(path, name, path, max_seconds, model)
    elif isinstance(item, bytes | bytearray | memoryview):
        if not len(item):
            raise MediaFormatError(f"{name} is empty", "pass the bytes of an audio file")
        data, rate = _from_file(io.BytesIO(bytes(item)), name, None, max_seconds, model)
    elif isinstance(item, np.ndarray) or (isinstance(item, tuple) and len(item) == 2):
        data, rate = _from_array(item, name, sample_rate)
    else:
        raise MediaFormatError(
            f"{name} is not audio",
            "pass a file path, the file's bytes, a numpy array or (array, sample_rate)",
        )
    if not len(data):
        raise MediaFormatError(f"{name} holds no audio samples", "pass a clip with sound")
    if len(data) / rate < MIN_SECONDS:  # e.g. an 8x8 image array taken for 8 samples
        raise MediaFormatError(
            f"{name} is {len(data)} samples at {rate} Hz ({1000 * len(data) / rate:.1f} ms), "
            "too short to be a clip",
            f"pass at least {1000 * MIN_SECONDS:.0f} ms of audio, or (array, sample_rate) "
            "with the rate it was recorded at",
        )
    _check_length(len(data) / rate, name, max_seconds, model)
    if not np.isfinite(data).all():
        raise MediaFormatError(f"{name} holds NaN or infinite samples", "fix the samples")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        mono = librosa().resample(mono, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return Clip(np.ascontiguousarray(mono, dtype=np.float32), sample_rate, name)
