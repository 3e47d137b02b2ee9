"""The teacher's vectors of a corpus, computed once and kept on disk in chunks; resumable.

Why: a student learns from (text, teacher vector) pairs for many epochs and several students
learn from the same pairs, while the teacher is by far the slowest part. The corpus is streamed
through the teacher once; every ``chunk_size`` texts become ``texts-NNNNN.json`` and
``vectors-NNNNN.npy`` (float16, normalised), each written beside its place and renamed, then
``manifest.json`` is rewritten. A run that is killed resumes after the last whole chunk; a cache
made by another teacher or from another corpus is refused, never mixed in.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import write_json_atomic
from embedlab.embedders.base import Embedder
from embedlab.embedders.words.corpus import iter_texts
from embedlab.errors import InputError, OutputError
from embedlab.eval.datasets import sts_benchmark
from embedlab.paths import cache_home
from embedlab.progress import progress_bar
from embedlab.text.chunking import sentences
from embedlab.text.corpora import CORPORA, corpus_path
from embedlab.training.teachers import load_teacher, teacher_key

MANIFEST = "manifest.json"
FORMAT = "embedlab-teacher-vectors"
SPLITS = ("line", "sentence")
BUILTIN = {"stsb": "the STS Benchmark's training sentences (5,749 pairs, unique sentences)"}
MAX_CHARS = 1000  # a text is cut here: students see at most max_tokens subwords anyway


@dataclass(frozen=True)
class Corpus:
    """Where texts come from: a file or folder, a prepared corpus name, or ``stsb``."""

    source: str | Path
    field: str | None = None
    split: str = "line"  # "sentence": each line is split into sentences
    limit: int | None = None  # at most this many texts

    def check(self) -> None:
        if self.split not in SPLITS:
            raise InputError(f"unknown split {self.split!r}", "use 'line' or 'sentence'")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"limit must be at least 1, got {self.limit}", "e.g. --limit 100000")

    def resolved(self) -> str | Path:
        """A path, or the name of a built-in sentence set; prepared corpora become their file."""
        text = str(self.source)
        path = Path(text).expanduser()
        if path.exists():
            return path
        if text in CORPORA:
            return corpus_path(text)  # says how to prepare it when it is missing
        if text in BUILTIN:
            return text
        raise InputError(
            f"no corpus at {text}",
            "pass a .txt/.jsonl/.csv/.parquet file, a folder of them, a corpus name from "
            f"`embedlab data corpus` ({', '.join(sorted(CORPORA))}) or 'stsb'",
        )

    def key(self) -> str:
        where = self.resolved()
        if isinstance(where, Path):
            files = sorted(where.rglob("*")) if where.is_dir() else [where]
            stamp: list[Any] = [
                (str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files
            ]
        else:
            stamp = [where]
        return json.dumps([stamp, self.field, self.split, self.limit])

    def texts(self) -> Iterator[str]:
        """The texts, cleaned: stripped, cut at MAX_CHARS, empty ones skipped, split if asked."""
        where = self.resolved()
        raw: Iterable[Any]
        if where == "stsb":
            raw = dict.fromkeys(s for a, b, _ in sts_benchmark("train") for s in (a, b))
        else:
            raw = iter_texts(where, field=self.field)
        count = 0
        for item in raw:
            pieces = [item] if self.split == "line" else [s for s, _, _ in sentences(str(item))]
            for piece in pieces:
                text = " ".join(str(piece).split())[:MAX_CHARS]
                if not text:
                    continue
                yield text
                count += 1
                if self.limit is not None and count >= self.limit:
                    return


class TeacherVectors:
    """A finished (or partial) cache: texts and float32 teacher vectors, in corpus order."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])

    @property
    def teacher(self) -> str:
        return str(self.manifest["teacher"])

    def texts(self) -> list[str]:
        out: list[str] = []
        for chunk in self.manifest["chunks"]:
            out += json.loads((self.folder / chunk["texts"]).read_text(encoding="utf-8"))
        return out

    def vectors(self) -> np.ndarray:
        parts = [
            np.load(self.folder / chunk["vectors"], allow_pickle=False)
            for chunk in self.manifest["chunks"]
        ]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32)


