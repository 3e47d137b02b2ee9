"""Reducing a measured bias: learn a bias subspace from definitional pairs and remove it.

Two ways, both saved as ordinary models:

- ``"hard"`` (Bolukbasi et al. 2016, word vectors only): the gender direction is the top
  principal component of the centred definitional pairs (she/he, woman/man, ...); every word
  not on a short gender-specific list is *neutralised* (its part along the direction removed)
  and each *equalise* pair (man/woman, son/daughter, ...) is made to differ only along it, so a
  neutral word is equally far from both. The result is a plain word-vector model. Vectors are
  not unit-normalised first (as the paper does), so mean pooling weighs words as before.
- ``"project"`` (any model, sentence models included): the mean-difference direction of the
  pairs (or their top ``k`` components) is projected out of every text vector, by a
  :class:`~embedlab.embedders.debiased.DebiasedEmbedder` wrapper.

:func:`measure` runs the WEAT tests embedlab has (:mod:`embedlab.eval.bias`) before and after,
with the cost on STS and word similarity, so the trade is visible. Known limit (Gonen and
Goldberg 2019): removing a direction lowers WEAT-style scores while much of the bias stays
recoverable from the neighbourhoods of words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.embedders.debiased import DebiasedEmbedder, orthonormal
from embedlab.embedders.words.vectors import WordVectorEmbedder, WordVectors
from embedlab.errors import InputError
from embedlab.eval.bias import WEAT
from embedlab.eval.sts import STSBenchmark
from embedlab.eval.words import WordSimilarity

if TYPE_CHECKING:
    from embedlab.embedders.base import Embedder

Pairs = Sequence[tuple[str, str]]

# Bolukbasi et al. (2016), definitional pairs (female, male), lowercased for uncased vectors
GENDER_PAIRS: tuple[tuple[str, str], ...] = (
    ("woman", "man"),
    ("girl", "boy"),
    ("she", "he"),
    ("mother", "father"),
    ("daughter", "son"),
    ("gal", "guy"),
    ("female", "male"),
    ("her", "his"),
    ("herself", "himself"),
    ("mary", "john"),
)
# Bolukbasi et al.'s equalise pairs (single words, lowercased, duplicates dropped)
EQUALIZE_PAIRS: tuple[tuple[str, str], ...] = (
    ("monastery", "convent"),
    ("spokesman", "spokeswoman"),
    ("dad", "mom"),
    ("men", "women"),
    ("councilman", "councilwoman"),
    ("grandpa", "grandma"),
    ("grandsons", "granddaughters"),
    ("testosterone", "estrogen"),
    ("uncle", "aunt"),
    ("wives", "husbands"),
    ("father", "mother"),
    ("he", "she"),
    ("boy", "girl"),
    ("boys", "girls"),
    ("brother", "sister"),
    ("brothers", "sisters"),
    ("businessman", "businesswoman"),
    ("chairman", "chairwoman"),
    ("colt", "filly"),
    ("congressman", "congresswoman"),
    ("dads", "moms"),
    ("fatherhood", "motherhood"),
    ("fathers", "mothers"),
    ("fraternity", "sorority"),
    ("gelding", "mare"),
    ("gentleman", "lady"),
    ("gentlemen", "ladies"),
    ("grandfather", "grandmother"),
    ("grandson", "granddaughter"),
    ("himself", "herself"),
    ("his", "her"),
    ("king", "queen"),
    ("kings", "queens"),
    ("male", "female"),
    ("males", "females"),
    ("man", "woman"),
    ("nephew", "niece"),
    ("prince", "princess"),
    ("schoolboy", "schoolgirl"),
    ("son", "daughter"),
    ("sons", "daughters"),
)
# words that keep their gender: the pairs above, and a few more of the paper's list
GENDER_SPECIFIC: frozenset[str] = frozenset(
    {w for pair in (*GENDER_PAIRS, *EQUALIZE_PAIRS) for w in pair}
    | {"him", "hers", "ladies", "lady", "guys", "gals", "wife", "husband", "bride", "groom"}
    | {"actress", "actor", "waitress", "waiter", "widow", "widower", "mr", "mrs", "ms"}
)
HOW = ("pca", "mean")
GENDER_TESTS = ("weat6", "weat7", "weat8")  # the WEAT tests with gendered targets or attributes
METHODS = ("auto", "hard", "project")


def bias_subspace(
    model: Embedder, pairs: Pairs = GENDER_PAIRS, *, k: int = 1, how: str = "pca"
) -> np.ndarray:
    """``(k, dim)`` orthonormal bias directions learned from definitional ``pairs``.

    ``how="pca"``: the top ``k`` principal components of each pair's two unit vectors minus
    their mean (Bolukbasi et al.); ``how="mean"``: the normalised difference of the means of
    the first and second words (``k`` must be 1). Pairs with a word the model has no vector
    for are skipped; fewer than two usable pairs is an error.
    """
    if how not in HOW:
        raise InputError(f"unknown way {how!r} to learn the bias subspace", "use 'pca' or 'mean'")
    if how == "mean" and k != 1:
        raise InputError("the mean difference gives one direction", "use k=1, or how='pca'")
    words = sorted({w for pair in pairs for w in pair})
    if not words:
        raise InputError("no definitional pairs given", "pass pairs such as [('she', 'he')]")
    vectors = dict(zip(words, model.embed(words, normalize=True), strict=True))
    usable = [(a, b) for a, b in pairs if vectors[a].any() and vectors[b].any()]
    if len(usable) < max(2, k):
        raise InputError(
            f"only {len(usable)} of {len(pairs)} definitional pairs have vectors in {model.name}",
            "pass pairs of words the model knows (lowercase for uncased models)",
        )
    first = np.stack([vectors[a] for a, _ in usable]).astype(np.float64)
    second = np.stack([vectors[b] for _, b in usable]).astype(np.float64)
    if how == "mean":
        return orthonormal(first.mean(axis=0) - second.mean(axis=0), model.dim)
    centre = (first + second) / 2
    stacked = np.vstack([first - centre, second - centre])
    _, _, vt = np.linalg.svd(stacked, full_matrices=False)
    directions = vt[:k]
    # orient each direction from the second words to the first (she - he), for readable signs
    signs = np.sign((first - second).mean(axis=0) @ directions.T)
    return orthonormal(directions * np.where(signs == 0, 1, signs)[:, None], model.dim)


def is_word_model(model: Embedder) -> bool:
    """Whether ``model`` averages a table of word vectors (so hard debiasing applies)."""
    return isinstance(model, WordVectorEmbedder) and isinstance(model.vectors, WordVectors)


def debias(
    model: Embedder,
    pairs: Pairs = GENDER_PAIRS,
    *,
    method: str = "auto",
    k: int = 1,
    how: str | None = None,
) -> Embedder:
    """A debiased copy of ``model``: ``"hard"`` for word vectors, ``"project"`` for any model.

    ``method="auto"`` is hard debiasing for word-vector models, projection otherwise; ``how``
    defaults to ``"pca"`` for hard debiasing and ``"mean"`` for projection (module docstring).
    """
    if method not in METHODS:
        raise InputError(f"unknown debias method {method!r}", f"use one of {', '.join(METHODS)}")
    if model.trainable and not model.is_fitted:
        raise InputError(f"{model.name} is not fitted", "fit it, or debias a pretrained model")
    hard = method == "hard" or (method == "auto" and is_word_model(model))
    if hard and not is_word_model(model):
        raise InputError(
            f"hard debiasing changes a table of word vectors, and {model.name} has none",
            "use method='project' for sentence models",
        )
    how = how or ("pca" if hard else "mean")
    directions = bias_subspace(model, pairs, k=k, how=how)
    description = f"{len(pairs)} definitional pairs, {how}, k={len(directions)}"
    if hard:
        assert isinstance(model, WordVectorEmbedder)
        return hard_debias(model, directions, description=description)
    return DebiasedEmbedder(model, directions, description=f"projection: {description}")


def hard_debias(
    model: WordVectorEmbedder,
    directions: np.ndarray,
    *,
    specific: frozenset[str] = GENDER_SPECIFIC,
    equalize: Pairs = EQUALIZE_PAIRS,
    description: str = "",
) -> WordVectorEmbedder:
    """Neutralise every word not in ``specific``, equalise ``equalize``: a new word model."""
    kv = model.vectors
    assert kv is not None
    u = np.asarray(directions, dtype=np.float32)
    table = np.array(kv.vectors, dtype=np.float32)  # a copy: the model's may be memory-mapped
    neutral = np.array([w.lower() not in specific for w in kv.words], dtype=bool)
    table[neutral] -= (table[neutral] @ u.T) @ u
    for a, b in equalize:
        rows = [kv.index.get(a), kv.index.get(b)]
        if None in rows:
            continue
        ia, ib = rows
        va, vb = table[ia].astype(np.float64), table[ib].astype(np.float64)
        centre = (va + vb) / 2
        rest = centre - (centre @ u.T) @ u
        radius = (np.linalg.norm(va) + np.linalg.norm(vb)) / 2
        along = np.sqrt(max(float(radius**2 - rest @ rest), 0.0))
        for row, v in ((ia, va), (ib, vb)):
            part = ((v - centre) @ u.T) @ u
            norm = np.linalg.norm(part)
            table[row] = rest + (along * part / norm if norm > 0 else 0.0)
    params = {k: v for k, v in model.get_params().items() if k != "remove_components"}
    out = WordVectorEmbedder(kv.words, table, counts=kv.counts, **params)
    out.name = f"hard-debiased({model.name})"
    out.debias_description = description  # type: ignore[attr-defined]
    return out


@dataclass
class DebiasReport:
    """WEAT effect sizes and other task scores before and after debiasing."""

    before: str
    after: str
    weat: list[tuple[str, str, float, float]]  # test, what it measures, effect before, after
    costs: list[tuple[str, float, float]]  # task score name, before, after
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "weat": [
                {"test": t, "measures": m, "effect_before": b, "effect_after": a}
                for t, m, b, a in self.weat
            ],
            "costs": [{"score": s, "before": b, "after": a} for s, b, a in self.costs],
            "notes": self.notes,
        }


def measure(
    before: Embedder,
    after: Embedder,
    *,
    sts_limit: int | None = 500,
    wordsim: bool = True,
    permutations: int = 1000,
) -> DebiasReport:
    """WEAT before/after, and the cost on STS-B (first ``sts_limit`` pairs) and word similarity."""
    task = WEAT(permutations=permutations)
    weat_rows = []
    results = [task.run(m) for m in (before, after)]
    for test in task.tests:
        key = f"{test.name}_effect"
        weat_rows.append(
            (
                test.name,
                f"{test.x_name} vs {test.y_name} / {test.a_name} vs {test.b_name}",
                results[0].scores[key],
                results[1].scores[key],
            )
        )
    for label, names in (("gender tests", GENDER_TESTS), ("all tests", None)):
        effects = [
            [abs(r.scores[f"{t.name}_effect"]) for t in task.tests if not names or t.name in names]
            for r in results
        ]
        weat_rows.append(
            ("mean |effect|", label, float(np.mean(effects[0])), float(np.mean(effects[1])))
        )
    costs = []
    tasks: list[Any] = [STSBenchmark(limit=sts_limit)]
    if wordsim:
        tasks.append(WordSimilarity())
    for other in tasks:
        first, second = other.run(before), other.run(after)
        costs.append(
            (f"{other.name}: {first.main_score_name}", first.main_score, second.main_score)
        )
    return DebiasReport(before.name, after.name, weat_rows, costs)
