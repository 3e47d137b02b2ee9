"""Audio and image embedders on real data, in one process: the table of the README's "Audio and
images" section.

Speakers: every sentence spoken in every espeak-ng voice; precision@1 (another clip of the same
voice is the nearest) and the equal error rate over all pairs, for ``voice`` (resemblyzer's
pretrained GE2E encoder) and ``mfcc`` (the classic baseline). The peer is resemblyzer's own
``embed_utterance(preprocess_wav(path))``: our vectors must match it, and the time ratio says
what batching the windows of several clips into one LSTM call buys.

Digits: scikit-learn's 1,797 real 8x8 scans; trainable methods fit on one half, precision@10 by
class on the other (chance is 0.10).

    python bench/media.py [--voices 8] [--sentences 4] [--epochs 30]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import embedlab
from embedlab.eval.media import (
    SENTENCES,
    VOICES,
    digits,
    image_scores,
    speaker_scores,
    synthesise_speech,
)

RESULTS = Path(__file__).parent / "results" / "media.md"


def cpu_kind() -> str:
    flags = Path("/proc/cpuinfo").read_text().split()
    found = sorted({f for f in flags if f.startswith("amx_") or f == "avx512_vnni"})
    model = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{model} ({', '.join(found) or 'no AMX/VNNI'})"


def speakers(voices: int, sentences: int) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = synthesise_speech(tmp, VOICES[:voices], SENTENCES[:sentences])
        paths, labels = [str(p) for p, _ in clips], [v for _, v in clips]
        for name in ("voice", "mfcc"):
            model = embedlab.load(name)
            model.embed(paths[:1])  # load weights outside the timing
            started = time.perf_counter()
            scores = speaker_scores(model, paths, labels)
            seconds = time.perf_counter() - started
            rows.append(
                f"| speakers ({voices} voices x {sentences} clips) | {name} | "
                f"P@1 {scores['p@1']:.3f} | EER {scores['eer']:.3f} | "
                f"same {scores['same_cosine']:.3f} / other {scores['other_cosine']:.3f} | "
                f"{len(paths) / seconds:.1f} clips/s |"
            )
        rows.append(peer_check(paths))
    return rows


def peer_check(paths: list[str]) -> str:
    """Our voice vectors against resemblyzer's own per-file calls, same process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav  # type: ignore[import-untyped]
    import torch

    torch.set_num_threads(1)
    encoder = VoiceEncoder("cpu", verbose=False)
    ours_model = embedlab.load("voice")
    ours_model.embed(paths[:1])
    started = time.perf_counter()
    theirs = np.stack([encoder.embed_utterance(preprocess_wav(p)) for p in paths])
    their_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = ours_model.embed(paths)
    our_s = time.perf_counter() - started
    cosine = (ours * theirs).sum(axis=1)
    return (
        f"| peer: resemblyzer embed_utterance | voice | cosine to ours min {cosine.min():.4f} | "
        f"| | ours {their_s / our_s:.2f}x its speed |"
    )


def images(epochs: int) -> list[str]:
    pictures, labels = digits()
    rows = []
    for name, options in (
        ("pixels", {"components": None}),
        ("pixels", {"components": 32}),
        ("hog", {}),
        ("image-cnn", {"grey": True, "epochs": epochs}),
    ):
        model = embedlab.load(name, **options)
        started = time.perf_counter()
        scores = image_scores(model, pictures, labels, 10)
        seconds = time.perf_counter() - started
        shown = name + "".join(f" {k}={v}" for k, v in options.items())
        rows.append(
            f"| digits (899 fit / 898 searched) | {shown} | P@10 {scores['p@10']:.3f} | "
            f"P@1 {scores['p@1']:.3f} | chance {scores['chance']:.3f} | {seconds:.1f} s "
            "fit + embed |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, default=8)
    parser.add_argument("--sentences", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    rows = [
        "| task | model | score | score | cosines / chance | speed |",
        "|---|---|---|---|---|---|",
        *speakers(args.voices, args.sentences),
        *images(args.epochs),
    ]
    text = "\n".join(
        [
            "# Audio and image embedders on real data (bench/media.py)",
            "",
            f"CPU: {cpu_kind()}; one process, torch on one thread; "
            f"--voices {args.voices} --sentences {args.sentences} --epochs {args.epochs}.",
            "",
            *rows,
            "",
        ]
    )
    print(text)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
