"""Why two texts are close: their cosine split exactly into token-pair contributions.

For a model whose text vector is a weighted mean of token vectors, ``a = sum_i w_i A_i`` and
``b = sum_j v_j B_j``, so

    cos(a, b) = sum_ij  w_i v_j (A_i . B_j) / (|a| |b|)

is a sum over token pairs with nothing left over: the ``contributions`` matrix adds up to the
score. L2 normalisation changes no cosine, so it needs no term; SIF weights are the ``w_i``;
a removed common component is removed from each token vector (a linear map commutes with the
mean). Bag-of-words models (one-hot, count, TF-IDF) are a sum over shared terms instead, each
term's product split evenly over its occurrence pairs. CLS, last-token and max pooling are no
such sum: for those transformers the pairs come from integrated Jacobians (an approximation,
``approximate=True``, its error against the true score stated); anything else is refused.

This module only reads what ``embed_tokens`` shows (tokens, lookup or contextual rows, pooled
vector) and checks that those rows rebuild the pooled vector before it claims exactness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.text.tokenize import word_tokens

if TYPE_CHECKING:
    from embedlab.embedders.base import Embedder, TokenEmbeddings

# a pooled vector rebuilt from its token rows must agree to this relative error (float32 math)
REBUILD_TOLERANCE = 1e-4
# ... or to this, where the walkthrough says its vector came from another runtime (bf16, ONNX):
# the explanation is then of the float32 token vectors, and its error shows the runtime's gap
RUNTIME_TOLERANCE = 0.05
_SPECIAL = re.compile(r"^(\[[A-Za-z]+\]|<[^<>\s]+>)$")  # [CLS] [SEP] <s> </s> <pad> [markers]
_UNSUPPORTED_POOLING = ("cls", "lasttoken", "max")


class NotExplainableError(EmbedlabError):
    """The model's similarity is not a sum over token pairs that embedlab can show exactly."""


@dataclass
class Side:
    """One text as the explanation uses it: tokens, their vectors and pooling weights."""

    text: str
    tokens: list[str]
    rows: np.ndarray  # (n, d) float64, the vectors that are pooled
    weights: np.ndarray  # (n,) pooling weight of each row: vector = weights @ rows
    vector: np.ndarray  # (d,) float64, the pooled vector (direction as the model's)
    ids: list[int] = field(default_factory=list)
    offsets: list[tuple[int, int]] | None = None


