"""From recognised data to the columns a loss trains on (a ``datasets.Dataset``).

Labelled texts become SetFit's contrastive pairs (same label 1, different label 0, balanced);
plain text becomes TSDAE's (damaged, original) pairs, with 60% of the words deleted. Both are
drawn with the run's seed, so a run is repeatable and a resumed run sees the same rows.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from embedlab.extras import require
from embedlab.training.finetune.data import TrainingData

TSDAE_DELETE = 0.6


def training_columns(data: TrainingData, *, seed: int, setfit_pairs: int = 40) -> dict[str, list]:
    """The columns fed to the loss, in the order the loss reads them."""
    c = data.columns
    if data.kind in ("pairs", "triplets"):
        extra = sorted(k for k in c if k.startswith("negative"))
        return {"anchor": c["anchor"], "positive": c["positive"], **{k: c[k] for k in extra}}
    if data.kind == "scored":
        return {"sentence1": c["sentence1"], "sentence2": c["sentence2"], "score": c["score"]}
    if data.kind == "labelled":
        return setfit_pairs_of(c["text"], c["label"], per_text=setfit_pairs, seed=seed)
    rng = random.Random(seed)
    return {"damaged": [damage(t, rng) for t in c["text"]], "original": list(c["text"])}


def to_dataset(columns: dict[str, list]) -> Any:
    datasets = require("datasets", "train")
    return datasets.Dataset.from_dict(columns)


def setfit_pairs_of(
    texts: list[str], labels: list[str], *, per_text: int, seed: int
) -> dict[str, list]:
    """SetFit's contrastive pairs: for each text, ``per_text`` partners, half of the same label
    (score 1) and half of another (score 0); a label with one text gives no positives."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    for i, label in enumerate(labels):
        same = [j for j in by_label[label] if j != i]
        other = [j for j in range(len(texts)) if labels[j] != label]
        for n in range(per_text):
            pool, score = (same, 1.0) if n % 2 == 0 and same else (other, 0.0)
            first.append(texts[i])
            second.append(texts[rng.choice(pool)])
            scores.append(score)
    return {"sentence1": first, "sentence2": second, "score": scores}


def damage(text: str, rng: random.Random) -> str:
    """TSDAE noise: delete each word with probability 0.6, keeping at least one."""
    words = text.split()
    kept = [w for w in words if rng.random() >= TSDAE_DELETE]
    return " ".join(kept) if kept else rng.choice(words)
