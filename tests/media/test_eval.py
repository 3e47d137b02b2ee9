"""The media evaluation: precision@k and equal error rate on hand-made vectors, and the tasks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.errors import DataFormatError, InputError
from embedlab.eval.media import (
    SENTENCES,
    VOICES,
    DigitRetrieval,
    SpeakerRetrieval,
    equal_error_rate,
    precision_at_k,
    synthesise_speech,
)


def test_metrics_on_vectors_whose_answer_is_known() -> None:
    apart = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    labels = ["a", "a", "b", "b"]
    assert precision_at_k(apart, labels, 1) == 1.0
    assert equal_error_rate(apart, labels) == 0.0
    swapped = ["a", "b", "a", "b"]  # every nearest neighbour is of the other label
    assert precision_at_k(apart, swapped, 1) == 0.0
    assert equal_error_rate(apart, swapped) >= 0.5
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(200, 16))
    eer = equal_error_rate(noise, rng.integers(0, 4, 200))
    assert 0.4 < eer < 0.6  # chance
    with pytest.raises(InputError, match="pairs of both kinds"):
        equal_error_rate(apart, ["a"] * 4)


def test_the_tasks_run_on_real_data(tmp_path: Path) -> None:
    synthesise_speech(tmp_path / "speakers", VOICES[:2], SENTENCES[:2])
    (tmp_path / "speakers" / "readme.txt").write_text("not a clip", encoding="utf-8")
    result = SpeakerRetrieval(data=tmp_path / "speakers").run(embedlab.load("mfcc"))
    assert result.task == "speakers" and result.n == 4 and result.main_score == 1.0
    assert result.scores["eer"] == 0.0
    digits = DigitRetrieval(limit=300).run(embedlab.load("pixels", components=16))
    assert digits.main_score_name == "p@10" and digits.main_score > 0.7
    with pytest.raises(DataFormatError, match="fewer than two labelled subfolders"):
        SpeakerRetrieval(data=tmp_path / "speakers" / VOICES[0]).run(embedlab.load("mfcc"))