@dataclass
class Explanation:
    """A similarity score split over token pairs: ``contributions.sum() == score`` (see error).

    ``contributions[i, j]`` is what the pair (``tokens_a[i]``, ``tokens_b[j]``) adds to the
    cosine; ``weights_a``/``weights_b`` are the pooling weights that entered it.
    """

    model: str
    kind: str  # "mean pooling" or "shared terms"
    text_a: str
    text_b: str
    tokens_a: list[str]
    tokens_b: list[str]
    contributions: np.ndarray
    score: float  # the model's own cosine of the two texts (embed, normalised, dot)
    weights_a: np.ndarray
    weights_b: np.ndarray
    notes: list[str] = field(default_factory=list)
    # what no token pair carries (integrated gradients: the two reference texts' similarity and
    # each token against the other side's reference); 0 for the exact kinds
    rest: float = 0.0
    approximate: bool = False
    offsets_a: list[tuple[int, int]] | None = None  # each token's characters in text_a
    offsets_b: list[tuple[int, int]] | None = None
    parts: dict[str, float] = field(default_factory=dict)  # hybrid: each part's w * cosine

    @property
    def total(self) -> float:
        """The sum of all contributions (and ``rest``); equals ``score`` up to ``error``."""
        return float(self.contributions.sum()) + self.rest

    @property
    def error(self) -> float:
        """``|total - score|``: how far the explanation is from the model's own number."""
        return abs(self.total - self.score)

    @property
    def per_token_a(self) -> np.ndarray:
        """What each token of ``text_a`` adds in all (its row of ``contributions``)."""
        return self.contributions.sum(axis=1)

    @property
    def per_token_b(self) -> np.ndarray:
        return self.contributions.sum(axis=0)

    def top_pairs(self, k: int = 5, *, special: bool = False) -> list[tuple[str, str, float]]:
        """The ``k`` pairs adding the most, as (token_a, token_b, contribution).

        ``special=False`` leaves out pairs with a model's own markers ([CLS], [SEP], <s>): they
        are part of the sum (see :meth:`special_share`) but say nothing about the words.
        """
        order = np.argsort(-self.contributions, axis=None)
        out: list[tuple[str, str, float]] = []
        m = self.contributions.shape[1]
        for flat in order:
            i, j = divmod(int(flat), m)
            ta, tb = self.tokens_a[i], self.tokens_b[j]
            if self.contributions[i, j] <= 0:
                break  # sorted: the rest add nothing, or take away
            if not special and (is_special(ta) or is_special(tb)):
                continue
            out.append((ta, tb, float(self.contributions[i, j])))
            if len(out) == k:
                break
        return out

    def special_share(self) -> float:
        """The part of the score made by pairs with a marker token ([CLS], [SEP], ...)."""
        sa = np.array([is_special(t) for t in self.tokens_a], dtype=bool)
        sb = np.array([is_special(t) for t in self.tokens_b], dtype=bool)
        mask = sa[:, None] | sb[None, :]
        return float(self.contributions[mask].sum()) if mask.size else 0.0

    def shared_terms(self) -> dict[str, float]:
        """Contributions of pairs of equal tokens, summed per token, largest first."""
        terms: dict[str, float] = {}
        for i, ta in enumerate(self.tokens_a):
            for j, tb in enumerate(self.tokens_b):
                if ta == tb and self.contributions[i, j] != 0:
                    terms[ta] = terms.get(ta, 0.0) + float(self.contributions[i, j])
        return dict(sorted(terms.items(), key=lambda kv: -kv[1]))

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "model": self.model,
            "kind": self.kind,
            "text_a": self.text_a,
            "text_b": self.text_b,
            "score": self.score,
            "total": self.total,
            "error": self.error,
            "approximate": self.approximate,
            "rest": self.rest,
            "parts": {name: round(v, 6) for name, v in self.parts.items()},
            "tokens_a": self.tokens_a,
            "tokens_b": self.tokens_b,
            "weights_a": _floats(self.weights_a),
            "weights_b": _floats(self.weights_b),
            "per_token_a": _floats(self.per_token_a),
            "per_token_b": _floats(self.per_token_b),
            "contributions": [_floats(row) for row in self.contributions],
            "top_pairs": [
                {"a": a, "b": b, "contribution": round(c, 6)} for a, b, c in self.top_pairs(top)
            ],
            "special_share": round(self.special_share(), 6),
            "shared_terms": {t: round(c, 6) for t, c in self.shared_terms().items()},
            "notes": self.notes,
        }


def is_special(token: str) -> bool:
    return bool(_SPECIAL.match(token))


