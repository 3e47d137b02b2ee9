"""Domain adaptation from unlabelled text: continued masked-LM pretraining, and pseudo-pairs.

MLM: the encoder is trained as BERT was (15% of tokens masked, predicted back) on the user's
text with transformers' own Trainer, then its weights go back under the sentence model's
pooling. The MLM head is new for sentence models (their folders keep only the encoder), which is
part of why it hurt here (WordNet: -8.8 nDCG@10 after 4 minutes; TSDAE -6.5).

Pseudo-pairs: two unpaired pools (queries and documents, e.g. example sentences and
definitions) are matched by the base model's mutual nearest neighbours, and those pairs train
with in-batch negatives like labelled pairs. The labels come from the model itself; what the
user gives is only which pool each text belongs to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder
from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.training.finetune.data import TrainingData

MLM_PROBABILITY = 0.15
POOLS = ("query", "document")  # the values of the pool column that pseudo-pairs need


def mlm_trainer(
    st_model: Any, texts: list[str], args: dict[str, Any], callbacks: list[Any]
) -> tuple[Any, Any]:
    """A transformers Trainer for MLM on ``texts``, and a function that copies the trained
    encoder back into ``st_model`` (call it after training)."""
    transformers = require("transformers", "transformers")
    datasets = require("datasets", "train")
    encoder = st_model[0]
    tokenizer = encoder.tokenizer
    folder = encoder.auto_model.config._name_or_path
    with quiet_transformers():  # the MLM head is reported as newly initialised
        model = transformers.AutoModelForMaskedLM.from_pretrained(folder)
    prefix = model.base_model_prefix
    getattr(model, prefix).load_state_dict(encoder.auto_model.state_dict(), strict=False)
    tokens = tokenizer(texts, truncation=True, max_length=st_model.max_seq_length)
    dataset = datasets.Dataset.from_dict(dict(tokens))
    collator = transformers.DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=MLM_PROBABILITY
    )
    trainer = transformers.Trainer(
        model=model,
        args=transformers.TrainingArguments(**args),
        train_dataset=dataset,
        data_collator=collator,
        callbacks=callbacks,
    )

    def copy_back() -> None:
        encoder.auto_model.load_state_dict(getattr(model, prefix).state_dict(), strict=False)

    return trainer, copy_back


@dataclass(frozen=True)
class PseudoReport:
    queries: int
    documents: int
    pairs: int
    threshold: float
    seconds: float


def pseudo_pairs(
    data: TrainingData,
    model: Embedder,
    *,
    threshold: float,
    batch_size: int = 32,
    progress: bool = False,
) -> tuple[TrainingData, PseudoReport]:
    """(query, document) pseudo-pairs from two unpaired pools of plain text: the pairs whose
    texts are each other's nearest neighbour by the base model, at ``threshold`` or above.

    Which query goes with which document is never given; only the pool of each text
    (a ``pool`` column of ``query`` and ``document``). Mutual nearest neighbours are far more
    often right than one-way ones, and MNRL on them teaches the model the domain's two kinds of
    text and the way they relate (GPL-like self-training without a question generator).
    """
    started = time.perf_counter()
    pools = data.columns.get("pool")
    if pools is None or set(pools) != set(POOLS):
        found = sorted(set(map(str, pools))) if pools is not None else "no pool column"
        raise InputError(
            f"--adapt pseudo needs a pool column with the values query and document "
            f"(found: {found})",
            "mark each text as a query (e.g. a question) or a document (e.g. an answer)",
        )
    texts = data.columns["text"]
    queries = list(dict.fromkeys(t for t, p in zip(texts, pools, strict=True) if p == "query"))
    documents = list(dict.fromkeys(t for t, p in zip(texts, pools, strict=True) if p == "document"))
    q = model.embed_queries(queries, batch_size=batch_size, normalize=True)
    d = model.embed(documents, batch_size=batch_size, normalize=True, progress=progress)
    best_doc, best_score, best_query = _mutual_best(q, d)
    rows = [
        i
        for i in range(len(queries))
        if best_query[best_doc[i]] == i and best_score[i] >= threshold
    ]
    columns = {
        "anchor": [queries[i] for i in rows],
        "positive": [documents[best_doc[i]] for i in rows],
    }
    report = PseudoReport(
        len(queries), len(documents), len(rows), threshold, time.perf_counter() - started
    )
    return TrainingData("pairs", columns, data.source), report


def _mutual_best(
    q: np.ndarray, d: np.ndarray, block: int = 1024
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each query's best document and its score, and each document's best query, in one pass
    over blocks of queries (the full score matrix of 45k x 28k would take 5 GB)."""
    best_doc = np.empty(len(q), dtype=np.int64)
    best_score = np.empty(len(q), dtype=np.float32)
    column_score = np.full(len(d), -np.inf, dtype=np.float32)
    best_query = np.zeros(len(d), dtype=np.int64)
    for start in range(0, len(q), block):
        scores = q[start : start + block] @ d.T
        best_doc[start : start + block] = scores.argmax(axis=1)
        best_score[start : start + block] = scores.max(axis=1)
        top = scores.argmax(axis=0)
        top_score = scores[top, np.arange(len(d))]
        better = top_score > column_score
        column_score[better] = top_score[better]
        best_query[better] = top[better] + start
    return best_doc, best_score, best_query
