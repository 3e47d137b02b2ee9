"""Small real texts bundled with the package, for the tour, demos and tests."""

from __future__ import annotations

from importlib import resources


def sample_texts() -> list[str]:
    """40 sentences on six topics (programming, cooking, sport, space, music, finance) and more."""
    text = resources.files(__name__).joinpath("sample_texts.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def calibration_texts() -> list[str]:
    """256 WordNet glosses and examples (licence beside the file), for int8 calibration: apart
    from :func:`sample_texts`, which ``auto`` checks vectors on, so the check is not the data
    the quantizer saw."""
    text = resources.files(__name__).joinpath("calibration_texts.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]
