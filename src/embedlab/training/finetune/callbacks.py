"""Trainer callbacks: a rich progress bar with loss and ETA, the time budget and a learning-rate
schedule that fits it, the loss record (which also notices a loss that is no longer a number),
and the held-out evaluator.

transformers and sentence-transformers are optional, so the classes are made on demand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from embedlab.extras import require
from embedlab.training.finetune.data import TrainingData
from embedlab.training.finetune.scoring import score


def make_callbacks(
    *,
    minutes: float | None,
    progress: bool,
    losses: list[tuple[int, float]],
    warmup_ratio: float = 0.1,
) -> tuple[list[Any], dict[str, Any]]:
    """Callbacks for the trainer, and a dict they fill: ``budget_hit``, ``non_finite``,
    ``lr_factor`` (the last step's share of the peak learning rate, under a time budget).

    With a time budget the learning rate follows :func:`budget_factor` (set the trainer's own
    schedule to constant): a step-planned schedule stopped by the budget never decays, which
    cost WordNet fine-tuning most of its last third (stopped at 634 of 926 planned steps).
    """
    transformers = require("transformers", "transformers")
    flags: dict[str, Any] = {"budget_hit": False, "non_finite": False, "lr_factor": None}

    class Budget(transformers.TrainerCallback):  # type: ignore[name-defined]
        """Stop (evaluating and saving first) when the time budget is spent."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = time.monotonic()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if minutes is not None and time.monotonic() - self.started > minutes * 60:
                flags["budget_hit"] = True
                control.should_training_stop = True
                control.should_save = True
                control.should_evaluate = args.eval_strategy != "no"
            return control

    class LossRecord(transformers.TrainerCallback):  # type: ignore[name-defined]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> Any:
            if logs and "loss" in logs:
                value = float(logs["loss"])
                losses.append((int(state.global_step), value))
                if not math.isfinite(value):
                    flags["non_finite"] = True
                    control.should_training_stop = True
            return control

    class BudgetSchedule(transformers.TrainerCallback):  # type: ignore[name-defined]
        """Linear warmup and decay over whichever ends first, the steps or the minutes."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = time.monotonic()

        def on_pre_optimizer_step(
            self, args: Any, state: Any, control: Any, optimizer: Any = None, **kw: Any
        ) -> None:
            assert minutes is not None
            done = max(
                state.global_step / max(1, state.max_steps),
                (time.monotonic() - self.started) / (minutes * 60),
            )
            factor = flags["lr_factor"] = budget_factor(done, warmup_ratio)
            for group in optimizer.param_groups:
                group["lr"] = args.learning_rate * factor

    callbacks: list[Any] = [Budget(), LossRecord()]
    if minutes is not None:
        callbacks.append(BudgetSchedule())
    if progress:
        callbacks.append(_progress_callback(transformers, losses))
    return callbacks, flags


def budget_factor(done: float, warmup_ratio: float) -> float:
    """The learning-rate factor at ``done`` (0..1) of the run: linear warmup over the first
    ``warmup_ratio``, then linear decay to 0 at the end (transformers' "linear" schedule)."""
    if done < warmup_ratio:
        return done / warmup_ratio
    return max(0.0, (1.0 - done) / max(1e-9, 1.0 - warmup_ratio))


def _progress_callback(transformers: Any, losses: list[tuple[int, float]]) -> Any:
    import rich.console as rich_console
    import rich.progress as rich_progress

    class Progress(transformers.TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.bar = rich_progress.Progress(
                rich_progress.TextColumn("[progress.description]{task.description}"),
                rich_progress.BarColumn(),
                rich_progress.MofNCompleteColumn(),
                rich_progress.TextColumn("loss {task.fields[loss]}"),
                rich_progress.TimeElapsedColumn(),
                rich_progress.TimeRemainingColumn(),
                console=rich_console.Console(stderr=True),
            )
            self.bar.start()
            self.task = self.bar.add_task(
                "fine-tuning", total=state.max_steps, completed=state.global_step, loss="-"
            )

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            loss = f"{losses[-1][1]:.4f}" if losses else "-"
            self.bar.update(self.task, completed=state.global_step, loss=loss)

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.bar.stop()

    return Progress()


def make_evaluator(
    held_out: TrainingData,
    train: TrainingData | None,
    dims: Sequence[int] | None,
    encode_with: Callable[[Any], Callable[[list[str]], Any]],
    history: list[dict[str, Any]],
) -> Any:
    """A sentence-transformers evaluator returning the held-out main score as ``score``."""
    require("sentence_transformers", "transformers")
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

    class HeldOut(SentenceEvaluator):
        def __init__(self) -> None:
            super().__init__()
            self.primary_metric = "score"

        def __call__(self, model: Any, output_path: Any = None, epoch: Any = -1, steps: Any = -1):
            scores = score(encode_with(model), held_out, train=train, dims=dims)
            main = next(iter(scores.values()), 0.0)
            history.append({"step": int(steps), **scores})
            return {"score": main}

    return HeldOut()
