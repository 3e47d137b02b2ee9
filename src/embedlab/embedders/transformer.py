"""Transformer embedders: contextual token vectors from a local Hugging Face model, pooled.

The pipeline is sentence-transformers' own (tokenize with truncation, run the model, pool the last
hidden state, optionally L2-normalise) rebuilt on plain ``transformers`` so that every stage is
visible to ``embed_tokens``; for the same folder ``embed`` matches ``SentenceTransformer.encode``.

torch and transformers are imported only when a model is first used, and weights are loaded
lazily: a saved model is rebuilt from its parameters before its own copy of the weights is
attached, and must never need the folder it was first loaded from.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab.embedders.base import Embedder, TokenEmbeddings, check_texts
from embedlab.errors import InputError, ModelFormatError, UnknownModelError

if TYPE_CHECKING:
    import torch

POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken")
HF_SUBFOLDER = "hf"

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
        return FolderConfig(folder, "mean", False, None, False, False)

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
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report, progress bars and warnings during a load only."""
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


def _apply_thread_setting() -> None:
    """Honour ``EMBEDLAB_THREADS``; shared machines are often faster with fewer threads."""
    value = os.environ.get("EMBEDLAB_THREADS")
    if not value:
        return
    try:
        threads = int(value)
        if threads < 1:
            raise ValueError
    except ValueError:
        raise InputError(
            f"EMBEDLAB_THREADS must be a positive whole number, got {value!r}",
            "set it to e.g. 1, or unset it to keep torch's default",
        ) from None
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@dataclass
class _Loaded:
    """A model ready to run: tokenizer, weights and the resolved settings."""

    tokenizer: Any
    model: Any
    pooling: str
    normalize: bool
    max_length: int
    lowercase: bool
    input_names: tuple[str, ...]


