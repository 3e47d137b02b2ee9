"""Audio and image files in a collection: stored, searched by example or by text, deduplicated.

The choice: an item's **text is the file's absolute path** (so ``Collection.add(paths)``,
``repair`` and re-embedding read the file again, and hits show where it is), and its metadata
gains ``kind`` ("audio"/"image"), ``file`` (the name), ``bytes`` and, for audio, ``seconds``,
beside the user's own fields. Everything else is the ordinary collection: ``search("q.wav")``
embeds the example clip with the collection's model (``embed_queries``), a CLIP-style model
sends a sentence to its text tower, and ``cluster``/``dedupe``/``map`` work on the vectors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.apps.dedupe import find_duplicates
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.media.inputs import TAKES, article, local_path
from embedlab.store.backend import Hit
from embedlab.store.collection import Collection


def media_kind(collection: Collection) -> str:
    """What the collection's model takes; a text model's collection is refused here."""
    kind = getattr(collection.embedder, "input_kind", "text")
    if kind == "text":
        raise InputError(
            f"collection {collection.name!r} holds vectors of the text model "
            f"{collection.model!r}, which cannot embed files",
            "create the collection with an audio or image model, e.g. model='voice'",
        )
    return kind


def file_metadata(path: Path, kind: str) -> dict[str, Any]:
    """The metadata stored with a file: kind, name, size, and an audio clip's length."""
    meta: dict[str, Any] = {"kind": kind, "file": path.name, "bytes": path.stat().st_size}
    if kind == "audio":
        with contextlib.suppress(RuntimeError):  # the model's reading says what is wrong
            meta["seconds"] = round(float(require("soundfile", "audio").info(path).duration), 3)
    return meta


def add_files(
    collection: Collection,
    files: Sequence[str | os.PathLike[str]],
    *,
    metadatas: Sequence[dict[str, Any] | None] | None = None,
    ids: Sequence[str | int] | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> list[str]:
    """Embed and add audio or image files (see the module docstring); returns the ids.

    Every file is checked before anything is stored, so a bad one adds nothing.
    """
    kind = media_kind(collection)
    model = collection.embedder.name
    if isinstance(files, str | os.PathLike):
        files = [files]
    paths = []
    for i, item in enumerate(files):
        path = local_path(item, i, kind, model)
        if path is None:
            raise InputError(
                f"file {i} is a {type(item).__name__}, not a path",
                f"pass paths of {kind} files; for bytes or arrays add vectors=model.embed(...)",
            )
        paths.append(path.resolve())
    if metadatas is not None and len(metadatas) != len(paths):
        raise InputError(f"{len(metadatas)} metadatas for {len(paths)} files", "one per file")
    metas = [
        {**file_metadata(path, kind), **(metadatas[i] or {} if metadatas is not None else {})}
        for i, path in enumerate(paths)
    ]
    vectors = collection.embedder.embed(
        [str(p) for p in paths], batch_size=batch_size, progress=progress
    )
    return collection.add(
        [str(p) for p in paths],
        ids=ids,
        metadatas=metas,
        vectors=vectors,
        model=collection.model,
        batch_size=batch_size,
        progress=progress,
    )


def search_by_example(
    collection: Collection, example: Any, k: int = 10, **options: Any
) -> list[Hit]:
    """Hits for one example (a path, bytes, an array, or for CLIP-style models a text)."""
    kind = media_kind(collection)
    try:
        vector = collection.embedder.embed_queries(example)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot use this example to search {collection.name!r} ({exc})",
            f"{collection.embedder.name} takes {TAKES[kind]}; pass {article(kind)} example",
        ) from None
    return collection.search(np.asarray(vector, dtype=np.float32), k, **options)


def duplicates(collection: Collection, threshold: float = 0.95) -> list[tuple[str, str, float]]:
    """Pairs of stored items at or above ``threshold`` cosine: ``(text_a, text_b, cosine)``,
    the texts being the files' paths; most similar first."""
    records = list(collection.iter(include=("text", "vector")))
    if len(records) < 2:
        return []
    vectors = np.stack([r.vector for r in records if r.vector is not None])
    pairs = [
        (records[i].text or records[i].id, records[j].text or records[j].id, score)
        for i, j, score in find_duplicates(vectors, threshold)
    ]
    return sorted(pairs, key=lambda p: -p[2])
