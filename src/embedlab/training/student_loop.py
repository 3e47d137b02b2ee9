"""The loop every student trains with: batches by length, cosine (or MSE) to the teacher,
a time budget, checkpoints, and the held-out cosine before and after.

Why one loop: the DAN, the BiLSTM and the static student differ only in their network and
inputs; the budget, the seed, the progress bar, the checkpoints and the measurement of what was
learned must behave the same for all three.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedlab.embedders.sentence.tokens import Flat
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.progress import progress_bar
from embedlab.threads import resolve_threads

LOSSES = ("cosine", "mse", "cosine+mse")


@dataclass
class StudentSettings:
    """How long and how a student trains; the defaults suit a few minutes on two CPU cores."""

    minutes: float | None = 10.0  # stop after this long (None: epochs only)
    epochs: float = 10.0  # passes over the training texts (fractions allowed)
    max_steps: int | None = None  # stop after this many batches (0: only initialise)
    batch_size: int = 128
    lr: float = 2e-3
    loss: str = "cosine"
    word_dropout: float = 0.1  # DAN: share of tokens left out of each training bag
    seed: int = 0
    threads: int | None = None
    validation: int = 1000  # held-out texts for the cosine before and after
    checkpoint_minutes: float = 5.0

    def check(self) -> None:
        if self.minutes is not None and self.minutes < 0:
            raise InputError(f"minutes must be 0 or more, got {self.minutes}", "e.g. --minutes 10")
        if not self.epochs > 0:
            raise InputError(f"epochs must be more than 0, got {self.epochs}", "e.g. --epochs 5")
        if self.batch_size < 2:
            raise InputError(f"batch_size must be at least 2, got {self.batch_size}", "e.g. 128")
        if not 0 < self.lr < 1:
            raise InputError(f"lr must be between 0 and 1, got {self.lr}", "e.g. --lr 0.002")
        if self.loss not in LOSSES:
            raise InputError(f"unknown loss {self.loss!r}", f"use one of: {', '.join(LOSSES)}")
        if not 0 <= self.word_dropout < 1:
            raise InputError(f"word_dropout must be in [0, 1), got {self.word_dropout}", "e.g. 0.1")
        if self.max_steps is not None and self.max_steps < 0:
            raise InputError(f"max_steps must be 0 or more, got {self.max_steps}", "e.g. 1000")


@dataclass
class LoopResult:
    steps: int
    sentences: int  # training texts seen, repeats counted
    epochs: float
    seconds: float
    cosine_before: float  # held-out mean cosine to the teacher, before training
    cosine_after: float
    stopped: str  # "epochs", "minutes" or "steps"


def length_batches(lengths: np.ndarray, rows: np.ndarray, size: int, rng: Any) -> list[np.ndarray]:
    """Shuffled batches of ``rows`` whose texts are of similar length (sorted in pools of 50
    batches), so a BiLSTM pads little and every batch still mixes the corpus."""
    order = rows[rng.permutation(len(rows))]
    pool = size * 50
    batches = []
    for start in range(0, len(order), pool):
        part = order[start : start + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + size] for i in range(0, len(part), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _copy(net: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def fit_net(
    net: Any,
    flat: Flat,
    targets: np.ndarray,
    inputs: Callable[[Flat, bool], tuple],
    settings: StudentSettings,
    *,
    label: str,
    checkpoint: Callable[[dict[str, Any]], None],
    progress: bool = False,
) -> LoopResult:
    """Train ``net(*inputs(batch, training))`` towards ``targets`` (rows of ``flat``).

    ``validation`` rows of a seeded permutation are held out; after each epoch their mean cosine
    to the teacher is measured and the best weights so far are kept, so an epoch that overfits
    (a small corpus) is undone at the end. ``checkpoint(info)`` is called every
    ``checkpoint_minutes`` with the progress so far.
    """
    torch = require("torch", "train")
    settings.check()
    n = len(flat)
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    order = rng.permutation(n)
    n_val = min(settings.validation, n // 5)
    valid, train = order[:n_val], order[n_val:]
    if len(train) < 2:
        raise InputError(
            f"the corpus gives {n} usable texts, too few to train on", "pass a larger corpus"
        )
    target = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    lengths = flat.lengths
    sparse = [p for m in net.modules() if getattr(m, "sparse", False) for p in m.parameters()]
    dense = [p for p in net.parameters() if all(p is not s for s in sparse)]
    optimisers = [torch.optim.Adam(dense, lr=settings.lr)] if dense else []
    if sparse:
        optimisers.append(torch.optim.SparseAdam(sparse, lr=settings.lr))

    def loss_of(pred: Any, gold: Any) -> Any:
        cos = torch.nn.functional.cosine_similarity(pred, gold, dim=-1)
        loss = 1 - cos.mean()
        if settings.loss == "mse":
            loss = torch.nn.functional.mse_loss(pred, gold)
        elif settings.loss == "cosine+mse":
            loss = loss + torch.nn.functional.mse_loss(pred, gold)
        return loss

    def held_out() -> float:
        if not n_val:
            return float("nan")
        net.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, n_val, 256):
                rows = valid[start : start + 256]
                pred = net(*inputs(flat.take(rows), False))
                total += float(
                    torch.nn.functional.cosine_similarity(pred, target[rows], dim=-1).sum()
                )
        net.train()
        return total / n_val

    before_threads = torch.get_num_threads()
    torch.set_num_threads(resolve_threads(settings.threads))
    try:
        started = time.perf_counter()
        cosine_before = held_out()
        best = (cosine_before, _copy(net))
        deadline = started + settings.minutes * 60 if settings.minutes is not None else math.inf
        next_checkpoint = started + settings.checkpoint_minutes * 60
        max_steps = math.inf if settings.max_steps is None else settings.max_steps
        wanted = int(settings.epochs * len(train))
        steps = seen = 0
        stopped = "epochs"
        net.train()
        with progress_bar(f"training {label}", wanted, enabled=progress) as advance:
            while seen < wanted and stopped == "epochs":
                for rows in length_batches(lengths, train, settings.batch_size, rng):
                    if steps >= max_steps:
                        stopped = "steps"
                        break
                    if time.perf_counter() >= deadline:
                        stopped = "minutes"
                        break
                    if seen >= wanted:
                        break
                    pred = net(*inputs(flat.take(rows), True))
                    loss = loss_of(pred, target[rows])
                    for optimiser in optimisers:
                        optimiser.zero_grad()
                    loss.backward()
                    for optimiser in optimisers:
                        optimiser.step()
                    steps += 1
                    seen += len(rows)
                    advance(len(rows))
                    if time.perf_counter() >= next_checkpoint:
                        checkpoint({"steps": steps, "sentences": seen, "checkpoint": True})
                        next_checkpoint = time.perf_counter() + settings.checkpoint_minutes * 60
                else:
                    score = held_out()  # a whole epoch: keep its weights if they are the best
                    if score > best[0]:
                        best = (score, _copy(net))
                if max_steps == 0:
                    stopped = "steps"
        cosine_after = held_out()
        if best[0] > cosine_after:
            net.load_state_dict(best[1])
            cosine_after = best[0]
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(before_threads)
    return LoopResult(
        steps=steps,
        sentences=seen,
        epochs=seen / len(train),
        seconds=seconds,
        cosine_before=cosine_before,
        cosine_after=cosine_after,
        stopped=stopped,
    )
