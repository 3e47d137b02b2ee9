"""Word-level evaluation: WordSim353 and SimLex-999 (Spearman), Google analogies (accuracy).

Word models (anything with a :class:`~embedlab.embedders.words.vectors.WordVectors`) are scored
on their own vocabulary, as gensim's ``evaluate_word_pairs`` and ``evaluate_word_analogies`` do:
pairs and questions with a word outside it are skipped and counted, never guessed. Any other
embedder is scored by embedding each word as a one-word text; for analogies its candidates are
then the distinct words of the question set, which the details say.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.embedders.base import Embedder, l2_normalize
from embedlab.embedders.words.vectors import WordVectors
from embedlab.errors import DataFormatError, InputError
from embedlab.eval.base import Task
from embedlab.eval.datasets import gensim_test_file

SIMILARITY_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_FILE = "questions-words.txt"
DEFAULT_RESTRICT_VOCAB = 300_000  # gensim's default: candidates are the 300k most frequent words
_BATCH = 256


# -- data ---------------------------------------------------------------------------------------
def read_pairs(path: str | os.PathLike[str]) -> list[tuple[str, str, float]]:
    """``word1 word2 score`` lines (tab or space separated); ``#`` comments and a header skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no file at {path}", "pass a file of 'word1<TAB>word2<TAB>score' lines")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        try:
            pairs.append((parts[0].strip(), parts[1].strip(), float(parts[2])))
        except (IndexError, ValueError):
            if not pairs and number <= 2:
                continue  # a header line
            raise DataFormatError(
                f"line {number} of {path} is not 'word1 word2 score'", "fix or remove that line"
            ) from None
    if not pairs:
        raise InputError(f"{path} holds no word pairs", "pass 'word1<TAB>word2<TAB>score' lines")
    return pairs


@dataclass(frozen=True)
class Question:
    section: str
    a: str
    b: str
    c: str
    expected: str


def read_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Analogy questions in the Google format: ``: section`` lines, then ``a b c d`` lines."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no file at {path}", "pass a file in the questions-words.txt format")
    section = "all"
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        parts = line.split()
        if len(parts) != 4:
            raise DataFormatError(
                f"line {number} of {path} has {len(parts)} words, expected 4 (a b c d)",
                "write each question as 'a b c d', meaning a is to b as c is to d",
            )
        out.append(Question(section, *parts))
    if not out:
        raise InputError(f"{path} holds no analogy questions", "pass 'a b c d' lines")
    return out


# -- word vectors of any model ------------------------------------------------------------------
class WordSpace:
    """Unit vectors for words, from a word model's vocabulary or by embedding each word."""

    def __init__(self, model: Embedder) -> None:

        self.model = model
        kv = getattr(model, "vectors", None)
        self.kv: WordVectors | None = kv if isinstance(kv, WordVectors) else None
        self._folded: dict[str, int] | None = None
        self._cache: dict[str, np.ndarray | None] = {}

    @property
    def has_vocabulary(self) -> bool:
        return self.kv is not None

    def row(self, word: str) -> int | None:
        """The vocabulary row for ``word``: exact, then lowercase, then case-insensitive."""
        assert self.kv is not None
        index = self.kv.index
        if word in index:
            return index[word]
        if word.lower() in index:
            return index[word.lower()]
        if self._folded is None:  # first (most frequent) row of each lowercased word
            self._folded = {}
            for w, i in index.items():
                self._folded.setdefault(w.lower(), i)
        return self._folded.get(word.lower())

    def vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        """Unit vectors of the words that have one (missing words are out of vocabulary)."""
        out: dict[str, np.ndarray] = {}
        if self.kv is not None:
            unit = self.kv.unit_vectors
            for word in words:
                row = self.row(word)
                if row is not None:
                    out[word] = unit[row]
            return out
        todo = sorted({w for w in words if w not in self._cache})
        if todo:
            for word, vector in zip(todo, self.model.embed(todo, normalize=True), strict=True):
                self._cache[word] = vector if vector.any() else None  # zero: nothing known
        return {w: v for w in words if (v := self._cache.get(w)) is not None}


def spearman(gold: list[float], predicted: list[float]) -> float:
    from scipy.stats import spearmanr

    if len(gold) < 2:
        return float("nan")
    return float(spearmanr(gold, predicted).statistic)


# -- tasks --------------------------------------------------------------------------------------
class WordSimilarity(Task):
    """Spearman correlation between cosine similarity and human ratings of word pairs.

    Standard data: WordSim353 (relatedness) and SimLex-999 (similarity proper, where antonyms and
    merely related words score low). ``data`` runs your own ``word1 word2 score`` file instead.
    """

    name = "wordsim"
    main_score = "wordsim353"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.data is not None:
            self.main_score = "spearman"  # type: ignore[misc]

    def datasets(self) -> dict[str, list[tuple[str, str, float]]]:
        if self.data is not None:
            sets = {"spearman": read_pairs(self.data)}
        else:
            sets = {name: read_pairs(gensim_test_file(f)) for name, f in SIMILARITY_SETS.items()}
        return {name: pairs[: self.limit] for name, pairs in sets.items()}

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        space = WordSpace(model)
        sets = self.datasets()
        words = sorted({w for pairs in sets.values() for a, b, _ in pairs for w in (a, b)})
        vectors = space.vectors(words)
        scores: dict[str, float] = {}
        details: dict[str, Any] = {}
        total = 0
        for name, pairs in sets.items():
            gold, predicted, missing = [], [], set[str]()
            for a, b, score in pairs:
                if a in vectors and b in vectors:
                    gold.append(score)
                    predicted.append(float(vectors[a] @ vectors[b]))
                else:
                    missing.update(w for w in (a, b) if w not in vectors)
            used = len(gold)
            scores[name] = spearman(gold, predicted)
            scores[f"{name}_oov_pairs"] = float(len(pairs) - used)
            details[name] = {
                "pairs": len(pairs),
                "used": used,
                "oov_pairs": len(pairs) - used,
                "oov_words": sorted(missing)[:200],
            }
            total += len(pairs)
        return scores, total, details


