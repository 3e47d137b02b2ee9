"""WordNet usage -> definition retrieval: a domain task made from data the project already reads.

A WordNet gloss often ends with example sentences in quotes (``bank: a financial institution
...; "he cashed a check at the bank"``). The query is a synset's first example sentence, the
document its definition; the split is by synset, so no definition seen in training is asked
for in the test. The test set is 2,000 held-out synsets: each query ranks all 2,000 test
definitions (nDCG@10). The text comes from ``embedlab data corpus wordnet``.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from embedlab.embedders.base import Embedder
from embedlab.errors import InputError
from embedlab.eval.base import Task, embed_for_task
from embedlab.eval.retrieval import retrieval_scores
from embedlab.text.corpora import corpus_path

TEST_SYNSETS = 2_000
SPLIT_SEED = 0
_QUOTED = re.compile(r'"([^"]+)"')


@dataclass(frozen=True)
class Synset:
    """One synset with a usage example: its lemmas, definition and example sentences."""

    lemmas: str
    definition: str
    examples: tuple[str, ...]


def read_synsets(path: str | os.PathLike[str] | None = None) -> list[Synset]:
    """Synsets with a definition and at least one example, in file order.

    ``path`` is the prepared corpus (``lemma, lemma: definition; "example"``), by default the
    one ``embedlab data corpus wordnet`` wrote.
    """
    source = Path(path) if path is not None else corpus_path("wordnet")
    synsets = []
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            lemmas, sep, gloss = line.rstrip("\n").partition(": ")
            if not sep or '"' not in gloss:
                continue
            definition = gloss.split('"', 1)[0].strip(" ;")
            examples = tuple(e.strip() for e in _QUOTED.findall(gloss) if e.strip())
            if definition and examples:
                synsets.append(Synset(lemmas, definition, examples))
    if not synsets:
        raise InputError(
            f"{source} has no WordNet glosses with quoted examples",
            "prepare it with `embedlab data corpus wordnet`",
        )
    return synsets


def split_synsets(
    synsets: list[Synset], *, test: int = TEST_SYNSETS, seed: int = SPLIT_SEED
) -> tuple[list[Synset], list[Synset]]:
    """(train, test) by synset, shuffled with ``seed``; the test part has ``test`` synsets and
    no training synset has a test definition."""
    if not 0 < test < len(synsets):
        raise InputError(
            f"cannot hold out {test} of {len(synsets)} synsets", "pass a smaller test size"
        )
    order = list(range(len(synsets)))
    random.Random(seed).shuffle(order)
    shuffled = [synsets[i] for i in order]
    held = shuffled[:test]
    asked = {s.definition for s in held}  # a few glosses repeat across synsets: never train on
    return [s for s in shuffled[test:] if s.definition not in asked], held


def usage_pairs(synsets: list[Synset], *, all_examples: bool = True) -> list[tuple[str, str]]:
    """(example sentence, definition) training pairs: every example, or the first of each."""
    return [
        (example, s.definition)
        for s in synsets
        for example in (s.examples if all_examples else s.examples[:1])
    ]


def usage_retrieval(synsets: list[Synset]) -> tuple[list[str], list[str], list[set[int]]]:
    """Queries (first examples), the corpus (definitions), and each query's relevant index."""
    queries = [s.examples[0] for s in synsets]
    corpus = [s.definition for s in synsets]
    return queries, corpus, [{i} for i in range(len(synsets))]


class WordNetUsage(Task):
    """``embedlab eval wordnet-usage MODEL``: usage sentence -> definition, nDCG@10."""

    name: ClassVar[str] = "wordnet-usage"
    main_score: ClassVar[str] = "ndcg@10"

    def __init__(self, data: str | Path | None = None, limit: int | None = None, **_: Any) -> None:
        super().__init__(data=data, limit=limit)

    def load(self) -> tuple[list[str], list[str], list[set[int]]]:
        _, test = split_synsets(read_synsets(self.data))
        return usage_retrieval(test[: self.limit] if self.limit else test)

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        queries, corpus, relevant = self.load()
        doc_vectors = embed_for_task(model, corpus)
        query_vectors = model.embed_queries(queries)
        scores = retrieval_scores(query_vectors, doc_vectors, relevant)
        return scores, len(queries), {"corpus": len(corpus), "split_seed": SPLIT_SEED}
