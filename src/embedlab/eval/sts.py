"""Semantic textual similarity: does the cosine of two sentence vectors rank pairs as people do?

The standard data is the STS Benchmark (Cer et al., 2017): sentence pairs scored 0-5 by people.
The main score is the Spearman rank correlation (x100) between the cosine similarity of each
pair's vectors and the gold scores on the test split, as MTEB and sentence-transformers report
it (all-MiniLM-L6-v2: 82.03); Pearson is reported beside it. Users can score their own pairs
with ``data=`` (a .csv/.tsv/.jsonl/.parquet file with two text columns and a score column).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.errors import DataFormatError, InputError
from embedlab.eval.base import Task, embed_for_task
from embedlab.eval.datasets import sts_benchmark
from embedlab.text.readers import read_columns

SPLITS = ("train", "dev", "test")
DEFAULT_TEXT_FIELDS = ("sentence1", "sentence2")
DEFAULT_SCORE_FIELD = "score"


class STSBenchmark(Task):
    """Cosine Spearman and Pearson (x100) on STS-B ``split`` or on the user's own pairs.

    For ``data``, ``text_field`` names the two text columns as ``"first,second"`` (default
    ``sentence1,sentence2``) and ``label_field`` the score column (default ``score``).
    """

    name = "sts"
    main_score = "cosine_spearman"

    def __init__(
        self,
        data: str | Path | None = None,
        text_field: str | None = None,
        label_field: str | None = None,
        limit: int | None = None,
        split: str = "test",
    ) -> None:
        super().__init__(data=data, text_field=text_field, label_field=label_field, limit=limit)
        if split not in SPLITS:
            raise InputError(f"unknown STS-B split {split!r}", f"use one of {', '.join(SPLITS)}")
        if data is not None and split != "test":
            raise InputError(
                "split chooses a part of the STS Benchmark, not of your own file",
                "leave split out when passing data",
            )
        self.split = split

    def data_key(self) -> str:
        return f"{super().data_key()}:{self.split}"

    def pairs(self) -> list[tuple[str, str, float]]:
        """The (sentence1, sentence2, gold score) pairs this task scores, after ``limit``."""
        pairs = sts_benchmark(self.split) if self.data is None else self._read_user_pairs(self.data)
        if self.limit is not None:
            pairs = pairs[: self.limit]
        if len(pairs) < 2:
            raise InputError(
                f"STS needs at least two scored pairs, got {len(pairs)}",
                "pass more pairs (or a larger --limit)",
            )
        return pairs

    def _read_user_pairs(self, path: Path) -> list[tuple[str, str, float]]:

        fields: tuple[str, ...] = DEFAULT_TEXT_FIELDS
        if self.text_field:
            fields = tuple(f.strip() for f in self.text_field.split(","))
            if len(fields) != 2 or not all(fields):
                raise InputError(
                    f"STS data needs two text columns, got --text {self.text_field!r}",
                    "name both, separated by a comma: --text sentence1,sentence2",
                )
        score_field = self.label_field or DEFAULT_SCORE_FIELD
        columns = read_columns(path, [*fields, score_field])
        pairs = []
        for row, (a, b, score) in enumerate(
            zip(columns[fields[0]], columns[fields[1]], columns[score_field], strict=True),
            start=1,
        ):
            try:
                value = float(score)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise DataFormatError(
                    f"row {row} of {path} has the score {score!r}, which is not a number",
                    f"put a number in the {score_field!r} column of every row",
                ) from None
            if not np.isfinite(value):
                raise DataFormatError(
                    f"row {row} of {path} has a score that is not finite ({score!r})",
                    "put a finite number in every row",
                )
            if not (isinstance(a, str) and a.strip() and isinstance(b, str) and b.strip()):
                raise DataFormatError(
                    f"row {row} of {path} has an empty or missing sentence",
                    "remove the row, or fill in both texts",
                )
            pairs.append((a, b, value))
        return pairs

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        from scipy.stats import pearsonr, spearmanr

        pairs = self.pairs()
        unique = list(dict.fromkeys(s for a, b, _ in pairs for s in (a, b)))
        index = {text: i for i, text in enumerate(unique)}
        vectors = l2_normalize(embed_for_task(model, unique))  # each sentence once; fits TF-IDF
        left = vectors[[index[a] for a, _, _ in pairs]]
        right = vectors[[index[b] for _, b, _ in pairs]]
        cosine = (left * right).sum(axis=1)
        gold = np.array([score for _, _, score in pairs])
        if np.ptp(gold) == 0:
            raise InputError(
                "every pair has the same gold score, so no ranking can be compared",
                "use pairs with different scores",
            )
        scores = {
            "cosine_spearman": 100 * float(spearmanr(cosine, gold).statistic),
            "cosine_pearson": 100 * float(pearsonr(cosine, gold).statistic),
        }
        source = str(self.data) if self.data else f"STS Benchmark, {self.split} split"
        details = {"source": source, "sentences_embedded": len(unique)}
        runtime = getattr(model, "runtime", None)  # transformers only
        if runtime:
            details["runtime"] = runtime
        return scores, len(pairs), details
