"""``finetune(model, data, out=...)``: one run, from data to a saved, evaluated model.

The order matters for the user: everything that can be refused (data kind, columns, scores,
batch size, base model, output folder) is refused before any training, and the output folder
is written once at the end, so a bad input or a crash leaves nothing half-written in it.
Training is sentence-transformers' own trainer and losses; this module only wires them up.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import atomic_folder, check_output_folder
from embedlab.embedders.base import Embedder
from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.embedders.transformers.runtime import apply_torch_threads
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.threads import resolve_threads
from embedlab.training.finetune.adapt import MLM_PROBABILITY, mlm_trainer, pseudo_pairs
from embedlab.training.finetune.base import resolve_base, sentence_transformer
from embedlab.training.finetune.callbacks import make_callbacks, make_evaluator
from embedlab.training.finetune.data import Source, TrainingData, read_training_data
from embedlab.training.finetune.examples import to_dataset, training_columns
from embedlab.training.finetune.head import write_head
from embedlab.training.finetune.losses import build_loss, check_dims
from embedlab.training.finetune.mining import mine_hard_negatives
from embedlab.training.finetune.output import write_model, write_report
from embedlab.training.finetune.sampler import length_grouped_sampler
from embedlab.training.finetune.scoring import main_metric, score
from embedlab.training.finetune.settings import Settings, open_checkpoints


@dataclass
class FinetuneResult:
    """What a run made and measured; ``report`` is what report.json holds."""

    path: Path
    kind: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def before(self) -> dict[str, float]:
        return dict(self.report.get("before") or {})

    @property
    def after(self) -> dict[str, float]:
        return dict(self.report.get("after") or {})


def finetune(
    model: str | os.PathLike[str] | Embedder,
    data: Source | TrainingData,
    *,
    out: str | os.PathLike[str],
    eval_data: Source | TrainingData | None = None,
    minutes: float | None = None,
    score_range: tuple[float, float] | None = None,
    resume: bool = False,
    force: bool = False,
    keep_checkpoints: bool = False,
    progress: bool = False,
    threads: int | None = None,
    log: Any = None,
    **options: Any,
) -> FinetuneResult:
    """Fine-tune the transformer ``model`` on ``data`` and save it to ``out``.

    ``data``: a .csv/.tsv/.jsonl/.parquet/.txt file or Python rows; its columns decide the kind
    (pairs, triplets, scored pairs, labelled texts, plain text). ``options`` are
    :class:`Settings` fields (``epochs``, ``max_steps``, ``batch_size``, ``hard_negatives``,
    ``dims``, ``seed``, ``precision``, ...). ``minutes`` bounds the training time. ``log`` is
    called with one line per stage (the CLI prints them). ``threads``: torch threads (default:
    ``$EMBEDLAB_THREADS``, else 1: on a shared 2-core machine two threads trained 10x slower).
    """
    unknown = set(options) - set(Settings.__dataclass_fields__)
    if unknown:
        raise InputError(
            f"finetune() got unknown options {sorted(unknown)}",
            f"use {', '.join(sorted(Settings.__dataclass_fields__))}",
        )
    settings = Settings(**options)
    settings.check()
    if minutes is not None and minutes <= 0:
        raise InputError(f"minutes must be positive, got {minutes}", "pass e.g. --minutes 20")
    say = log or (lambda line: None)
    apply_torch_threads(resolve_threads(threads))  # one thread unless asked: see threads.py
    out_path = check_output_folder(out, force=force)
    base, embedder = resolve_base(model)
    check_dims(settings.dims, base.dim)
    train, held_out = _data(data, eval_data, settings, score_range)
    if settings.adapt != "tsdae" and train.kind != "text":
        raise InputError(
            f"--adapt {settings.adapt} is for plain text, not {train.description}",
            "drop --adapt, or train on a text-only file",
        )
    pseudo = train.kind == "text" and settings.adapt == "pseudo"
    if settings.symmetric and not (pseudo or train.kind in ("pairs", "triplets")):
        raise InputError(f"--symmetric is for pairs, not {train.description}", "drop --symmetric")
    per_row = settings.setfit_pairs if train.kind == "labelled" else 1
    _check_rows(len(train) * per_row, settings.batch_size)
    pseudo_info: dict[str, Any] | None = None
    if pseudo:
        train, found = pseudo_pairs(
            train, embedder, threshold=settings.pseudo_threshold, progress=progress
        )
        if len(train) < settings.batch_size:
            raise InputError(
                f"only {len(train)} pseudo-pairs at cosine >= {settings.pseudo_threshold:g}, "
                f"too few for the batch size {settings.batch_size}",
                "lower --pseudo-threshold or --batch-size, or give more text",
            )
        sample = zip(train.columns["anchor"][:200], train.columns["positive"][:200], strict=True)
        pseudo_info = {**asdict(found), "sample": [list(pair) for pair in sample]}
    # nothing is printed before here, so every refusal above is the only line the user sees
    say(
        f"data: {train.description}, {len(train):,} training rows"
        + (f", {len(held_out):,} held out" if held_out is not None else "")
    )
    if pseudo:
        say(
            f"pseudo-pairs: {found.pairs:,} mutual nearest neighbours at cosine >= "
            f"{found.threshold:g} among {found.queries:,} queries and {found.documents:,} "
            f"documents ({found.seconds:.0f} s)"
        )
    if settings.hard_negatives:
        train, mined = mine_hard_negatives(
            train,
            embedder,
            k=settings.hard_negatives,
            margin=settings.negative_margin,
            progress=progress,
        )
        say(
            f"hard negatives: {mined.kept:,} of {mined.anchors:,} anchors kept "
            f"{settings.hard_negatives} each (margin {mined.margin}) in {mined.seconds:.0f} s"
        )
    columns = training_columns(train, seed=settings.seed, setfit_pairs=settings.setfit_pairs)
    _check_rows(len(next(iter(columns.values()))), settings.batch_size)
    fingerprint = {
        "base": str(base.hf_folder),
        "data": train.digest(),
        "eval": held_out.digest() if held_out is not None else None,
        **settings.fingerprint(),
    }
    checkpoints, resumable = open_checkpoints(out_path, fingerprint, resume=resume)
    report = _train(
        base, train, held_out, columns, settings, checkpoints, resumable, minutes, progress, say
    )
    report["data"]["source"] = train.source
    if pseudo_info is not None:
        report["pseudo_pairs"] = pseudo_info  # what self-training made, with a sample to read
    with atomic_folder(out_path, force=force) as tmp:
        st_model = report.pop("_model")
        write_model(tmp, st_model, base, _lineage(report))
        if train.kind == "labelled":
            texts, labels = train.columns["text"], train.columns["label"]
            write_head(tmp, _encode(st_model)(texts), labels)
        write_report(tmp, report)
    if report["stopped"] != "interrupted" and not keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    say(f"saved to {out_path}")
    return FinetuneResult(out_path, train.kind, report)


def _check_rows(rows: int, batch_size: int) -> None:
    if rows < batch_size:
        raise InputError(
            f"{rows} training rows are too few for the batch size {batch_size}",
            f"pass --batch-size {max(2, rows)} or less, or give more data",
        )


def _data(
    data: Source | TrainingData,
    eval_data: Source | TrainingData | None,
    settings: Settings,
    score_range: tuple[float, float] | None,
) -> tuple[TrainingData, TrainingData | None]:
    train = read_training_data(data, score_range=score_range)
    if eval_data is not None:
        held = read_training_data(eval_data, score_range=score_range, what="evaluation data")
        if held.kind == "text":
            raise InputError(
                "evaluation data needs pairs, scored pairs or labelled texts, not plain text",
                "pass --eval-data with anchor,positive or sentence1,sentence2,score columns",
            )
        return train, held
    if train.kind == "text" or settings.eval_split == 0:
        return train, None
    return train.split(settings.eval_split, settings.seed)


def _encode(st_model: Any, batch_size: int = 64) -> Any:
    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            st_model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
            ),
            dtype=np.float32,
        )

    return encode


def _train(
    base: Any,
    train: TrainingData,
    held_out: TrainingData | None,
    columns: dict[str, list],
    settings: Settings,
    checkpoints: Path,
    resumable: bool,
    minutes: float | None,
    progress: bool,
    say: Any,
) -> dict[str, Any]:
    require("sentence_transformers", "transformers")
    transformers = require("transformers", "transformers")
    for module in ("datasets", "accelerate"):  # what sentence-transformers' trainer needs
        require(module, "train")
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.training_args import (
        SentenceTransformerTrainingArguments,
    )

    st_model = sentence_transformer(base, max_length=settings.max_length)
    dims = check_dims(settings.dims, st_model.get_embedding_dimension())
    mlm = train.kind == "text" and settings.adapt == "mlm"
    if mlm:
        loss, loss_name = None, f"masked language model ({MLM_PROBABILITY:.0%} masked)"
    else:
        with quiet_transformers():  # TSDAE's decoder load reports its new cross-attention
            loss, loss_name = build_loss(
                st_model,
                train.kind,
                scored_loss=settings.scored_loss,
                mini_batch=settings.mini_batch,
                dims=dims,
                symmetric=settings.symmetric,
            )
    label_train = train if train.kind == "labelled" else None
    before = score(_encode(st_model), held_out, train=label_train, dims=dims) if held_out else {}
    if before:
        say("before: " + _headline(before))
    rows = len(next(iter(columns.values())))
    per_epoch = math.ceil(rows / settings.batch_size)
    total = settings.max_steps or max(1, math.ceil(per_epoch * settings.epochs))
    save_every = settings.save_every or min(500, max(20, math.ceil(total / 10)))
    bf16 = settings.use_bf16()
    history: list[dict[str, Any]] = []
    losses: list[tuple[int, float]] = []
    evaluator = (
        make_evaluator(held_out, label_train, dims, _encode, history)
        if held_out is not None and main_metric(held_out.kind)
        else None
    )
    common: dict[str, Any] = dict(
        output_dir=str(checkpoints),
        per_device_train_batch_size=settings.batch_size,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        learning_rate=settings.learning_rate,
        # with a time budget the schedule is BudgetSchedule's (callbacks.py), fitted to it
        lr_scheduler_type="constant" if minutes is not None else "linear",
        warmup_steps=0 if minutes is not None else int(settings.warmup_ratio * total),
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=bf16,
        use_cpu=True,
        report_to="none",
        logging_steps=max(1, min(50, total // 20)),
        save_strategy="steps",
        save_steps=save_every,
        save_total_limit=2,
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=save_every if evaluator is not None else None,
        load_best_model_at_end=evaluator is not None,
        metric_for_best_model="eval_score" if evaluator is not None else None,
        greater_is_better=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    callbacks, flags = make_callbacks(
        minutes=minutes, progress=progress, losses=losses, warmup_ratio=settings.warmup_ratio
    )
    if evaluator is not None and settings.patience:
        callbacks.append(
            transformers.EarlyStoppingCallback(early_stopping_patience=settings.patience)
        )
    copy_back = None
    if mlm:
        trainer, copy_back = mlm_trainer(st_model, train.columns["text"], common, callbacks)
    else:
        in_batch = train.kind in ("pairs", "triplets")
        args = SentenceTransformerTrainingArguments(
            **common,
            batch_sampler=(
                length_grouped_sampler
                if in_batch and settings.group_by_length
                else BatchSamplers.NO_DUPLICATES
                if in_batch
                else BatchSamplers.BATCH_SAMPLER
            ),
        )
        st_model.model_card_data.widget = [{}]  # no model card here: skip its example search
        with quiet_transformers():
            trainer = SentenceTransformerTrainer(
                model=st_model,
                args=args,
                train_dataset=to_dataset(columns),
                loss=loss,
                evaluator=evaluator,
                callbacks=callbacks,
            )
    trainer.remove_callback(transformers.PrinterCallback)
    say(
        f"training: {loss_name}, {total:,} steps of {settings.batch_size}, "
        f"{'bf16 autocast' if bf16 else 'fp32'}, checkpoints every {save_every} in {checkpoints}"
    )
    started = time.perf_counter()
    stopped = "done"
    resumed_from = None
    if resumable:
        resumed_from = _last_complete_checkpoint(checkpoints)
        say(f"resuming from {resumed_from}" if resumed_from else "no finished checkpoint: starting")
    try:
        with quiet_transformers():
            trainer.train(resume_from_checkpoint=resumed_from)
    except KeyboardInterrupt:
        stopped = "interrupted"
        say("interrupted: saving the model as it is now (resume with --resume)")
    seconds = time.perf_counter() - started
    if copy_back is not None:
        copy_back()
    if flags["non_finite"]:
        if bf16 and settings.precision == "auto":
            say("the loss stopped being a number under bf16; training again in fp32")
            settings.precision = "fp32"
            shutil.rmtree(checkpoints, ignore_errors=True)
            checkpoints.mkdir(parents=True)
            return _train(
                base, train, held_out, columns, settings, checkpoints, False, minutes, progress, say
            )
        raise InputError(
            "the training loss stopped being a number",
            "lower --lr, or pass --precision fp32",
        )
    if flags["budget_hit"] and stopped == "done":
        stopped = f"time budget ({minutes:g} min)"
    elif trainer.state.global_step < trainer.state.max_steps and stopped == "done":
        stopped = "early stopping"
    after = score(_encode(st_model), held_out, train=label_train, dims=dims) if held_out else {}
    if after:
        say("after: " + _headline(after))
    return {
        "_model": st_model,
        "base": base.name,
        "kind": train.kind,
        "data": {
            "description": train.description,
            "train_rows": len(train),
            "loss_rows": rows,
            "held_out_rows": len(held_out) if held_out is not None else 0,
            "held_out_kind": held_out.kind if held_out is not None else None,
            "sha256": train.digest(),
        },
        "loss": loss_name,
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "lr_schedule": (
            f"linear, fitted to the {minutes:g}-minute budget "
            f"(last step at {flags['lr_factor']:.2f} of the peak)"
            if minutes is not None and flags["lr_factor"] is not None
            else "linear over the planned steps"
        ),
        "seed": settings.seed,
        "dims": dims,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "steps": int(trainer.state.global_step),
        "epochs_done": float(trainer.state.epoch or 0.0),
        "epochs": settings.epochs,
        "train_seconds": round(seconds, 1),
        "resumed_from": resumed_from,
        "stopped": stopped,
        "best_checkpoint_score": trainer.state.best_metric,
        "main_metric": main_metric(held_out.kind) if held_out is not None else None,
        "before": before,
        "after": after,
        "evaluations": history,
        "losses": losses,
    }


def _headline(scores: dict[str, float]) -> str:
    """The main score at each size (report.json has them all)."""
    main = next(iter(scores))
    return ", ".join(f"{k} {100 * v:.2f}" for k, v in scores.items() if k.startswith(main))


def _last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose save finished (trainer_state.json is written last), so a
    run killed in the middle of a save resumes from the one before."""
    done = [
        path
        for path in folder.glob("checkpoint-*")
        if path.name.split("-")[-1].isdigit() and (path / "trainer_state.json").is_file()
    ]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None


def _lineage(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("base", "kind", "loss", "epochs", "epochs_done", "steps", "seed", "dims", "precision")
    return {
        **{k: report[k] for k in keys},
        "data_sha256": report["data"]["sha256"],
        "scores": {"before": report["before"], "after": report["after"]},
    }