def _floats(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


def explain_pair(model: Embedder, a: str, b: str) -> Explanation:
    """The cosine of ``a`` and ``b`` under ``model``, split over token pairs (module docstring)."""
    score = float(model.similarity(a, b))
    if hasattr(model, "embed_sparse") and hasattr(model, "vocabulary"):
        return _explain_terms(model, a, b, score)
    if getattr(model, "method", "") == "hybrid" and hasattr(model, "parts"):
        return _explain_hybrid(model, a, b, score)
    if _pooled_token(model):
        return _explain_integrated(model, a, b, score)
    side_a, notes = _mean_side(model, a)
    side_b, notes_b = _mean_side(model, b)
    notes += [n for n in notes_b if n not in notes]
    contributions = _pair_matrix(side_a, side_b)
    explanation = Explanation(
        model=model.name,
        kind="mean pooling",
        text_a=side_a.text,
        text_b=side_b.text,
        tokens_a=side_a.tokens,
        tokens_b=side_b.tokens,
        contributions=contributions,
        score=score,
        weights_a=side_a.weights,
        weights_b=side_b.weights,
        notes=notes,
        offsets_a=side_a.offsets,
        offsets_b=side_b.offsets,
    )
    _check_total(explanation)
    return explanation


def _pair_matrix(a: Side, b: Side) -> np.ndarray:
    norm_a, norm_b = np.linalg.norm(a.vector), np.linalg.norm(b.vector)
    if norm_a == 0 or norm_b == 0:
        return np.zeros((len(a.tokens), len(b.tokens)))
    pairs = (a.rows @ b.rows.T) * a.weights[:, None] * b.weights[None, :]
    return pairs / (norm_a * norm_b)


def _mean_side(model: Embedder, text: str) -> tuple[Side, list[str]]:
    """The token rows and pooling weights that rebuild ``model``'s vector of ``text``."""
    walk: TokenEmbeddings = model.embed_tokens(text)
    mode = walk.pooling.split()[0].lower() if walk.pooling else ""
    if mode in _UNSUPPORTED_POOLING:
        raise NotExplainableError(
            f"{model.name} pools with {walk.pooling!r}, so its cosine is not a sum over token "
            "pairs and explain cannot split it exactly (integrated gradients need a transformer "
            "pooling its last layer, with no truncate_dim)",
            "explain a mean-pooled model (minilm, static-minilm, glove-50d) or a TF-IDF model",
        )
    rows = (walk.contextual if walk.contextual is not None else walk.lookup).astype(np.float64)
    vector = np.asarray(walk.vector, dtype=np.float64)
    notes: list[str] = []
    if rows.shape[1] > vector.shape[0]:  # truncate_dim keeps the first dims
        rows = rows[:, : vector.shape[0]]
        notes.append(f"token vectors cut to the model's first {vector.shape[0]} dims")
    components = getattr(model, "components", None)
    if isinstance(components, np.ndarray) and components.size:
        c = components.astype(np.float64)
        rows = rows - (rows @ c.T) @ c
        notes.append(f"{len(c)} common component(s) removed from each token vector, as pooled")
    weights = _weights(model, walk, rows, vector)
    rebuilt = weights @ rows
    scale = max(float(np.linalg.norm(vector)), 1e-12)
    if np.linalg.norm(rebuilt - vector) > REBUILD_TOLERANCE * scale:
        notes.append(
            "the model's vector comes from another runtime (" + "; ".join(walk.notes) + "): the "
            "pairs split the cosine of the float32 token vectors, and error is the runtime's gap"
        )
    vector = rebuilt
    if "sif" in walk.pooling.lower():
        notes.append("SIF weights enter each pair as w_i * v_j")
    side = Side(walk.text, list(walk.tokens), rows, weights, vector, list(walk.ids), walk.offsets)
    return side, notes


def _weights(
    model: Embedder, walk: TokenEmbeddings, rows: np.ndarray, vector: np.ndarray
) -> np.ndarray:
    """Pooling weights w with ``w @ rows == vector``: a plain mean, or SIF's (least squares).

    Refuses when no such weights rebuild the vector (windows, an unusual ``finish``), so every
    explanation that comes back is exact.
    """
    weights = np.zeros(len(rows))
    norm = np.linalg.norm(vector)
    active = np.flatnonzero(np.linalg.norm(rows, axis=1) > 0)
    if norm == 0 or not len(active):
        return weights
    total = rows[active].sum(axis=0)
    scale = float(total @ vector / (total @ total)) if total.any() else 0.0
    off = float(np.linalg.norm(scale * total - vector) / norm)
    other_runtime = any("runtime" in note for note in walk.notes)
    if off <= (RUNTIME_TOLERANCE if other_runtime else REBUILD_TOLERANCE):
        weights[active] = scale
        return weights
    if "sif" in walk.pooling.lower():
        solved = np.linalg.lstsq(rows[active].T, vector, rcond=None)[0]
        if np.linalg.norm(solved @ rows[active] - vector) <= REBUILD_TOLERANCE * norm:
            weights[active] = solved
            return weights
    raise NotExplainableError(
        f"the token vectors {model.name} shows for {walk.text[:40]!r} do not rebuild its text "
        f"vector as a weighted mean (pooling: {walk.pooling}; {'; '.join(walk.notes) or 'no notes'})",
        "explain shorter texts (one window, no truncation), or a mean-pooled model",
    )


def _explain_terms(model: Embedder, a: str, b: str, score: float) -> Explanation:
    """Bag-of-words models: the cosine is a sum over shared vocabulary terms."""
    walk_a, walk_b = model.embed_tokens(a), model.embed_tokens(b)
    va = np.asarray(walk_a.vector, dtype=np.float64)
    vb = np.asarray(walk_b.vector, dtype=np.float64)
    contributions = np.zeros((len(walk_a.tokens), len(walk_b.tokens)))
    norms = np.linalg.norm(va) * np.linalg.norm(vb)
    ids_a, ids_b = np.asarray(walk_a.ids, dtype=np.int64), np.asarray(walk_b.ids, dtype=np.int64)
    if norms > 0:
        for term in set(ids_a[ids_a >= 0].tolist()) & set(ids_b[ids_b >= 0].tolist()):
            rows, cols = np.flatnonzero(ids_a == term), np.flatnonzero(ids_b == term)
            share = va[term] * vb[term] / norms / (len(rows) * len(cols))
            contributions[np.ix_(rows, cols)] = share
    explanation = Explanation(
        model=model.name,
        kind="shared terms",
        text_a=walk_a.text,
        text_b=walk_b.text,
        tokens_a=list(walk_a.tokens),
        tokens_b=list(walk_b.tokens),
        contributions=contributions,
        score=score,
        weights_a=_term_weights(walk_a.ids, va),
        weights_b=_term_weights(walk_b.ids, vb),
        notes=[f"{model.name} ({walk_a.pooling}): only terms in both texts add to the cosine"],
        offsets_a=walk_a.offsets,
        offsets_b=walk_b.offsets,
    )
    _check_total(explanation)
    return explanation


def _term_weights(ids: list[int], vector: np.ndarray) -> np.ndarray:
    """Each token's term weight in its text's vector, split over the term's occurrences."""
    counts: dict[int, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    return np.array([vector[i] / counts[i] if i >= 0 else 0.0 for i in ids])


def _check_total(explanation: Explanation) -> None:
    if explanation.error > 1e-3:
        explanation.notes.append(
            f"the contributions add up to {explanation.total:.6f}, not the model's "
            f"{explanation.score:.6f}: the token walkthrough differs from embed() for this text"
        )


# -- CLS, last-token and max pooling: integrated gradients (an approximation) ---------------------
IG_STEPS = 16  # midpoint steps: an error near 5e-4 on MiniLM with CLS pooling
IG_BATCH = 64  # sequences per Jacobian-vector product


def _pooled_token(model: Embedder) -> bool:
    """A transformer pooling one token (or the max) of its last layer, uncut: IG applies."""
    params = getattr(model, "params", {})
    return (
        getattr(model, "pooling", None) in _UNSUPPORTED_POOLING
        and hasattr(model, "_torch_model")  # any runtime: IG runs on torch, error shows the gap
        and params.get("layer") is None
        and not params.get("truncate_dim")
    )


def _explain_integrated(
    model: Any, a: str, b: str, score: float, steps: int = IG_STEPS
) -> Explanation:
    """Integrated Jacobians (Moeller et al. 2023) of the unit text vector ``g``.

    Along the straight path from a reference (the text's own [CLS]/[SEP] with every other token
    the padding token) to the text, ``g(x) - g(r) = sum_i c_i`` exactly, ``c_i`` being token
    ``i``'s integrated Jacobian-vector product (here a midpoint sum of ``steps``). So
    ``g(a).g(b) = sum_ij c_i.d_j + rest`` (rest: ``g(r_a).g(r_b)`` and each token against the
    other reference), up to the quadrature error reported as ``error``.
    """
    import copy

    import torch

    network = copy.deepcopy(model._torch_model())
    for module in network.modules():  # forward-mode AD has no fused attention kernels
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            config._attn_implementation = "eager"
    tokens_a, c_a, ref_a = _integrated_side(model, network, a, steps, torch)
    tokens_b, c_b, ref_b = _integrated_side(model, network, b, steps, torch)
    contributions = c_a @ c_b.T
    rest = float(ref_a @ ref_b + (c_a @ ref_b).sum() + (c_b @ ref_a).sum())
    explanation = Explanation(
        model=model.name,
        kind="integrated gradients",
        text_a=a,
        text_b=b,
        tokens_a=tokens_a,
        tokens_b=tokens_b,
        contributions=contributions,
        score=score,
        weights_a=np.linalg.norm(c_a, axis=1),
        weights_b=np.linalg.norm(c_b, axis=1),
        rest=rest,
        approximate=True,
    )
    explanation.notes.append(
        f"an approximation ({model.pooling} pooling is no sum over tokens): integrated "
        f"Jacobians ({steps} midpoint steps) from a reference of padding tokens; the pairs and rest "
        f"({rest:+.4f}: the references' similarity and tokens against the other reference) add "
        f"up to {explanation.total:.4f}, error {explanation.error:.1e} against the true score"
    )
    return explanation


def _integrated_side(
    model: Any, network: Any, text: str, steps: int, torch: Any
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokens, per-token integrated contributions ``(n, d)`` and the reference's unit vector."""
    state = model._loaded()
    encoded = model._tokenize([text])
    feed = {k: torch.from_numpy(v) for k, v in model._pad(encoded, np.arange(1)).items()}
    ids = feed["input_ids"]
    tokens = state.tokenizer.convert_ids_to_tokens(ids[0].tolist())
    special = set(state.tokenizer.all_special_ids) - {state.tokenizer.pad_token_id}
    keep = torch.tensor([[i in special for i in ids[0].tolist()]])
    pad = state.tokenizer.pad_token_id or 0
    table = network.get_input_embeddings()
    with torch.no_grad():
        x = table(ids)
        r = table(torch.where(keep, ids, torch.full_like(ids, pad)))
    n = x.shape[1]
    delta = x - r
    tangents = torch.zeros((n, *x.shape[1:]))
    tangents[torch.arange(n), torch.arange(n)] = delta[0]
    extra = {k: v.expand(n, -1) for k, v in feed.items() if k not in ("input_ids",)}

    def unit(embeds: Any, more: dict[str, Any]) -> Any:
        hidden = network(inputs_embeds=embeds, **more).last_hidden_state
        pooled = _pool(hidden, more["attention_mask"], model.pooling, torch)
        return torch.nn.functional.normalize(pooled, dim=-1)

    # midpoint rule: the integrand can turn sharply (Gauss-Legendre with 8 nodes did worse)
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    points = (r + alphas[:, None, None] * delta).repeat_interleave(n, dim=0)  # (steps * n, ...)
    directions = tangents.repeat(steps, 1, 1)
    total = torch.zeros((n, model.dim), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(points), IG_BATCH):
            chunk = slice(start, start + IG_BATCH)
            rows = points[chunk].clone()
            extra_rows = {k: v[:1].expand(len(rows), -1) for k, v in extra.items()}
            _, jvp = torch.func.jvp(
                lambda e, more=extra_rows: unit(e, more), (rows,), (directions[chunk],)
            )
            total.index_add_(0, torch.arange(start, start + len(rows)) % n, jvp.double())
        reference = unit(r.clone(), {k: v[:1] for k, v in extra.items()})[0].double()
    total /= steps
    return tokens, total.numpy(), reference.numpy()


def _pool(hidden: Any, mask: Any, mode: str, torch: Any) -> Any:
    """CLS (first real token), last real token, or max over real tokens, as
    ``embedders.transformers.pooling.pool`` does (not imported: its package imports base)."""
    if mode == "cls":
        return hidden[torch.arange(hidden.shape[0]), mask.to(torch.int).argmax(dim=1)]
    if mode == "lasttoken":
        last = mask.shape[1] - 1 - mask.flip(1).to(torch.int).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0]), last]
    return hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values


