"""``Collection``: ids, texts, metadata and vectors bound to the Embedder that made them.

The collection checks and embeds; a backend (see :mod:`embedlab.store.factory`) stores and
searches. The location says which backend: a folder is the embedded local backend, a
``postgresql://`` DSN the pgvector one::

    from embedlab.store import create_collection, open_collection

    docs = create_collection("data/docs", model="minilm")               # a folder on disk
    docs.add(["The bank raised rates.", "A cat sat."], metadatas=[{"year": 2024}, {}])
    docs.search("interest rates", k=5, where={"year": {"$gte": 2020}})
    docs.hybrid_search("bank rates", k=5)                                # BM25 + dense, fused

    pg = open_collection("postgresql://user@host/db", "docs")          # same API on PostgreSQL
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import embedlab
from embedlab.apps.explain import HitExplanation, explain_dense_hit, keyword_terms
from embedlab.embedders.base import Embedder
from embedlab.errors import EmbedlabError, InputError, UnknownModelError
from embedlab.progress import progress_bar
from embedlab.store.backend import (
    DEFAULT_INCLUDE,
    INCLUDE_ALL,
    Hit,
    Record,
    SearchOptions,
    StorageBackend,
)
from embedlab.store.config import STORAGES, bytes_per_vector
from embedlab.store.errors import DimensionMismatchError, ModelMismatchError
from embedlab.store.filters import parse_filter
from embedlab.store.fusion import FUSIONS, RRF_K, rrf, top, weighted
from embedlab.store.keyword import STOPWORDS
from embedlab.store.validate import (
    check_ids,
    check_include,
    check_metadatas,
    check_texts,
    content_ids,
)


@dataclass(slots=True)
class ExplainedHit(Hit):
    """A :class:`Hit` with why it scored so (``search(..., explain=True)``)."""

    explanation: HitExplanation | None = None

    def to_dict(self) -> dict[str, Any]:
        out = Hit.to_dict(self)
        if self.explanation is not None:
            out["explanation"] = self.explanation.to_dict()
        return out


class Collection:
    """A named set of items (id, text, JSON metadata, vector) bound to one Embedder.

    Get one from :func:`create_collection` / :func:`open_collection` (also
    ``Collection.create`` / ``Collection.open``). Use it as a context manager, or call
    :meth:`close`, so the local backend can save its index.
    """

    def __init__(self, backend: StorageBackend, embedder: Embedder | str | None = None) -> None:
        self._backend = backend
        self.config = backend.config
        self._embedder: Embedder | None = None
        if embedder is not None:
            self._embedder = self._check_embedder(embedder)

    # -- what it is ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def model(self) -> str | None:
        return self.config.model

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def backend(self) -> StorageBackend:
        return self._backend

    @property
    def location(self) -> str:
        return self._backend.location

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Collection({c.name!r}, backend={self._backend.kind!r}, model={c.model!r}, "
            f"dim={c.dim}, metric={c.metric!r}, storage={c.storage!r})"
        )

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()

    # -- the embedder ----------------------------------------------------------------------------
    def _check_embedder(self, embedder: Embedder | str) -> Embedder:
        if isinstance(embedder, str):
            embedder = embedlab.load(embedder)
        c = self.config
        if c.model is not None and embedder.name != c.model:
            raise ModelMismatchError(
                f"collection {c.name!r} holds vectors of {c.model!r}, not {embedder.name!r}",
                f"embed with {c.model!r}, or put these vectors in another collection",
            )
        if embedder.dim != c.dim:
            raise DimensionMismatchError(
                f"the embedder {embedder.name!r} makes {embedder.dim}-d vectors; "
                f"collection {c.name!r} holds {c.dim}-d ones",
                "use the model the collection was made with",
            )
        return embedder

    @property
    def embedder(self) -> Embedder:
        """The collection's Embedder, loaded by its recorded name on first use."""
        if self._embedder is None:
            c = self.config
            if c.model is None:
                raise InputError(
                    f"collection {c.name!r} has no model, so it cannot embed texts",
                    "pass vectors= (and search with a vector), or create it with model=...",
                )
            source = c.extra.get("model_source", c.model)
            try:
                embedder = embedlab.load(source)
            except UnknownModelError:
                raise UnknownModelError(
                    f"collection {c.name!r} was made with the model {c.model!r}, "
                    "which cannot be loaded here",
                    "pass embedder=<the same model> to open_collection()",
                ) from None
            self._embedder = self._check_embedder(embedder)
        return self._embedder

    def _embed(self, texts: list[str], batch_size: int, *, queries: bool = False) -> np.ndarray:
        verb = self.embedder.embed_queries if queries else self.embedder.embed_documents
        return verb(texts, batch_size=batch_size, normalize=self.config.normalize)

    def _check_vectors(self, vectors: Any, model: str | None, count: int | None) -> np.ndarray:
        c = self.config
        if model is not None and c.model is not None and model != c.model:
            raise ModelMismatchError(
                f"these vectors come from {model!r}; collection {c.name!r} holds {c.model!r} ones",
                f"embed with {c.model!r}, or use a collection made for {model!r}",
            )
        try:
            array = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(
                "vectors must be a 2-D array of numbers", "pass a numpy array (n, dim)"
            ) from None
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != c.dim:
            got = array.shape[-1] if array.ndim else "scalar"
            raise DimensionMismatchError(
                f"vectors of dimension {got} do not fit collection {c.name!r} ({c.dim}-d, "
                f"model {c.model or 'none'})",
                "embed with the collection's model, or create a collection with that dimension",
            )
        if count is not None and len(array) != count:
            raise InputError(f"{len(array)} vectors for {count} items", "pass one vector per item")
        norms = np.sqrt(np.einsum("ij,ij->i", array, array))
        if not np.isfinite(norms).all():  # one NaN or infinity makes its row's norm one
            raise InputError("vectors contain NaN or infinity", "fix or drop those rows")
        if not c.normalize:
            return array
        return array / np.where(norms == 0, 1, norms)[:, None]

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        texts: Sequence[str] | str | None = None,
        *,
        ids: Sequence[str | int] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        vectors: Any = None,
        model: str | None = None,
        batch_size: int = 32,
        commit_every: int = 1_024,
        progress: bool = False,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Add new items; an id already present is an error (see :meth:`upsert`).

        Give ``texts`` (embedded here, in batches of ``batch_size``) and/or precomputed
        ``vectors`` (``model`` may name what made them, to be checked). Items are committed in
        chunks of ``commit_every``: each chunk is durable once written (``on_commit`` is then
        called with its ids, so a long ingest can record its progress), and when ``add``
        returns all are. Returns the ids. Ids not given are made from content (see
        :func:`embedlab.store.validate.content_ids`: SHA-256 of the text, or of the vector when
        there is no text, and the metadata), so adding the same items again is refused as
        already present instead of storing them twice.
        """
        return self._write(
            texts,
            ids,
            metadatas,
            vectors,
            model,
            batch_size,
            commit_every,
            progress,
            False,
            on_commit,
        )

    def upsert(
        self,
        texts: Sequence[str] | str | None = None,
        *,
        ids: Sequence[str | int] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        vectors: Any = None,
        model: str | None = None,
        batch_size: int = 32,
        commit_every: int = 1_024,
        progress: bool = False,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Add items, replacing (text, metadata and vector) any with the same id."""
        if ids is None:
            raise InputError("upsert needs ids", "pass ids=[...]; add() can generate them")
        return self._write(
            texts,
            ids,
            metadatas,
            vectors,
            model,
            batch_size,
            commit_every,
            progress,
            True,
            on_commit,
        )

    def _write(
        self,
        texts: Sequence[str] | str | None,
        ids: Sequence[str | int] | None,
        metadatas: Sequence[dict[str, Any] | None] | None,
        vectors: Any,
        model: str | None,
        batch_size: int,
        commit_every: int,
        progress: bool,
        upsert: bool,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        if isinstance(texts, str):
            texts = [texts]
        if texts is None and vectors is None:
            raise InputError("nothing to add", "pass texts, vectors, or both")
        count = len(texts) if texts is not None else len(np.atleast_2d(vectors))
        if count == 0:
            return []
        if vectors is not None:
            vectors = self._check_vectors(vectors, model, count)
        elif model is not None and self.config.model is not None and model != self.config.model:
            self._check_vectors(np.zeros((1, self.dim)), model, None)
        text_list = check_texts(texts, count, embedding=vectors is None)
        meta_list = check_metadatas(metadatas, count)
        if ids is None:
            id_list = content_ids(text_list, meta_list, vectors)
        else:
            id_list = check_ids(ids, count)
        if vectors is None:
            self.embedder  # noqa: B018 (fails early, before any write, when it cannot embed)
        if commit_every < 1:
            raise InputError(f"commit_every must be at least 1, got {commit_every}", "use 1024")
        label = f"adding to {self.name}"
        with progress_bar(label, count, enabled=progress) as advance:
            for start in range(0, count, commit_every):
                stop = min(start + commit_every, count)
                chunk = (
                    vectors[start:stop]
                    if vectors is not None
                    else self._embed(text_list[start:stop], batch_size)  # type: ignore[arg-type]
                )
                self._backend.write(
                    id_list[start:stop],
                    text_list[start:stop],
                    meta_list[start:stop],
                    chunk,
                    upsert=upsert,
                )
                advance(stop - start)
                if on_commit is not None:
                    on_commit(id_list[start:stop])
        self._backend.finish_write()
        return id_list

    def delete(self, ids: Sequence[str | int] | str | None = None, *, where: Any = None) -> int:
        """Delete items by id and/or metadata filter (both: ids that match); returns how many."""
        if isinstance(ids, str | int):
            ids = [ids]
        node = parse_filter(where)
        if ids is None and node is None:
            raise InputError(
                "delete needs ids or a filter",
                "pass ids=[...] or where={...}; to drop the whole collection use drop_collection()",
            )
        id_list = [str(i) for i in ids] if ids is not None else None
        return self._backend.delete(id_list, node)

    # -- reading ---------------------------------------------------------------------------------
    def count(self, where: Any = None) -> int:
        """How many items (matching ``where``, if given)."""
        return self._backend.count(parse_filter(where))

    def get(
        self, ids: Sequence[str | int] | str | int, *, include: Sequence[str] = INCLUDE_ALL
    ) -> Any:
        """Items by id: a list in the order asked (missing ids skipped), or for a single id the
        :class:`Record` or ``None``."""
        include = check_include(include)
        if isinstance(ids, str | int):
            found = self._backend.get([str(ids)], include)
            return found[0] if found else None
        return self._backend.get([str(i) for i in ids], include)

    def __contains__(self, item_id: object) -> bool:
        return self.get(str(item_id), include=()) is not None

    def iter(
        self, batch_size: int = 1_000, include: Sequence[str] = INCLUDE_ALL
    ) -> Iterator[Record]:
        """Every item, streamed in batches (an export reads a collection this way)."""
        for batch in self._backend.iter_records(batch_size, check_include(include)):
            yield from batch

    def __iter__(self) -> Iterator[Record]:
        return self.iter()

    def page(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        where: Any = None,
        include: Sequence[str] = ("text", "metadata"),
    ) -> list[Record]:
        """Items ``offset`` to ``offset + limit`` (matching ``where``) in the order :meth:`iter`
        gives: a page to show, without reading the items before it (the web page lists this
        way; Chroma's ``get(limit=, offset=)``)."""
        for value, name in ((offset, "offset"), (limit, "limit")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{name} must be a whole number >= 0, got {value!r}", "fix it")
        return self._backend.page(offset, limit, parse_filter(where), check_include(include))

    # -- searching -------------------------------------------------------------------------------
    def _query_vectors(self, queries: Any, model: str | None, batch_size: int) -> np.ndarray:
        if isinstance(queries, str):
            queries = [queries]
        if len(queries) == 0:
            raise InputError("no queries to search with", "pass at least one text or vector")
        if isinstance(queries, list | tuple) and queries and isinstance(queries[0], str):
            texts = check_texts(queries, len(queries), embedding=True)
            return self._embed(texts, batch_size, queries=True)  # type: ignore[arg-type]
        return self._check_vectors(queries, model, None)

    def _options(
        self,
        k: int,
        where: Any,
        include: Sequence[str],
        ef: int | None,
        rescore: int | None,
        exact: bool,
    ) -> SearchOptions:
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}", "use e.g. k=10")
        for value, what in ((ef, "ef"), (rescore, "rescore")):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"{what} must be a positive integer, got {value!r}", None)
        return SearchOptions(
            k=k,
            where=parse_filter(where),
            include=check_include(include),
            ef=ef,
            rescore=rescore,
            exact=exact,
        )

    def search(
        self,
        query: str | Any,
        k: int = 10,
        *,
        where: Any = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        ef: int | None = None,
        rescore: int | None = None,
        exact: bool = False,
        model: str | None = None,
        explain: bool = False,
    ) -> list[Hit]:
        """The ``k`` nearest items to one query (a text, or a vector), best first.

        ``where`` is a metadata filter (see :mod:`embedlab.store.filters`); ``ef`` widens the
        HNSW walk (recall for speed), ``rescore`` sets how many candidates per result quantized
        storage rescores exactly, ``exact`` skips the approximate index. ``explain=True``
        (a text query) returns :class:`ExplainedHit` s whose ``explanation`` splits each score
        over token pairs of the query and the hit's stored text (fetched for it).
        """
        if explain:
            self._check_explainable(query)
            include = tuple(dict.fromkeys([*check_include(include), "text"]))
        if not isinstance(query, str):
            array = np.asarray(query, dtype=np.float32)
            if array.ndim != 1:
                raise InputError(
                    "search takes one query (a text or a 1-D vector)",
                    "use search_batch for several",
                )
        hits = self.search_batch(
            [query] if isinstance(query, str) else np.asarray(query)[None, :],
            k,
            where=where,
            include=include,
            ef=ef,
            rescore=rescore,
            exact=exact,
            model=model,
        )[0]
        if not explain:
            return hits
        return [self._explain_dense(query, hit) for hit in hits]

    # -- explaining hits -------------------------------------------------------------------------
    def _check_explainable(self, query: Any) -> None:
        if not isinstance(query, str):
            raise InputError(
                "explain needs a text query: a vector has no tokens to split the score over",
                "search with the query's text, or drop explain",
            )

    def _explain_dense(
        self, query: str, hit: Hit, *, fused: bool = False, dense_score: float | None = None
    ) -> ExplainedHit:
        """``fused``: ``hit.score`` is a fused one; ``dense_score`` is the dense side's (None:
        not among its candidates)."""
        out = ExplainedHit(hit.id, hit.score, hit.text, hit.metadata, hit.vector)
        if hit.text is None:
            out.explanation = HitExplanation("dense", hit.score, notes=["the hit has no text"])
            return out
        c = self.config
        out.explanation = explain_dense_hit(
            self.embedder,
            query,
            hit.text,
            dense_score if fused else hit.score,
            metric=c.metric,
            normalize=c.normalize,
            storage=c.storage,
        )
        return out

    def _explain_keyword(self, query: str, hit: Hit, explanation: HitExplanation) -> None:
        if hit.text is not None:
            explanation.terms = keyword_terms(query, hit.text, STOPWORDS)
        if self._backend.kind == "postgres":
            explanation.notes.append(
                "terms as BM25 tokenises them; PostgreSQL's full-text search also matches stems"
            )

    def search_batch(
        self,
        queries: Sequence[str] | Any,
        k: int = 10,
        *,
        where: Any = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        ef: int | None = None,
        rescore: int | None = None,
        exact: bool = False,
        model: str | None = None,
        batch_size: int = 32,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries at once (texts or an ``(n, dim)`` array)."""
        options = self._options(k, where, include, ef, rescore, exact)
        vectors = self._query_vectors(queries, model, batch_size)
        return self._backend.search(vectors, options)

    def search_ids(
        self,
        queries: Sequence[str] | Any,
        k: int = 10,
        *,
        where: Any = None,
        ef: int | None = None,
        rescore: int | None = None,
        exact: bool = False,
        model: str | None = None,
        batch_size: int = 32,
    ) -> tuple[list[list[str]], np.ndarray]:
        """Ids (a list per query, best first) and scores (an ``(n, k)`` array, NaN where a
        query has fewer results): :meth:`search_batch` without building a :class:`Hit` per
        result, which is most of the cost around the index for bulk retrieval and evaluation."""
        options = self._options(k, where, (), ef, rescore, exact)
        return self._backend.search_ids(self._query_vectors(queries, model, batch_size), options)

    def keyword_search(
        self,
        query: str,
        k: int = 10,
        *,
        where: Any = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        explain: bool = False,
    ) -> list[Hit]:
        """Keyword-only search: BM25 (local) or ts_rank full-text search (PostgreSQL).

        ``explain=True``: each hit's ``explanation.terms`` are the query terms it contains."""
        check_texts([query], 1, embedding=True)
        ranked = self._backend.keyword_search(query, k, parse_filter(where))
        include = check_include(include)
        if not explain:
            return self._with_details(ranked, include)
        hits = self._with_details(ranked, tuple(dict.fromkeys([*include, "text"])))
        out: list[Hit] = []
        for hit in hits:
            explanation = HitExplanation("keyword", hit.score)
            self._explain_keyword(query, hit, explanation)
            explained = ExplainedHit(hit.id, hit.score, hit.text, hit.metadata, hit.vector)
            explained.explanation = explanation
            out.append(explained)
        return out

    def hybrid_search(
        self,
        query: str,
        k: int = 10,
        *,
        where: Any = None,
        fusion: str = "rrf",
        weight: float = 0.5,
        candidates: int | None = None,
        include: Sequence[str] = DEFAULT_INCLUDE,
        ef: int | None = None,
        explain: bool = False,
    ) -> list[Hit]:
        """Keyword and dense search fused: ``fusion="rrf"`` (reciprocal rank fusion, the
        default: robust, needs no tuning) or ``"weighted"`` (``weight`` on the dense side of
        min-max scaled scores). Each side contributes its best ``candidates`` (default
        ``max(50, 5k)``). Scores are fused scores, higher is better.

        ``explain=True``: each hit's ``explanation.sides`` are the dense and keyword parts of
        its fused score (they add up to it), with each side's rank, the dense token pairs and
        the matching keyword terms."""
        if fusion not in FUSIONS:
            raise InputError(f"unknown fusion {fusion!r}", f"use one of {', '.join(FUSIONS)}")
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"weight must be between 0 and 1, got {weight}", "e.g. 0.5")
        n = candidates or max(50, 5 * k)
        options = self._options(n, where, (), ef, None, False)
        options.k = n
        dense_hits = self._backend.search(self._query_vectors(query, None, 32), options)[0]
        keyword = self._backend.keyword_search(query, n, options.where)
        if fusion == "rrf":
            fused = rrf([[h.id for h in dense_hits], [item for item, _ in keyword]])
        else:
            sign = 1.0 if self.config.higher_is_better else -1.0
            fused = weighted(
                {h.id: sign * h.score for h in dense_hits}, dict(keyword), weight=weight
            )
        if not explain:
            return self._with_details(top(fused, k), check_include(include))
        hits = self._with_details(top(fused, k), tuple(dict.fromkeys([*include, "text"])))
        return [
            self._explain_fused(query, hit, dense_hits, keyword, fusion, weight) for hit in hits
        ]

    def _explain_fused(
        self,
        query: str,
        hit: Hit,
        dense_hits: list[Hit],
        keyword: list[tuple[str, float]],
        fusion: str,
        weight: float,
    ) -> ExplainedHit:
        """One hybrid hit: each side's part of the fused score, in the fusion's own terms."""
        dense_rank = next((r for r, h in enumerate(dense_hits, 1) if h.id == hit.id), None)
        keyword_rank = next((r for r, (i, _) in enumerate(keyword, 1) if i == hit.id), None)
        if fusion == "rrf":
            sides = {
                "dense": 1.0 / (RRF_K + dense_rank) if dense_rank else 0.0,
                "keyword": 1.0 / (RRF_K + keyword_rank) if keyword_rank else 0.0,
            }
            about: dict[str, Any] = {"method": "rrf", "k": RRF_K, "formula": "1 / (k + rank)"}
        else:
            sign = 1.0 if self.config.higher_is_better else -1.0
            dense_scores = {h.id: sign * h.score for h in dense_hits}
            sides = {  # fusion.weighted with one side empty is that side's part exactly
                "dense": weighted(dense_scores, {}, weight).get(hit.id, 0.0),
                "keyword": weighted({}, dict(keyword), weight).get(hit.id, 0.0),
            }
            about = {
                "method": "weighted",
                "weight": weight,
                "formula": "weight * minmax(dense) + (1 - weight) * minmax(keyword)",
            }
        about.update(dense_rank=dense_rank, keyword_rank=keyword_rank)
        about["dense_score"] = next((h.score for h in dense_hits if h.id == hit.id), None)
        about["keyword_score"] = dict(keyword).get(hit.id)
        out = self._explain_dense(query, hit, fused=True, dense_score=about["dense_score"])
        explanation = out.explanation
        assert explanation is not None
        explanation.mode, explanation.score = "hybrid", hit.score
        explanation.sides, explanation.fusion = sides, about
        self._explain_keyword(query, hit, explanation)
        return out

    def _with_details(self, ranked: list[tuple[str, float]], include: Sequence[str]) -> list[Hit]:
        if not ranked:
            return []
        records = {}
        if include:
            records = {r.id: r for r in self._backend.get([i for i, _ in ranked], include)}
        hits = []
        for item_id, score in ranked:
            record = records.get(item_id)
            if include and record is None:
                continue  # deleted between the two steps
            hit = Hit(item_id, float(score))
            if record is not None:
                hit.text, hit.metadata, hit.vector = record.text, record.metadata, record.vector
            hits.append(hit)
        return hits

    # -- upkeep ----------------------------------------------------------------------------------
    def build_index(self, progress: bool = False) -> None:
        """Bring the approximate index up to date now (else the next search does it)."""
        self._backend.build_index(progress=progress)

    def compact(self) -> None:
        """Reclaim the space of deleted and replaced items (local backend; a no-op elsewhere)."""
        compact = getattr(self._backend, "compact", None)
        if compact is not None:
            compact()

    def verify(self) -> dict[str, Any]:
        """Check that binding, stored rows, vector checksums and index agree; raises
        :class:`~embedlab.store.errors.CorruptCollectionError` naming every problem if not."""
        return self._backend.verify()

    def repair(self) -> dict[str, Any]:
        """Rebuild what damage left rebuildable and quarantine what it did not.

        The index is rebuilt from the vectors; lost or damaged vectors are embedded again from
        their stored texts with the bound model; rows with neither, and damaged files, are moved
        into the folder's ``quarantine/`` (never deleted). Returns ``{"actions": [one line per
        thing done], "verify": the check of the result}``.
        """
        embed = None
        if self.config.model is not None:
            try:
                self.embedder  # noqa: B018 (loaded now: repair says when it cannot re-embed)
                embed = self._embed_for_repair
            except EmbedlabError:
                embed = None
        report = self._backend.repair(embed)
        self.config = self._backend.config  # a manifest rewritten from the database
        return report

    def _embed_for_repair(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, 32)

    def info(self) -> dict[str, Any]:
        """Binding, counts, index state and memory per vector for every storage type."""
        c = self.config
        out = {
            "name": c.name,
            "model": c.model,
            "dim": c.dim,
            "metric": c.metric,
            "normalize": c.normalize,
            "storage": c.storage,
            "index_setting": c.index,
            "hnsw": {"m": c.m, "ef_construction": c.ef_construction, "ef_search": c.ef_search},
            "rescore": c.rescore_factor,
            "bytes_per_vector": bytes_per_vector(c.storage, c.dim),
            "bytes_per_vector_by_storage": {s: bytes_per_vector(s, c.dim) for s in STORAGES},
            "full_precision_on_disk_bytes_per_vector": 4 * c.dim,
        }
        out.update(self._backend.info())
        return out


__all__ = ["Collection"]
