"""Semantic search and retrieval for RAG: index a folder of documents, ask questions of it.

Each chunk is stored with its source, position and the hash of the file it came from. Re-indexing
reads those hashes back from the collection itself (so it works the same on every backend, with
no side file to lose) and re-embeds only files that changed; chunks of deleted files go too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab.embedders.base import Embedder
from embedlab.errors import InputError
from embedlab.progress import progress_bar
from embedlab.store import UnknownCollectionError, create_collection, open_collection
from embedlab.text.chunking import chunk_text
from embedlab.text.documents import DOCUMENT_TYPES, extract_text


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_embedded: int = 0


@dataclass
class Passage:
    """One retrieved chunk, with the chunks around it for context."""

    source: str
    chunk: int
    score: float
    text: str
    before: str = ""
    after: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def check_documents(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """The documents to index in ``folder`` by relative path; a missing or empty folder is
    refused, so nothing (no collection) is made for it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder", "pass the folder of documents to index")
    found = {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in DOCUMENT_TYPES and not p.name.startswith(".")
    }
    if not found:
        raise InputError(
            f"{folder} has no documents",
            f"it needs files of these types: {', '.join(DOCUMENT_TYPES)}",
        )
    return found


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def open_or_create(location: str | os.PathLike[str], model: str | Embedder) -> Any:
    """The collection at ``location``, created for ``model`` if it does not exist yet."""

    try:
        return open_collection(location, embedder=model if isinstance(model, Embedder) else None)
    except UnknownCollectionError:
        return create_collection(location, model=model)


def index_folder(
    folder: str | os.PathLike[str],
    collection: Any,
    *,
    max_tokens: int = 200,
    overlap: int = 40,
    count_tokens: Callable[[str], int] | None = None,
    progress: bool = False,
) -> IndexReport:
    """Chunk, embed and store every document of ``folder``; unchanged files are skipped."""
    documents = check_documents(folder)
    known: dict[str, str] = {}
    for record in collection.iter(include=("metadata",)):
        meta = record.metadata or {}
        if "source" in meta:
            known[meta["source"]] = meta.get("sha", "")
    counter = count_tokens or collection.embedder.count_tokens
    report = IndexReport()
    for source in sorted(set(known) - set(documents)):
        collection.delete(where={"source": source})
        report.removed.append(source)
    with progress_bar("indexing documents", len(documents), enabled=progress) as advance:
        for source, path in documents.items():
            _index_one(collection, source, path, known, report, max_tokens, overlap, counter)
            advance(1)
    return report


def _index_one(
    collection: Any,
    source: str,
    path: Path,
    known: dict[str, str],
    report: IndexReport,
    max_tokens: int,
    overlap: int,
    counter: Callable[[str], int],
) -> None:
    """(Re-)index one document unless its hash says it is unchanged."""
    sha = _sha(path)
    if known.get(source) == sha:
        report.unchanged.append(source)
        return
    if source in known:
        collection.delete(where={"source": source})
        report.updated.append(source)
    else:
        report.added.append(source)
    text = extract_text(path)
    chunks = chunk_text(text, max_tokens=max_tokens, overlap=overlap, count_tokens=counter)
    if not chunks:
        return
    collection.add(
        [c.text for c in chunks],
        ids=[f"{source}#{c.index}" for c in chunks],
        metadatas=[
            {"source": source, "chunk": c.index, "start": c.start, "end": c.end, "sha": sha}
            for c in chunks
        ],
    )
    report.chunks_embedded += len(chunks)


def ask(
    collection: Any,
    question: str,
    *,
    k: int = 5,
    rerank: Embedder | None = None,
    candidates: int = 20,
    context: bool = True,
    hybrid: bool = False,
) -> list[Passage]:
    """The ``k`` best chunks for ``question``; with ``rerank``, the top ``candidates`` are re-scored
    by a second (stronger) embedder before the cut."""
    if not question.strip():
        raise InputError("the question is empty", "ask something")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}", "ask for one passage or more")
    if collection.count() == 0:
        raise InputError(
            f"the collection {collection.name!r} is empty, so there is nothing to answer from",
            "index documents into it first: embedlab index FOLDER --collection ...",
        )
    n = max(k, candidates) if rerank is not None else k
    hits = collection.hybrid_search(question, k=n) if hybrid else collection.search(question, k=n)
    scored = [(hit.score, hit) for hit in hits]
    if rerank is not None and hits:
        query = rerank.embed_queries([question], normalize=True)[0]
        sims = rerank.embed_documents([hit.text or "" for hit in hits], normalize=True) @ query
        scored = sorted(
            ((float(s), hit) for s, hit in zip(sims, hits, strict=True)), key=lambda p: -p[0]
        )
    passages = []
    for score, hit in scored[:k]:
        source, chunk = hit.metadata.get("source", hit.id), int(hit.metadata.get("chunk", 0))
        passage = Passage(source, chunk, score, hit.text or "")
        if context:
            around = {
                r.id: r.text or ""
                for r in collection.get([f"{source}#{chunk - 1}", f"{source}#{chunk + 1}"])
            }
            passage.before = around.get(f"{source}#{chunk - 1}", "")
            passage.after = around.get(f"{source}#{chunk + 1}", "")
        passages.append(passage)
    return passages


def as_prompt(passages: list[Passage]) -> str:
    """Plain text ready to paste into a prompt: numbered passages with their sources."""
    blocks = [
        f"[{i}] {p.source} (chunk {p.chunk}, score {p.score:.3f})\n{p.text}"
        for i, p in enumerate(passages, 1)
    ]
    return "\n\n".join(blocks)