# -- hybrid models: each part's explanation, weighted, on the words of the texts ------------------
MARKERS = "[markers]"  # the model's own tokens ([CLS], [SEP]) that cover no word


def _explain_hybrid(model: Any, a: str, b: str, score: float) -> Explanation:
    """``sum_k w_k cos_k``: each part explained, its pairs mapped onto words and weighted.

    Parts tokenise differently (TF-IDF words, a transformer's subwords), so every token is
    mapped by its characters to the word it covers; ``parts`` says how much of the score each
    part makes (the keyword side against the dense side).
    """
    words_a, words_b = word_tokens(a, lowercase=False), word_tokens(b, lowercase=False)
    tokens_a = [w for w, _ in words_a] + [MARKERS]
    tokens_b = [w for w, _ in words_b] + [MARKERS]
    contributions = np.zeros((len(tokens_a), len(tokens_b)))
    parts: dict[str, float] = {}
    notes: list[str] = []
    approximate = False
    rest = 0.0
    for name, part in model.parts.items():
        weight = model.weights[name]
        inner = part.explain(a, b)
        if inner.offsets_a is None or inner.offsets_b is None:
            raise NotExplainableError(
                f"the hybrid part {name!r} gives no character offsets for its tokens, so its "
                "pairs cannot be put on the words of the texts",
                "explain the parts one by one: model.parts[name].explain(a, b)",
            )
        rows = _word_of(inner.offsets_a, words_a)
        cols = _word_of(inner.offsets_b, words_b)
        np.add.at(contributions, (rows[:, None], cols[None, :]), weight * inner.contributions)
        parts[name] = weight * inner.total
        rest += weight * inner.rest
        approximate = approximate or inner.approximate
        notes += [f"{name} (weight {weight:.3g}, {inner.kind}): {note}" for note in inner.notes]
    keep_a = [i for i in range(len(tokens_a)) if i < len(words_a) or contributions[i].any()]
    keep_b = [j for j in range(len(tokens_b)) if j < len(words_b) or contributions[:, j].any()]
    return Explanation(
        model=model.name,
        kind="hybrid",
        text_a=a,
        text_b=b,
        tokens_a=[tokens_a[i] for i in keep_a],
        tokens_b=[tokens_b[j] for j in keep_b],
        contributions=contributions[np.ix_(keep_a, keep_b)],
        score=score,
        weights_a=np.ones(len(keep_a)),
        weights_b=np.ones(len(keep_b)),
        notes=notes,
        rest=rest,
        approximate=approximate,
        offsets_a=[words_a[i][1] if i < len(words_a) else (0, 0) for i in keep_a],
        offsets_b=[words_b[j][1] if j < len(words_b) else (0, 0) for j in keep_b],
        parts=parts,
    )


