"""What a model folder says (pooling, normalisation, length, decoder or encoder), read without torch.

Also writes those settings back as a sentence-transformers folder (so a saved model loads there
too), and quiets transformers while a model loads; shared by the embedder and the ONNX exporter.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab._hub import hub_offline
from embedlab.embedders.transformers.pooling import POOLING_MODES
from embedlab.errors import ModelFormatError, UnknownModelError

# sentence-transformers' legacy boolean pooling keys, in the order it reads them
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


# sentence-transformers modules this class reproduces; anything else would change the vectors
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")


# decoder-only (left-to-right) architectures: last-token pooling by default
_DECODER_TYPES = {
    "gpt2", "gpt_neo", "gptj", "gpt_neox", "gpt_bigcode", "llama", "mistral", "mixtral", "qwen2",
    "qwen3", "phi", "phi3", "gemma", "gemma2", "gemma3_text", "opt", "bloom", "falcon", "mpt",
    "codegen", "olmo", "olmo2", "stablelm", "granite", "smollm3",
}  # fmt: skip

# architectures whose learned positions start after the padding index (so 514 means 512 tokens)
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "mpnet", "longformer"}


@dataclass(frozen=True)
class FolderConfig:
    """What a model folder says about pooling, normalisation and length, before any override."""

    hf_folder: Path
    pooling: str
    normalize: bool
    max_length: int | None
    lowercase: bool
    sentence_transformers: bool


def read_folder_config(folder: Path) -> FolderConfig:
    """Read a sentence-transformers or plain Hugging Face folder's settings (no torch needed)."""
    if not folder.is_dir():
        raise UnknownModelError(
            f"no model folder at {folder}",
            "check the path, or use a catalogue name such as 'minilm' (see `embedlab models`)",
        )
    modules_path = folder / "modules.json"
    if not modules_path.is_file():
        _require_hf_config(folder)
        causal = is_causal_config(_read_json(folder / "config.json"))
        return FolderConfig(folder, "lasttoken" if causal else "mean", False, None, False, False)

    modules = _read_json(modules_path)
    if not isinstance(modules, list):
        raise ModelFormatError(f"{modules_path} is not a list of modules", "repair or re-save it")
    hf_folder, pooling, normalize = folder, "mean", False
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = folder / module.get("path", "")
        if kind not in _SUPPORTED_MODULES:
            raise ModelFormatError(
                f"{folder} has a sentence-transformers {kind} module that embedlab does not apply",
                "only Transformer, Pooling and Normalize modules are supported; use "
                "sentence-transformers directly for this model",
            )
        if kind == "Transformer":
            hf_folder = path
        elif kind == "Pooling":
            pooling = _pooling_from_config(_read_json(path / "config.json"), path)
        else:
            normalize = True
    _require_hf_config(hf_folder)
    st_config_path = hf_folder / "sentence_bert_config.json"
    st_config = _read_json(st_config_path) if st_config_path.is_file() else {}
    return FolderConfig(
        hf_folder=hf_folder,
        pooling=pooling,
        normalize=normalize,
        max_length=st_config.get("max_seq_length"),
        lowercase=bool(st_config.get("do_lower_case", False)),
        sentence_transformers=True,
    )


def _require_hf_config(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ModelFormatError(
            f"{folder} has no config.json, so it is not a Hugging Face model folder",
            "pass a folder holding config.json, the weights (model.safetensors) and the "
            "tokenizer files, such as one written by save_pretrained()",
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{path} is missing", "the model folder is incomplete") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path} is not valid JSON ({exc})", "repair the file") from None


def _pooling_from_config(config: dict[str, Any], where: Path) -> str:
    """The pooling mode, from new-style ``pooling_mode`` or the legacy boolean keys."""
    mode = config.get("pooling_mode")
    if mode is None:
        active = [name for key, name in _LEGACY_POOLING_KEYS.items() if config.get(key)]
        mode = active or "mean"
    if isinstance(mode, list | tuple):
        if len(mode) != 1:
            raise ModelFormatError(
                f"{where} concatenates several poolings ({', '.join(mode)})",
                "embedlab supports one pooling mode per model; use sentence-transformers directly",
            )
        mode = mode[0]
    if mode not in POOLING_MODES:
        raise ModelFormatError(
            f"{where} asks for pooling {mode!r}, which embedlab does not implement",
            f"pass pooling= one of {', '.join(POOLING_MODES)}",
        )
    return mode


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report, progress bars and warnings during a load only."""
    hub_offline()
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def is_causal_config(config: dict[str, Any]) -> bool:
    """Whether a config.json describes a decoder-only (left-to-right) model."""
    if config.get("is_encoder_decoder"):
        return False
    if config.get("is_decoder") or config.get("model_type") in _DECODER_TYPES:
        return True
    return any(str(a).endswith("ForCausalLM") for a in config.get("architectures") or ())


def model_token_limit(tokenizer: Any, config: Any) -> int | None:
    """The longest input the model takes: tokenizer limit capped at the position table."""
    limits = []
    if isinstance(tokenizer.model_max_length, int) and tokenizer.model_max_length < 1_000_000:
        limits.append(tokenizer.model_max_length)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int):
        if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
            positions -= (getattr(config, "pad_token_id", None) or 1) + 1
        limits.append(positions)
    return min(limits) if limits else None


def write_folder_config(
    target: Path, *, dim: int, pooling: str, normalize: bool, max_length: int, lowercase: bool
) -> None:
    """Beside ``save_pretrained``'s files in ``target``: the sentence-transformers modules
    (Transformer, Pooling, Normalize), so the folder loads as the same model there too."""
    kinds = ["Transformer", "Pooling"] + (["Normalize"] if normalize else [])
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize"}
    modules = [
        {
            "idx": i,
            "name": str(i),
            "path": paths[k],
            "type": f"sentence_transformers.models.{k}",
        }
        for i, k in enumerate(kinds)
    ]
    if normalize:
        (target / "2_Normalize").mkdir()
    (target / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (target / "1_Pooling").mkdir()
    pooling_config = {"word_embedding_dimension": dim, "pooling_mode": pooling}
    (target / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2), "utf-8")
    st_config = {"max_seq_length": max_length, "do_lower_case": lowercase}
    (target / "sentence_bert_config.json").write_text(json.dumps(st_config, indent=2), "utf-8")
