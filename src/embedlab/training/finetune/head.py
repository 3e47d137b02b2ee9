"""The classification head of a SetFit-style run, saved in `embedlab classify`'s format.

The tuned encoder and the head share one folder: ``classifier.json`` points at the folder
itself (``embedder_folder: "."``), so ``embedlab classify predict DIR`` and
``TextClassifier.load(DIR)`` read it, while ``embedlab.load(DIR)`` still gets the encoder.
Weights are ``.npy`` arrays; nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from embedlab.apps.classify import CLASSIFIER_FILE
from embedlab.embedders.saving import save_array
from embedlab.training.finetune.scoring import fit_head


def write_head(folder: Path, vectors: np.ndarray, labels: list[str], *, c: float = 1.0) -> None:
    """Fit logistic regression on the tuned vectors of all labelled texts and save it."""
    head = fit_head(vectors, labels, c)
    meta = {
        "format": "embedlab-classifier",
        "classes": [str(x) for x in head.classes_],
        "coef": save_array(folder, "coef", head.coef_),
        "intercept": save_array(folder, "intercept", head.intercept_),
        "c": c,
        "embedder_folder": ".",
    }
    (folder / CLASSIFIER_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
