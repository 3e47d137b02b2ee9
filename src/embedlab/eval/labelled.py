"""Labelled texts for the supervised tasks: the user's file or a standard set, sampled reproducibly."""

from __future__ import annotations

import random
from pathlib import Path

from embedlab.errors import DataFormatError, InputError
from embedlab.text.readers import read_columns


def user_labelled(
    path: Path, text_field: str | None, label_field: str | None
) -> tuple[list[str], list[str]]:
    """Texts and labels (as strings) from the user's .csv/.jsonl/.parquet file."""

    if not text_field or not label_field:
        raise InputError(
            "a data file needs its text and label columns named",
            "pass --text COLUMN --label COLUMN (text_field=..., label_field=...)",
        )
    columns = read_columns(path, [text_field, label_field])
    texts, labels = [], []
    for i, (text, label) in enumerate(zip(columns[text_field], columns[label_field], strict=True)):
        if not isinstance(text, str) or not text.strip():
            raise DataFormatError(
                f"row {i + 1} of {path} has no text in {text_field!r}", "remove or fill it"
            )
        if label is None or str(label) == "":
            raise DataFormatError(
                f"row {i + 1} of {path} has no label in {label_field!r}", "remove or fill it"
            )
        texts.append(text)
        labels.append(str(label))
    if len(set(labels)) < 2:
        raise InputError(
            f"{path} has fewer than two distinct labels", "a labelled task needs two or more"
        )
    return texts, labels


def stratified_sample(
    texts: list[str], labels: list[str], limit: int | None, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Up to ``limit`` items keeping the label proportions; the same sample on every run."""
    if limit is None or limit >= len(texts):
        return texts, labels
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    chosen: list[int] = []
    for indices in by_label.values():
        share = max(1, round(limit * len(indices) / len(texts)))
        chosen.extend(rng.sample(indices, min(share, len(indices))))
    chosen.sort()
    return [texts[i] for i in chosen], [labels[i] for i in chosen]
