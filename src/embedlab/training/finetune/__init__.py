"""Fine-tuning and domain adaptation of transformer embedders with sentence-transformers' trainer.

``embedlab.finetune(model, data, out=DIR)`` / ``embedlab finetune BASE DATA --out DIR``: the
data kind is recognised from its columns, the loss follows from it, the result is scored before
and after on held-out data and saved as a folder both embedlab and sentence-transformers load.
"""

from __future__ import annotations

from embedlab.training.finetune.data import KINDS, TrainingData, read_training_data
from embedlab.training.finetune.run import FinetuneResult, finetune

__all__ = ["KINDS", "FinetuneResult", "TrainingData", "finetune", "read_training_data"]
