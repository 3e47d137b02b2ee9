"""The sentence-transformers loss for each kind of data, optionally wrapped in Matryoshka.

pairs / triplets / mined n-tuples: MultipleNegativesRankingLoss (in-batch negatives), or its
cached variant when the batch is larger than what fits in memory at once (``mini_batch``);
``symmetric`` adds the reverse direction (each positive picks its anchor among the batch's
anchors) at almost no cost, since the embeddings are already computed;
scored pairs: CoSENT (or AnglE); labelled texts become SetFit pairs (same label 1, different 0)
and train with CoSENT too; plain text: TSDAE's denoising auto-encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from embedlab.errors import InputError
from embedlab.extras import require

SCORED_LOSSES = ("cosent", "angle")


def build_loss(
    model: Any,
    kind: str,
    *,
    scored_loss: str = "cosent",
    mini_batch: int | None = None,
    dims: Sequence[int] | None = None,
    symmetric: bool = False,
) -> tuple[Any, str]:
    """The loss object and its name (recorded in the model's lineage)."""
    require("sentence_transformers", "transformers")
    from sentence_transformers.sentence_transformer import losses

    loss: Any
    suffix = ""
    if kind in ("pairs", "triplets"):
        directions: Any = ("query_to_doc", "doc_to_query") if symmetric else ("query_to_doc",)
        suffix = ", symmetric" if symmetric else ""
        if mini_batch:
            loss = losses.CachedMultipleNegativesRankingLoss(
                model, mini_batch_size=mini_batch, directions=directions
            )
        else:
            loss = losses.MultipleNegativesRankingLoss(model, directions=directions)
    elif kind in ("scored", "labelled"):
        if scored_loss not in SCORED_LOSSES:
            raise InputError(
                f"unknown loss {scored_loss!r} for scored pairs",
                f"use {' or '.join(SCORED_LOSSES)}",
            )
        klass = losses.CoSENTLoss if scored_loss == "cosent" else losses.AnglELoss
        loss = klass(model)
    elif kind == "text":
        loss = losses.DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    else:
        raise InputError(
            f"unknown data kind {kind!r}", "use pairs, triplets, scored, labelled, text"
        )
    name = type(loss).__name__ + suffix
    if dims:
        if kind == "text":
            raise InputError(
                "Matryoshka dimensions do not apply to denoising (plain text) training",
                "drop --dims, or train on pairs",
            )
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=list(dims))
        name = f"MatryoshkaLoss({name}, dims={list(dims)})"
    return loss, name


def check_dims(dims: Sequence[int] | None, model_dim: int) -> list[int] | None:
    """Matryoshka dimensions: positive, at most the model's, largest first."""
    if not dims:
        return None
    bad = [d for d in dims if not 0 < d <= model_dim]
    if bad:
        raise InputError(
            f"Matryoshka dimensions {bad} are outside 1..{model_dim} (the model's dimension)",
            f"pass sizes up to {model_dim}, e.g. --dims {model_dim},256,128,64",
        )
    return sorted(set(dims), reverse=True)
