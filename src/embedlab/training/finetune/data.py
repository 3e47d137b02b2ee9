"""Training data for fine-tuning: read a file or Python rows, recognise the kind from its columns.

The kind decides the loss and the evaluation, so it is recognised once, here, and stated in the
output. Every problem is one clear line naming what was found and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab.errors import DataFormatError, InputError
from embedlab.text.readers import check_input_file, input_format, iter_rows, read_records

# kind -> the columns that make it, most specific first (triplets before pairs)
KINDS: dict[str, tuple[str, ...]] = {
    "triplets": ("anchor", "positive", "negative"),
    "pairs": ("anchor", "positive"),
    "scored": ("sentence1", "sentence2", "score"),
    "labelled": ("text", "label"),
    "text": ("text",),
}
DESCRIPTIONS = {
    "triplets": "triplets (anchor, positive, negative)",
    "pairs": "pairs (anchor, positive)",
    "scored": "scored pairs (sentence1, sentence2, score)",
    "labelled": "labelled texts (text, label)",
    "text": "plain text (a domain corpus)",
}
# optional columns kept with a kind: plain text may say which pool each text is in (query or
# document), which --adapt pseudo matches across
OPTIONAL: dict[str, tuple[str, ...]] = {"text": ("pool",)}
EXPECTED = "anchor,positive[,negative] | sentence1,sentence2,score | text,label | text"

Source = str | os.PathLike[str] | Sequence[Any] | Mapping[str, Sequence[Any]]


@dataclass
class TrainingData:
    """Columns of one recognised kind; ``columns[name]`` lists a value per row."""

    kind: str
    columns: dict[str, list[Any]]
    source: str

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]

    def take(self, rows: Sequence[int]) -> TrainingData:
        return TrainingData(
            self.kind, {k: [v[i] for i in rows] for k, v in self.columns.items()}, self.source
        )

    def split(self, fraction: float, seed: int) -> tuple[TrainingData, TrainingData]:
        """(train, held out): ``fraction`` of the rows held out, grouped by the first column
        so that a query (or text) never appears on both sides."""
        key = self.columns[KINDS[self.kind][0]]
        groups = sorted(set(map(str, key)))
        random.Random(seed).shuffle(groups)
        held = set(groups[: max(1, round(len(groups) * fraction))])
        test = [i for i, k in enumerate(key) if str(k) in held]
        train = [i for i, k in enumerate(key) if str(k) not in held]
        return self.take(train), self.take(test)

    def digest(self) -> str:
        """SHA-256 of the rows, recorded in the model's lineage and checked on resume."""
        blob = json.dumps([self.kind, self.columns], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_training_data(
    data: Source | TrainingData,
    *,
    score_range: tuple[float, float] | None = None,
    what: str = "training data",
) -> TrainingData:
    """Read ``data`` (a .csv/.tsv/.jsonl/.parquet/.txt path, a list of texts, of dicts or of
    tuples, or a dict of columns) and recognise its kind from the column names."""
    if isinstance(data, TrainingData):
        return data
    if isinstance(data, str | os.PathLike):
        source, rows = str(data), _read_file(Path(data))
    elif isinstance(data, Mapping):
        source, rows = "columns", _columns_to_rows(data)
    elif isinstance(data, Sequence):
        source, rows = "rows", [_as_row(item) for item in data]
    else:
        raise InputError(
            f"{what} must be a file path, a list of rows or a dict of columns, "
            f"not {type(data).__name__}",
            "pass e.g. 'pairs.csv' or [{'anchor': ..., 'positive': ...}]",
        )
    if not rows:
        raise InputError(f"{what} ({source}) holds no rows", "pass a file with at least one row")
    kind = recognise(rows[0].keys(), source)
    extra = tuple(name for name in OPTIONAL.get(kind, ()) if name in rows[0])
    columns = {name: [row.get(name) for row in rows] for name in KINDS[kind] + extra}
    _check_values(kind, columns, source, score_range)
    return TrainingData(kind, columns, source)


def recognise(names: Any, source: str) -> str:
    """The kind whose columns are all present; extra columns (ids, metadata) are ignored."""
    found = [str(n) for n in names]
    for kind, wanted in KINDS.items():
        if set(wanted) <= set(found):
            return kind
    raise DataFormatError(
        f"{source} has the columns {', '.join(found) or '(none)'}, which make no training data kind",
        f"expected one of: {EXPECTED}",
    )


def _read_file(path: Path) -> list[dict[str, Any]]:
    check_input_file(path)
    if input_format(path) == "txt":
        return [{"text": r.text} for r in read_records(path, skip_empty=True)]
    return list(iter_rows(path))


def _columns_to_rows(data: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    lengths = {name: len(values) for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(
            f"the columns have different lengths ({lengths})", "give every column one value a row"
        )
    n = next(iter(lengths.values()), 0)
    return [{name: values[i] for name, values in data.items()} for i in range(n)]


def _as_row(item: Any) -> dict[str, Any]:
    """A text is plain text; a 2-tuple a pair; a 3-tuple a scored pair (numeric third) or a
    triplet; a dict is taken as is."""
    if isinstance(item, str):
        return {"text": item}
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, Sequence) and len(item) == 2:
        return {"anchor": item[0], "positive": item[1]}
    if isinstance(item, Sequence) and len(item) == 3:
        if isinstance(item[2], int | float) and not isinstance(item[2], bool):
            return {"sentence1": item[0], "sentence2": item[1], "score": item[2]}
        return {"anchor": item[0], "positive": item[1], "negative": item[2]}
    raise InputError(
        f"cannot read the row {item!r:.80} as training data",
        "give texts, (anchor, positive), (anchor, positive, negative), "
        "(sentence1, sentence2, score) tuples or dicts",
    )


def _check_values(
    kind: str,
    columns: dict[str, list[Any]],
    source: str,
    score_range: tuple[float, float] | None,
) -> None:
    for name in KINDS[kind]:
        if name in ("score", "label"):
            continue
        for i, value in enumerate(columns[name]):
            if not isinstance(value, str) or not value.strip():
                raise DataFormatError(
                    f"{source} row {i + 1}: {name!r} is {value!r:.40}, not a text",
                    "every text column needs a non-empty text in every row",
                )
    if kind == "scored":
        columns["score"] = [
            _score(v, i, source, score_range) for i, v in enumerate(columns["score"])
        ]
    if kind == "labelled":
        labels = columns["label"]
        if any(v is None or str(v).strip() == "" for v in labels):
            raise DataFormatError(f"{source} has rows with no label", "label every row")
        columns["label"] = [str(v) for v in labels]
        if len(set(columns["label"])) < 2:
            raise InputError(
                f"{source} has one class only ({columns['label'][0]!r})",
                "classification needs at least two different labels",
            )


def _score(value: Any, i: int, source: str, score_range: tuple[float, float] | None) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise DataFormatError(
            f"{source} row {i + 1}: the score {value!r:.40} is not a number",
            "every score must be a number",
        ) from None
    if not math.isfinite(score):
        raise DataFormatError(f"{source} row {i + 1}: the score is {score}", "use finite numbers")
    if score_range is not None and not score_range[0] <= score <= score_range[1]:
        low, high = score_range
        raise DataFormatError(
            f"{source} row {i + 1}: the score {score:g} is outside the declared range "
            f"{low:g} to {high:g}",
            "fix the score, or declare the range the data uses (--score-range LOW,HIGH)",
        )
    return score