class TransformerEmbedder(Embedder):
    """A Hugging Face encoder from a local folder: last hidden state, pooled, maybe normalised.

    ``pooling``, ``normalize`` and ``max_length`` default to what the folder's
    sentence-transformers configuration says (plain folders: mean pooling, no normalisation, the
    longest input the model takes).
    """

    method = "transformer"

    def __init__(
        self,
        model: str,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
    ) -> None:
        if pooling is not None and pooling not in POOLING_MODES:
            raise InputError(
                f"unknown pooling {pooling!r}", f"use one of {', '.join(POOLING_MODES)}"
            )
        if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
            raise InputError(
                f"max_length must be a whole number of tokens of at least 2, got {max_length!r}",
                "leave it unset to use the model's own limit",
            )
        super().__init__(
            model=str(model), pooling=pooling, normalize=normalize, max_length=max_length
        )
        self._state: _Loaded | None = None

    # -- loading ---------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return Path(self.params["model"])

    def _loaded(self) -> _Loaded:
        if self._state is None:
            self._state = self._load_model()
        return self._state

    def _load_model(self) -> _Loaded:
        config = read_folder_config(self.folder)
        _apply_thread_setting()
        import torch
        from transformers import AutoModel, AutoTokenizer

        hf_folder = str(config.hf_folder)
        with _quiet_transformers():
            try:
                tokenizer = AutoTokenizer.from_pretrained(hf_folder)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ModelFormatError(
                    f"cannot load a tokenizer from {hf_folder} ({_first_line(exc)})",
                    "the folder needs tokenizer.json (or vocab files) beside config.json",
                ) from None
            if not any(Path(hf_folder).glob("*.safetensors")):
                raise ModelFormatError(
                    f"{hf_folder} has no .safetensors weights",
                    "embedlab never unpickles weights (pytorch_model.bin); convert the model "
                    "once with save_pretrained(folder, safe_serialization=True)",
                )
            try:
                model, info = AutoModel.from_pretrained(
                    hf_folder, dtype=torch.float32, use_safetensors=True, output_loading_info=True
                )
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise ModelFormatError(
                    f"transformers cannot load the model in {hf_folder} ({_first_line(exc)})",
                    "embedlab runs architectures that transformers' AutoModel knows, without "
                    "remote code; check config.json's model_type and the weight files",
                ) from None
        missing = [k for k in info.get("missing_keys", ()) if "pooler" not in k]
        if missing:
            raise ModelFormatError(
                f"the weights in {hf_folder} do not match its config.json "
                f"({len(missing)} missing, e.g. {sorted(missing)[0]})",
                "the model would run on random weights; re-export the folder with save_pretrained",
            )
        model.eval()

        limit = _model_token_limit(tokenizer, model.config)
        max_length = self.params["max_length"] or config.max_length or limit
        if limit is not None and max_length > limit:
            raise InputError(
                f"max_length {max_length} is more than this model takes ({limit} tokens)",
                f"use max_length <= {limit}",
            )
        normalize = self.params["normalize"]
        return _Loaded(
            tokenizer=tokenizer,
            model=model,
            pooling=self.params["pooling"] or config.pooling,
            normalize=config.normalize if normalize is None else bool(normalize),
            max_length=int(max_length or 512),
            lowercase=config.lowercase,
            input_names=tuple(tokenizer.model_input_names),
        )

    @property
    def dim(self) -> int:
        return int(self._loaded().model.config.hidden_size)

    @property
    def pooling(self) -> str:
        return self._loaded().pooling

    @property
    def normalize(self) -> bool:
        return self._loaded().normalize

    @property
    def max_length(self) -> int:
        return self._loaded().max_length

    # -- embedding -------------------------------------------------------------------------
    def _tokenize(self, texts: list[str], *, truncate: bool = True, **extra: Any) -> Any:
        state = self._loaded()
        if state.lowercase:
            texts = [text.lower() for text in texts]
        if truncate:
            extra.update(truncation=True, max_length=state.max_length)
        return state.tokenizer(texts, **extra)

    def _embed_all(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        """Tokenize once, run batches longest first (little padding), restore the input order."""
        from embedlab.progress import progress_bar

        encoded = self._tokenize(texts)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with progress_bar(f"embedding with {self.name}", len(texts), enabled=progress) as advance:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self._run(encoded, rows)[1]
                advance(len(rows))
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenize(texts)
        return self._run(encoded, np.arange(len(texts)))[1]

    def _run(self, encoded: Any, rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Pad the chosen rows into tensors, run the model; return (hidden states, vectors)."""
        import torch

        state = self._loaded()
        inputs = self._pad(encoded, rows)
        with torch.inference_mode():
            hidden = state.model(**inputs).last_hidden_state
            pooled = pool(hidden, inputs["attention_mask"], state.pooling)
            if state.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return hidden, pooled.float().numpy()

    def _pad(self, encoded: Any, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Pad token lists to the longest in the batch, on the tokenizer's padding side."""
        import torch

        tokenizer = self._loaded().tokenizer
        ids = [encoded["input_ids"][i] for i in rows]
        width = max(len(x) for x in ids)
        left = tokenizer.padding_side == "left"
        pad_values = {"input_ids": tokenizer.pad_token_id or 0, "attention_mask": 0}
        inputs: dict[str, torch.Tensor] = {}
        for name in self._loaded().input_names:
            if name not in encoded:
                continue
            matrix = np.full((len(rows), width), pad_values.get(name, 0), dtype=np.int64)
            for r, i in enumerate(rows):
                seq = encoded[name][i]
                if left:
                    matrix[r, width - len(seq) :] = seq
                else:
                    matrix[r, : len(seq)] = seq
            inputs[name] = torch.from_numpy(matrix)
        if "attention_mask" not in inputs:
            lengths = np.array([len(x) for x in ids])
            positions = np.arange(width)
            mask = positions >= width - lengths[:, None] if left else positions < lengths[:, None]
            inputs["attention_mask"] = torch.from_numpy(mask.astype(np.int64))
        return inputs

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        """Each subword with its table row and contextual vector, and the pooled vector."""
        (text,) = check_texts([text])
        state = self._loaded()
        encoded = self._tokenize([text], return_offsets_mapping=state.tokenizer.is_fast)
        hidden, vectors = self._run(encoded, np.arange(1))
        ids = list(encoded["input_ids"][0])
        table = state.model.get_input_embeddings().weight
        notes = []
        with _quiet_transformers():  # no "longer than the maximum" warning: we note it below
            full = len(self._tokenize([text], truncate=False)["input_ids"][0])
        if full > len(ids):
            notes.append(f"truncated to {len(ids)} tokens (the text has {full})")
        if state.lowercase:
            notes.append("lowercased before tokenizing, as the model's configuration asks")
        offsets = encoded.get("offset_mapping")
        return TokenEmbeddings(
            text=text,
            model=self.name,
            tokens=state.tokenizer.convert_ids_to_tokens(ids),
            ids=ids,
            lookup=table[ids].detach().float().numpy(),
            vector=vectors[0],
            pooling=state.pooling + (" + l2-normalise" if state.normalize else ""),
            offsets=[tuple(o) for o in offsets[0]] if offsets is not None else None,
            contextual=hidden[0].float().numpy(),
            notes=notes,
        )

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """Write a self-contained sentence-transformers folder (safetensors, no pickle)."""
        state = self._loaded()
        target = folder / HF_SUBFOLDER
        with _quiet_transformers():
            state.model.save_pretrained(target, safe_serialization=True)
            state.tokenizer.save_pretrained(target)
        kinds = ["Transformer", "Pooling"] + (["Normalize"] if state.normalize else [])
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
        if state.normalize:
            (target / "2_Normalize").mkdir()
        (target / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
        (target / "1_Pooling").mkdir()
        pooling = {"word_embedding_dimension": self.dim, "pooling_mode": state.pooling}
        (target / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2), "utf-8")
        st_config = {"max_seq_length": state.max_length, "do_lower_case": state.lowercase}
        (target / "sentence_bert_config.json").write_text(json.dumps(st_config, indent=2), "utf-8")
        return {"weights": HF_SUBFOLDER, "source_model": self.params["model"]}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        hf = folder / meta.get("weights", HF_SUBFOLDER)
        if not hf.is_dir():
            raise ModelFormatError(
                f"{hf} is missing", "re-save the model; the folder is incomplete"
            )
        self.params["model"] = str(hf)
        self._state = None


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool ``(batch, tokens, dim)`` hidden states over real tokens, as sentence-transformers does."""
    import torch

    expanded = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":  # first real token, so left padding works too
        first = mask.to(torch.int).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0]), first]
    if mode == "lasttoken":
        last = mask.shape[1] - 1 - mask.flip(1).to(torch.int).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0]), last]
    if mode == "max":
        return hidden.masked_fill(expanded == 0, float("-inf")).max(dim=1).values
    summed = (hidden * expanded).sum(dim=1)
    counts = torch.clamp(expanded.sum(dim=1), min=1e-9)
    if mode == "mean_sqrt_len_tokens":
        return summed / torch.sqrt(counts)
    return summed / counts


def _model_token_limit(tokenizer: Any, config: Any) -> int | None:
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