def default_folder(teacher: str, corpus: Corpus) -> Path:
    digest = hashlib.sha256(json.dumps([teacher, corpus.key()]).encode()).hexdigest()[:16]
    return cache_home() / "teacher-vectors" / digest


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        if folder.is_dir() and any(folder.iterdir()):
            raise OutputError(
                f"{folder} is a folder embedlab did not write (it has no {MANIFEST})",
                "pick another --cache folder, or an empty one",
            )
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path} is not readable ({exc})", "delete the cache folder") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise OutputError(f"{path} is not a teacher-vector manifest", "pick another --cache")
    return manifest


def _write_json(path: Path, data: Any) -> None:
    write_json_atomic(path, data, durable=False)  # a cache: rebuilt if lost


def _write_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, array, allow_pickle=False)
    os.replace(tmp, path)


def teacher_vectors(
    teacher: str,
    corpus: Corpus,
    folder: str | os.PathLike[str] | None = None,
    *,
    chunk_size: int = 2048,
    batch_size: int = 64,
    progress: bool = False,
    loaded: Embedder | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> TeacherVectors:
    """Stream ``corpus`` through ``teacher`` into the cache at ``folder`` (default: in the
    embedlab cache, keyed by teacher and corpus) and return it; done chunks are never redone.

    ``loaded`` is the teacher already loaded (else it is loaded only if work remains);
    ``on_chunk(rows)`` is called after each chunk is stored (tests interrupt there).
    """
    corpus.check()
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}", "e.g. 2048")
    corpus_key = corpus.key()  # a missing corpus fails here, before the teacher loads
    target = Path(folder) if folder is not None else default_folder(teacher, corpus)
    manifest = _read_manifest(target)
    if (
        manifest is not None
        and manifest.get("teacher") == teacher
        and manifest["corpus_key"] == corpus_key
    ):
        if manifest["complete"]:
            return TeacherVectors(target, manifest)
    elif manifest is not None:
        raise InputError(
            f"the cache {target} holds the vectors of {manifest.get('teacher')!r} for "
            f"{manifest.get('corpus')!r}, not of {teacher!r} for {str(corpus.source)!r}",
            "pass another --cache folder, or delete that one",
        )
    done = manifest["rows"] if manifest else 0
    texts = corpus.texts()
    for _ in range(done):  # resume: skip what the stored chunks hold
        next(texts, None)
    first = list(islice(texts, chunk_size))  # a bad or empty corpus fails before the teacher loads
    if not first and not done:
        raise InputError(
            f"the corpus {corpus.source} has no text", "pass a corpus with at least one text"
        )
    model = loaded or load_teacher(teacher)
    manifest = manifest or {
        "format": FORMAT,
        "teacher": teacher,
        "teacher_key": teacher_key(teacher, model),
        "corpus": str(corpus.source),
        "corpus_key": corpus_key,
        "split": corpus.split,
        "dim": model.dim,
        "chunks": [],
        "rows": 0,
        "complete": False,
        "seconds": 0.0,
    }
    started = time.perf_counter()
    with progress_bar(f"teacher vectors ({teacher})", corpus.limit, enabled=progress) as advance:
        advance(done)
        chunk: list[str] = []
        for text in chain(first, texts, [None]):
            if text is not None:
                chunk.append(text)
                if len(chunk) < chunk_size:
                    continue
            if not chunk:
                break
            vectors = model.embed(chunk, batch_size=batch_size, normalize=True)
            target.mkdir(parents=True, exist_ok=True)
            number = len(manifest["chunks"])
            names = {"texts": f"texts-{number:05d}.json", "vectors": f"vectors-{number:05d}.npy"}
            _write_json(target / names["texts"], chunk)
            _write_npy(target / names["vectors"], vectors.astype(np.float16))
            manifest["chunks"].append({**names, "rows": len(chunk)})
            manifest["rows"] += len(chunk)
            manifest["seconds"] = round(manifest["seconds"] + time.perf_counter() - started, 2)
            started = time.perf_counter()
            _write_json(target / MANIFEST, manifest)
            advance(len(chunk))
            if on_chunk is not None:
                on_chunk(manifest["rows"])
            chunk = []
    manifest["complete"] = True
    _write_json(target / MANIFEST, manifest)
    return TeacherVectors(target, manifest)
