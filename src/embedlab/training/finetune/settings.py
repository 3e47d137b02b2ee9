"""A fine-tuning run's settings, checked before any work, and its checkpoint folder.

Checkpoints live beside the output (``DIR.checkpoints``), not in it: the output folder is written
once, whole, when the run ends (embedlab's safe folder writer), so a killed run never leaves a
half model where the user asked for one, and ``--resume`` finds the checkpoints beside it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from embedlab.cpu import detect
from embedlab.errors import InputError, OutputError

CHECKPOINT_FORMAT = "embedlab-finetune-checkpoints"
STATE_FILE = "run.json"
PRECISIONS = ("auto", "bf16", "fp32")
# for plain text: denoising auto-encoder, masked-LM, or pseudo-pairs across two pools (adapt.py)
ADAPTATIONS = ("tsdae", "mlm", "pseudo")


@dataclass
class Settings:
    """Everything that decides the result; a resumed run must have the same."""

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    max_length: int | None = None
    seed: int = 0
    eval_split: float = 0.1
    hard_negatives: int = 0
    negative_margin: float = 0.05
    dims: list[int] | None = None
    scored_loss: str = "cosent"
    mini_batch: int | None = None
    group_by_length: bool = False  # pairs: batches of similar length (sampler.py): less padding
    symmetric: bool = False  # pairs: also rank each positive's anchor among the batch's anchors
    setfit_pairs: int = 40  # SetFit's default: 20 iterations of a positive and a negative pair
    save_every: int | None = None
    patience: int | None = None
    precision: str = "auto"
    adapt: str = "tsdae"
    pseudo_threshold: float = 0.5  # --adapt pseudo: lowest base-model cosine of a pseudo-pair

    def check(self) -> None:
        if self.epochs <= 0:
            raise InputError(f"epochs must be positive, got {self.epochs}", "pass e.g. --epochs 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(f"max steps must be at least 1, got {self.max_steps}", "pass e.g. 100")
        if self.batch_size < 2:
            raise InputError(
                f"batch size must be at least 2, got {self.batch_size}",
                "in-batch negatives need other rows in the batch; pass e.g. --batch-size 32",
            )
        if not 0 <= self.eval_split < 1:
            raise InputError(
                f"eval split must be in [0, 1), got {self.eval_split}", "pass e.g. --eval-split 0.1"
            )
        if self.precision not in PRECISIONS:
            raise InputError(
                f"unknown precision {self.precision!r}", f"use one of {', '.join(PRECISIONS)}"
            )
        if self.adapt not in ADAPTATIONS:
            raise InputError(
                f"unknown adaptation {self.adapt!r}", f"use one of {', '.join(ADAPTATIONS)}"
            )
        if self.dims is not None and any(d < 1 for d in self.dims):
            raise InputError(
                f"Matryoshka dimensions must be positive, got {self.dims}",
                "pass e.g. --dims 384,256,128,64",
            )
        if self.mini_batch is not None and self.mini_batch < 1:
            raise InputError(f"mini batch must be at least 1, got {self.mini_batch}", "pass e.g. 8")

    def use_bf16(self) -> bool:
        """bf16 autocast on CPUs with native bf16 (AMX, AVX-512 BF16); emulated bf16 is slower."""
        if self.precision == "auto":
            return detect().native_bf16
        return self.precision == "bf16"

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a resume (the budget and progress settings may change)."""
        return {k: v for k, v in asdict(self).items() if k not in ("patience",)}


def checkpoint_folder(out: Path) -> Path:
    return out.with_name(f"{out.name}.checkpoints")


def open_checkpoints(out: Path, fingerprint: dict[str, Any], *, resume: bool) -> tuple[Path, bool]:
    """The checkpoint folder, and whether there is a run in it to resume.

    Without ``resume`` an earlier run's checkpoints (ours: they carry ``run.json``) are cleared;
    a folder of the same name that embedlab did not write is never touched.
    """
    folder = checkpoint_folder(out)
    state_path = folder / STATE_FILE
    ours = state_path.is_file() and _is_ours(state_path)
    if folder.exists() and not ours and any(folder.iterdir()):
        raise OutputError(
            f"{folder} exists and was not written by embedlab finetune",
            "move it away, or pick another --out",
        )
    if resume:
        if not ours:
            raise InputError(
                f"nothing to resume: no checkpoints at {folder}", "run without --resume first"
            )
        saved = json.loads(state_path.read_text(encoding="utf-8"))
        if saved.get("fingerprint") != fingerprint:
            changed = sorted(
                k
                for k in set(saved.get("fingerprint", {})) | set(fingerprint)
                if saved.get("fingerprint", {}).get(k) != fingerprint.get(k)
            )
            raise InputError(
                f"the checkpoints at {folder} are of a run with other settings or data "
                f"({', '.join(changed)})",
                "resume with the same base, data and options, or run without --resume",
            )
        return folder, any(folder.glob("checkpoint-*"))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    state = {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "pid": os.getpid()}
    state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return folder, False


def _is_ours(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == CHECKPOINT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False