class Analogy(Task):
    """Google analogy questions (a : b :: c : ?), answered by the nearest word to b - a + c.

    Accuracy overall, on the semantic and syntactic halves, and per section, over the questions
    whose four words are among the first ``restrict_vocab`` (most frequent) words; the others
    are counted as out of vocabulary (gensim's ``evaluate_word_analogies`` rule).
    """

    name = "analogy"
    main_score = "analogy"

    def __init__(
        self, *args: Any, restrict_vocab: int = DEFAULT_RESTRICT_VOCAB, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if restrict_vocab < 1:
            raise InputError(f"restrict_vocab must be at least 1, got {restrict_vocab}", "")
        self.restrict_vocab = restrict_vocab

    def questions(self) -> list[Question]:
        source = self.data if self.data is not None else gensim_test_file(ANALOGY_FILE)
        return read_questions(source)[: self.limit]

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        questions = self.questions()
        space = WordSpace(model)
        candidates, unit, find = self._candidates(space, questions)
        answered: list[tuple[Question, np.ndarray]] = []
        for q in questions:
            rows = [find(w) for w in (q.a, q.b, q.c, q.expected)]
            if all(r is not None for r in rows):
                answered.append((q, np.array(rows)))
        correct = np.zeros(len(answered), dtype=bool)
        for start in range(0, len(answered), _BATCH):
            batch = np.stack([r for _, r in answered[start : start + _BATCH]])
            query = l2_normalize(unit[batch[:, 1]] - unit[batch[:, 0]] + unit[batch[:, 2]])
            scores = query @ unit.T
            np.put_along_axis(scores, batch[:, :3], -np.inf, axis=1)  # never answer a, b or c
            correct[start : start + len(batch)] = scores.argmax(axis=1) == batch[:, 3]
        return self._scores(questions, answered, correct, candidates)

    def _candidates(
        self, space: WordSpace, questions: list[Question]
    ) -> tuple[str, np.ndarray, Callable[[str], int | None]]:
        if space.kv is not None:
            limit = min(self.restrict_vocab, len(space.kv))
            unit = space.kv.unit_vectors[:limit]

            def find(word: str) -> int | None:
                row = space.row(word)
                return row if row is not None and row < limit else None

            return f"the {limit:,} most frequent words of the vocabulary", unit, find
        words = sorted({w for q in questions for w in (q.a, q.b, q.c, q.expected)})
        vectors = space.vectors(words)
        known = [w for w in words if w in vectors]
        position = {w: i for i, w in enumerate(known)}
        unit = (
            np.stack([vectors[w] for w in known]) if known else np.zeros((0, 1), dtype=np.float32)
        )
        note = (
            f"the {len(known):,} distinct words of the question set (the model has no vocabulary)"
        )
        return note, unit, position.get

    @staticmethod
    def _scores(
        questions: list[Question],
        answered: list[tuple[Question, np.ndarray]],
        correct: np.ndarray,
        candidates: str,
    ) -> tuple[dict[str, float], int, dict[str, Any]]:
        def accuracy(mask: np.ndarray) -> float:
            return float(correct[mask].mean()) if mask.any() else float("nan")

        sections = list(dict.fromkeys(q.section for q in questions))
        answered_sections = np.array([q.section for q, _ in answered], dtype=object)
        syntactic = np.array([s.startswith("gram") for s in answered_sections], dtype=bool)
        everything = np.ones(len(answered), dtype=bool)
        scores = {
            "analogy": accuracy(everything),
            "analogy_semantic": accuracy(~syntactic),
            "analogy_syntactic": accuracy(syntactic),
            "analogy_oov_questions": float(len(questions) - len(answered)),
        }
        per_section = {}
        for section in sections:
            mask = answered_sections == section
            total = sum(q.section == section for q in questions)
            scores[f"analogy:{section}"] = accuracy(mask)
            per_section[section] = {
                "questions": total,
                "answered": int(mask.sum()),
                "correct": int(correct[mask].sum()),
            }
        details = {
            "questions": len(questions),
            "answered": len(answered),
            "correct": int(correct.sum()),
            "oov_questions": len(questions) - len(answered),
            "candidates": candidates,
            "sections": per_section,
        }
        return scores, len(questions), details


class WordBenchmarks(Task):
    """``embedlab eval words MODEL``: WordSim353, SimLex-999 and the Google analogies at once."""

    name = "words"
    main_score = "wordsim353"

    def __init__(
        self, *args: Any, restrict_vocab: int = DEFAULT_RESTRICT_VOCAB, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if self.data is not None:
            raise InputError(
                "the words task runs the standard sets only",
                "use `eval wordsim --data FILE` or `eval analogy --data FILE` for your own data",
            )
        self.similarity = WordSimilarity(limit=self.limit)
        self.analogy = Analogy(limit=self.limit, restrict_vocab=restrict_vocab)

    def evaluate(self, model: Embedder) -> tuple[dict[str, float], int, dict[str, Any]]:
        sim_scores, sim_n, sim_details = self.similarity.evaluate(model)
        ana_scores, ana_n, ana_details = self.analogy.evaluate(model)
        return (
            {**sim_scores, **ana_scores},
            sim_n + ana_n,
            {**sim_details, "analogy": ana_details},
        )