def _word_of(
    offsets: list[tuple[int, int]], words: list[tuple[str, tuple[int, int]]]
) -> np.ndarray:
    """For each token span, the index of the word it overlaps (len(words): none, a marker)."""
    out = np.full(len(offsets), len(words), dtype=np.int64)
    for k, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        for i, (_, (ws, we)) in enumerate(words):
            if start < we and ws < end:
                out[k] = i
                break
    return out


# -- search hits: why a collection returned an item -----------------------------------------------
_SCALED_STORAGES = ("int8", "binary")  # stored vectors are an approximation of the float32 ones


@dataclass
class HitExplanation:
    """Why one search hit scored as it did, in the search's own terms.

    ``dense``: the model's pair explanation of the query against the hit's stored text, its
    contributions multiplied by ``scale`` so they add up to the collection's score (1 for cosine
    and normalised dot, ``|q| |d|`` for raw dot; L2 distances are no sum and keep the cosine).
    ``terms``: query terms the hit contains (keyword side). ``sides``: for hybrid search, each
    side's part of the fused score, which add up to it.
    """

    mode: str  # "dense", "keyword" or "hybrid"
    score: float  # the hit's score as the search returned it
    dense: Explanation | None = None
    exact_score: float | None = None  # the dense score recomputed from float32 vectors
    scale: float | None = 1.0  # None: the pairs split the cosine, not the metric (L2)
    terms: list[str] = field(default_factory=list)
    sides: dict[str, float] = field(default_factory=dict)
    fusion: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def contributions(self) -> np.ndarray | None:
        """The pair matrix in the collection's metric (query tokens x hit tokens)."""
        if self.dense is None:
            return None
        return self.dense.contributions * (self.scale if self.scale is not None else 1.0)

    @property
    def total(self) -> float | None:
        """What the pairs (and any rest) add up to, in the collection's metric."""
        if self.dense is None:
            return None
        return self.dense.total * (self.scale if self.scale is not None else 1.0)

    def top_pairs(self, k: int = 5) -> list[tuple[str, str, float]]:
        """The ``k`` (query token, hit token, contribution) pairs adding the most."""
        if self.dense is None:
            return []
        scale = self.scale if self.scale is not None else 1.0
        return [(a, b, c * scale) for a, b, c in self.dense.top_pairs(k)]

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        """The hit's ``k`` tokens adding the most (their column totals), markers left out."""
        if self.dense is None:
            return []
        scale = self.scale if self.scale is not None else 1.0
        totals = self.dense.per_token_b * scale
        order = [j for j in np.argsort(-totals) if not is_special(self.dense.tokens_b[j])]
        return [(self.dense.tokens_b[j], float(totals[j])) for j in order[:k] if totals[j] > 0]

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        """Plain data for JSON output."""
        out: dict[str, Any] = {"mode": self.mode, "score": self.score, "notes": self.notes}
        if self.dense is not None:
            out.update(
                kind=self.dense.kind,
                approximate=self.dense.approximate,
                exact_score=self.exact_score,
                explained_total=self.total,
                top_pairs=[
                    {"query": a, "hit": b, "contribution": round(c, 6)}
                    for a, b, c in self.top_pairs(top)
                ],
                top_tokens=[
                    {"token": t, "contribution": round(c, 6)} for t, c in self.top_tokens(top)
                ],
            )
        if self.mode != "dense":
            out["terms"] = self.terms
        if self.sides:
            out["sides"] = {name: round(v, 8) for name, v in self.sides.items()}
            out["shares"] = {name: round(v, 6) for name, v in self.shares().items()}
            out["fusion"] = self.fusion
        return out

    def shares(self) -> dict[str, float]:
        """Each hybrid side's fraction of the fused score (they add up to 1)."""
        total = sum(self.sides.values())
        return {name: (v / total if total else 0.0) for name, v in self.sides.items()}


