"""Getting one model to every actor: by name, or as the bytes of its saved folder.

A catalogue model (``minilm``, ``static-minilm``) travels as its name and each actor loads it from
its own node, on the runtime asked for (``auto``: the fastest this node's CPU keeps exact). Any
other model (a saved folder, a fitted TF-IDF, an Embedder object) is saved once, in embedlab's
own format (``embedlab.json`` plus arrays, no pickle), and its files are put in Ray's object store
once: actors fetch them by reference and load the folder. A model that still needs fitting is
refused: fitting belongs before the cluster, once, not in every actor.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab import catalogue
from embedlab.embedders.base import Embedder
from embedlab.errors import NotFittedError
from embedlab.extras import require
from embedlab.loading import load


@dataclass(frozen=True)
class ModelSpec:
    """What an actor loads: ``name`` (a catalogue model) or ``files`` (a reference to the saved
    folder's files in the object store, kept in a list so Ray hands it over unresolved)."""

    name: str | None
    runtime: str | None
    files: list[Any] | None
    identity: str

    def load(self) -> Embedder:
        if self.name is not None:
            return (
                load(self.name) if self.runtime is None else load(self.name, runtime=self.runtime)
            )
        ray = require("ray", "ray")
        files: dict[str, bytes] = ray.get(self.files[0]) if self.files else {}
        folder = Path(tempfile.mkdtemp(prefix="embedlab-model-"))
        try:
            for name, data in files.items():
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return Embedder.load(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def resolve_model(
    model: str | os.PathLike[str] | Embedder, runtime: str | None
) -> tuple[Embedder, str | None]:
    """The model on the driver (to check it and learn its name and dimension), and the
    catalogue name actors should load it by, if it has one."""
    if isinstance(model, Embedder):
        embedder = model if runtime is None else load(model, runtime=runtime)
        name = None
    else:
        embedder = load(model) if runtime is None else load(model, runtime=runtime)
        text = str(model)
        name = text if catalogue.find(text) is not None and not Path(text).exists() else None
    if embedder.trainable and not embedder.is_fitted:
        raise NotFittedError(
            f"the {embedder.name} model is not fitted, and a distributed run does not fit one",
            f"fit it once first (embedlab embed SAMPLE.txt -o fit.npy -m {embedder.name} "
            "--save-model fitted-model) and pass -m fitted-model",
        )
    return embedder, name


def saved_files(embedder: Embedder) -> dict[str, bytes]:
    """The files of ``embedder`` saved in embedlab's format, by relative path."""
    folder = Path(tempfile.mkdtemp(prefix="embedlab-ship-"))
    try:
        embedder.save(folder / "model")
        root = folder / "model"
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def files_identity(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return f"files:{digest.hexdigest()}"
