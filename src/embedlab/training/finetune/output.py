"""The output folder: a sentence-transformers folder that is also an embedlab model.

``SentenceTransformer(DIR)`` reads modules.json and the weights; ``embedlab.load(DIR)`` reads
``embedlab.json``, whose ``weights: "."`` points at the same files, so both give the same
vectors. ``report.json`` / ``report.md`` hold the before/after scores, and embedlab.json's
``lineage`` the base model, data hash, loss, epochs and seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embedlab._version import __version__
from embedlab.embedders.saving import FORMAT_NAME, FORMAT_VERSION, MODEL_FILE
from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.training.finetune.base import BaseModel

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def write_model(folder: Path, model: Any, base: BaseModel, lineage: dict[str, Any]) -> None:
    """Save ``model`` (sentence-transformers) into ``folder`` with embedlab.json beside it."""
    with quiet_transformers():
        model.save(str(folder), create_model_card=False)
    # the settings embedlab and older sentence-transformers read from this file
    st_path = folder / "sentence_bert_config.json"
    st_config = json.loads(st_path.read_text(encoding="utf-8")) if st_path.is_file() else {}
    st_config.update({"max_seq_length": model.max_seq_length, "do_lower_case": base.lowercase})
    st_path.write_text(json.dumps(st_config, indent=2), encoding="utf-8")
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "method": "transformer",
        "name": f"transformer:{folder.name}",
        "dim": int(model.get_embedding_dimension()),
        "params": {"model": "."},
        "embedlab_version": __version__,
        "weights": ".",
        "source_model": base.name,
        "lineage": lineage,
    }
    (folder / MODEL_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def write_report(folder: Path, report: dict[str, Any]) -> None:
    (folder / REPORT_JSON).write_text(json.dumps(report, indent=2), encoding="utf-8")
    (folder / REPORT_MD).write_text(report_markdown(report), encoding="utf-8")


def report_markdown(report: dict[str, Any]) -> str:
    """A short human summary: what was trained on what, and the before/after table."""
    lines = [
        f"# Fine-tuned {report['base']}",
        "",
        f"- data: {report['data']['description']}, {report['data']['train_rows']:,} training rows"
        f" ({report['data']['source']}, sha256 {report['data']['sha256'][:12]})",
        f"- loss: {report['loss']}; batch {report['batch_size']}, seed {report['seed']}, "
        f"precision {report['precision']}",
        f"- trained {report['steps']} steps ({report['epochs_done']:.2f} epochs) in "
        f"{report['train_seconds']:.0f} s; stopped: {report['stopped']}",
        "",
    ]
    before, after = report.get("before") or {}, report.get("after") or {}
    if before or after:
        lines += ["| score | before | after |", "|---|---:|---:|"]
        for key in dict.fromkeys([*before, *after]):
            lines.append(f"| {key} | {_pct(before.get(key))} | {_pct(after.get(key))} |")
    else:
        lines.append("No held-out evaluation (plain text without --eval-data).")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"