def explain_dense_hit(
    model: Embedder,
    query: str,
    text: str,
    score: float | None,
    *,
    metric: str = "cosine",
    normalize: bool = True,
    storage: str = "float32",
) -> HitExplanation:
    """Split a dense hit's score over (query token, hit token) pairs.

    Search embeds the query with ``embed_queries`` and the stored text with
    ``embed_documents``; the pairs come from :func:`explain_pair`, which uses ``embed``. Where a
    model encodes the two apart (E5's prefixes) the gap is stated, never hidden. ``score`` is
    the hit's dense score as stored (None where the dense side did not rank it).
    """
    hit = HitExplanation(mode="dense", score=float("nan") if score is None else score)
    try:
        hit.dense = model.explain(query, text)
    except EmbedlabError as exc:
        hit.notes.append(f"no token explanation: {exc}")
        return hit
    hit.notes += hit.dense.notes
    q = np.asarray(model.embed_queries([query])[0], dtype=np.float64)
    d = np.asarray(model.embed_documents([text])[0], dtype=np.float64)
    norms = float(np.linalg.norm(q) * np.linalg.norm(d))
    cosine = float(q @ d / norms) if norms else 0.0
    if metric == "l2":
        qn, dn = (q, d) if not normalize else (q / np.linalg.norm(q), d / np.linalg.norm(d))
        hit.exact_score = float(np.linalg.norm(qn - dn))
        hit.scale = None
        hit.notes.append(
            "an L2 distance is no sum over token pairs: the pairs split the cosine "
            f"({cosine:.6f}) of the query and the hit instead"
        )
    elif metric == "dot" and not normalize:
        hit.exact_score = float(q @ d)
        hit.scale = norms
        hit.notes.append(f"raw dot product: each pair's cosine share times |q| |d| = {norms:.4g}")
    else:
        hit.exact_score = cosine
    if abs(hit.dense.score - cosine) > 1e-5:
        hit.notes.append(
            f"{model.name} encodes queries and documents apart: the pairs explain embed()'s "
            f"cosine {hit.dense.score:.6f}, the search's is {cosine:.6f}"
        )
    if score is None:  # a hybrid hit the dense side did not rank: nothing stored to compare
        return hit
    gap = abs(score - hit.exact_score)
    if storage in _SCALED_STORAGES:
        hit.notes.append(
            f"{storage} storage: the hit's score {score:.6f} is approximate; the pairs add up to "
            f"the float32 score {hit.exact_score:.6f} (gap {gap:.1e})"
        )
    elif gap > 1e-4:
        hit.notes.append(
            f"the stored vector scores {score:.6f}, the text embedded now {hit.exact_score:.6f} "
            f"({storage} storage, or the text changed since it was embedded)"
        )
    return hit


def keyword_terms(query: str, text: str, stopwords: str = "en") -> list[str]:
    """The query's terms that ``text`` contains, tokenised as the local BM25 index does (pass
    its ``stopwords``)."""
    import bm25s

    query_terms, text_terms = bm25s.tokenize(
        [query, text], stopwords=stopwords, return_ids=False, show_progress=False
    )
    present = set(text_terms)
    return list(dict.fromkeys(t for t in query_terms if t in present))
