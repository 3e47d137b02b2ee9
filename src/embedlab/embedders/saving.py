"""The saved-model folder format: ``embedlab.json`` (method, parameters, version) plus arrays.

Arrays are ``.npy`` (never pickled) or safetensors and vocabularies JSON, so a folder a user hands
us can be read without running code from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.errors import ModelFormatError

MODEL_FILE = "embedlab.json"
FORMAT_NAME = "embedlab-model"
FORMAT_VERSION = 1


def read_model_meta(folder: Path) -> dict[str, Any]:
    """Read and check ``embedlab.json``; every failure names the file and what to do."""
    meta_path = folder / MODEL_FILE
    if not folder.is_dir():
        raise ModelFormatError(f"{folder} is not a folder", "pass the folder a model was saved to")
    if not meta_path.is_file():
        raise ModelFormatError(
            f"{folder} has no {MODEL_FILE}, so it is not a saved embedlab model",
            "pass a folder written by Embedder.save(), or a Hugging Face model folder",
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(
            f"{meta_path} is not valid JSON ({exc})", "re-save the model; the file is corrupt"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or "method" not in meta:
        raise ModelFormatError(
            f"{meta_path} is not an embedlab model description", "re-save the model"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFormatError(
            f"{folder} was saved by a newer embedlab (format {meta['format_version']})",
            "upgrade embedlab to load it",
        )
    return meta


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


def save_array(folder: Path, name: str, array: np.ndarray) -> str:
    """Save one array as ``.npy`` (never pickled) and return its file name."""
    file_name = f"{name}.npy"
    np.save(folder / file_name, np.ascontiguousarray(array), allow_pickle=False)
    return file_name


def load_array(folder: Path, file_name: str) -> np.ndarray:
    """Load an ``.npy`` written by :func:`save_array`; pickled object arrays are refused."""
    path = _inside(folder, file_name)
    if not path.is_file():
        raise ModelFormatError(f"{path} is missing", "re-save the model; the folder is incomplete")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ModelFormatError(
            f"{path} is not a valid .npy array ({exc})", "re-save the model"
        ) from None


def save_json(folder: Path, name: str, data: Any) -> str:
    file_name = f"{name}.json"
    (folder / file_name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return file_name


def load_json(folder: Path, file_name: str) -> Any:
    path = _inside(folder, file_name)
    if not path.is_file():
        raise ModelFormatError(f"{path} is missing", "re-save the model; the folder is incomplete")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path} is not valid JSON ({exc})", "re-save the model") from None


def _inside(folder: Path, file_name: str) -> Path:
    """``folder / file_name`` for a plain file name only: names come from the folder's own
    embedlab.json, which a crafted folder could point outside itself (``../secret``)."""
    if (
        not isinstance(file_name, str)
        or Path(file_name).name != file_name
        or file_name in ("", ".", "..")
    ):
        raise ModelFormatError(
            f"{folder / MODEL_FILE} names {file_name!r}, which is not a file inside the folder",
            "re-save the model; embedlab only writes plain file names there",
        )
    return folder / file_name
