"""The PostgreSQL backend: the same collections in a real database, with pgvector.

Each collection is one table (``embedlab_<name>``: id, text, jsonb metadata, ``vector(dim)``,
and a generated ``tsvector`` for full-text search) plus a row in ``embedlab_collections`` holding
its binding. Vector search uses a pgvector HNSW index (built once a collection reaches
``exact_threshold`` rows, or at creation with ``index="hnsw"``); float16 and binary storage are
expression indexes on ``embedding::halfvec`` / ``binary_quantize(embedding)::bit``, whose
candidates are rescored against the full vectors in the same query. Filters compile to SQL over
the jsonb column with every value a bound parameter; keyword search is ``ts_rank`` over the
``tsvector``. Identifiers are quoted with ``psycopg.sql.Identifier``; nothing from a user is ever
formatted into SQL text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from embedlab.extras import require
from embedlab.store.backend import Hit, Record, SearchOptions, StorageBackend
from embedlab.store.config import CollectionConfig
from embedlab.store.errors import (
    CollectionExistsError,
    DuplicateIdError,
    StoreConnectionError,
    UnknownCollectionError,
    UnsupportedError,
)
from embedlab.store.filters import Node, to_postgres

REGISTRY = "embedlab_collections"
CONNECT_TIMEOUT = 10
BUILD_MEMORY = "1GB"  # maintenance_work_mem for an HNSW build: the graph must fit in it
MAX_EF = 1000  # pgvector's upper bound for hnsw.ef_search
OPS = {  # metric: (distance operator, vector opclass, halfvec opclass)
    "cosine": ("<=>", "vector_cosine_ops", "halfvec_cosine_ops"),
    "dot": ("<#>", "vector_ip_ops", "halfvec_ip_ops"),
    "l2": ("<->", "vector_l2_ops", "halfvec_l2_ops"),
}


def _redact(dsn: str) -> str:
    """The DSN without its password, for error messages."""
    dsn = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password=)\S+", r"\1***", dsn)


def connect(dsn: str) -> Any:
    """A psycopg connection (autocommit, pgvector types registered) or a clear error."""
    for module in ("psycopg", "pgvector"):
        require(module, "postgres")
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except (psycopg.Error, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreConnectionError(
            f"cannot connect to PostgreSQL at {_redact(dsn)} ({first})",
            "check the DSN (postgresql://user:password@host:port/database) and that the server "
            "runs; for a local one: embedlab.store.start_postgres('pgdata').get_uri()",
        ) from None
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        conn.close()
        raise StoreConnectionError(
            f"the pgvector extension is not available in {_redact(dsn)} ({exc.diag.message_primary})",
            "install pgvector on the server, or have an administrator run CREATE EXTENSION vector",
        ) from None
    register_vector(conn)
    return conn


class PostgresBackend(StorageBackend):
    """A collection stored in a PostgreSQL table with pgvector."""

    kind = "postgres"

    def __init__(self, conn: Any, dsn: str, config: CollectionConfig) -> None:
        from psycopg import sql

        self._conn = conn
        self._dsn = dsn
        self._mutex = threading.RLock()
        self.location = f"{_redact(dsn)}#{config.name}"
        self.config = config
        self.table = sql.Identifier(f"embedlab_{config.name}")
        self.index_name = sql.Identifier(f"embedlab_{config.name}_hnsw")

    @property
    def dsn(self) -> str:
        """The DSN as given (with any password; ``location`` is the printable form)."""
        return self._dsn

    # -- creating and opening ------------------------------------------------------------------
    @staticmethod
    def _ensure_registry(conn: Any) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {REGISTRY} (name text PRIMARY KEY, config jsonb NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )

    @classmethod
    def create(cls, location: str, config: CollectionConfig, *, exist_ok: bool) -> PostgresBackend:
        import psycopg
        from psycopg import sql
        from psycopg.types.json import Jsonb

        if config.storage == "int8":
            raise UnsupportedError(
                "pgvector has no int8 vector type, so int8 storage is local-only",
                "use storage='float16' or 'binary' (both rescored) on PostgreSQL",
            )
        limit = {"float32": 2000, "float16": 4000, "binary": 64000}[config.storage]
        if config.index != "flat" and config.dim > limit:
            raise UnsupportedError(
                f"pgvector's HNSW index takes at most {limit} dimensions for {config.storage}",
                "use storage='float16' or 'binary', or index='flat'",
            )
        conn = connect(location)
        try:
            cls._ensure_registry(conn)
            if not conn.execute(
                "SELECT 1 FROM pg_ts_config WHERE cfgname = %s", (config.language,)
            ).fetchone():
                names = [r[0] for r in conn.execute("SELECT cfgname FROM pg_ts_config")]
                raise UnsupportedError(
                    f"PostgreSQL has no text search configuration {config.language!r}",
                    f"use one of: {', '.join(sorted(names))}",
                )
            backend = cls(conn, location, config)
            try:
                with conn.transaction():
                    conn.execute(
                        f"INSERT INTO {REGISTRY} (name, config) VALUES (%s, %s)",
                        (config.name, Jsonb(config.to_dict())),
                    )
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE {t} (id text PRIMARY KEY, text text, "
                            "metadata jsonb NOT NULL DEFAULT '{{}}', embedding vector({dim}) NOT NULL, "
                            "tsv tsvector GENERATED ALWAYS AS "
                            "(to_tsvector({lang}::regconfig, coalesce(text, ''))) STORED)"
                        ).format(
                            t=backend.table,
                            dim=sql.Literal(config.dim),
                            lang=sql.Literal(config.language),
                        )
                    )
                    conn.execute(
                        sql.SQL("CREATE INDEX {i} ON {t} USING gin (tsv)").format(
                            i=sql.Identifier(f"embedlab_{config.name}_tsv"), t=backend.table
                        )
                    )
            except psycopg.errors.UniqueViolation:
                if exist_ok:
                    conn.close()
                    return cls.open(location, config.name)
                raise CollectionExistsError(
                    f"a collection named {config.name!r} already exists in {_redact(location)}",
                    "open it with open_collection(), pick another name, or pass exist_ok=True",
                ) from None
            if config.index == "hnsw":
                backend._create_index()
            return backend
        except BaseException:
            if not conn.closed:
                conn.close()
            raise

    @classmethod
    def open(cls, location: str, name: str | None) -> PostgresBackend:
        conn = connect(location)
        try:
            cls._ensure_registry(conn)
            row = conn.execute(f"SELECT config FROM {REGISTRY} WHERE name = %s", (name,)).fetchone()
            if row is None:
                names = [r[0] for r in conn.execute(f"SELECT name FROM {REGISTRY} ORDER BY name")]
                raise UnknownCollectionError(
                    f"no collection named {name!r} in {_redact(location)}",
                    f"existing: {', '.join(names)}" if names else "create one first",
                )
            return cls(conn, location, CollectionConfig.from_dict(row[0]))
        except BaseException:
            conn.close()
            raise

    @classmethod
    def list_names(cls, location: str) -> list[str]:
        conn = connect(location)
        try:
            cls._ensure_registry(conn)
            return [r[0] for r in conn.execute(f"SELECT name FROM {REGISTRY} ORDER BY name")]
        finally:
            conn.close()

    @classmethod
    def drop(cls, location: str, name: str | None) -> None:
        from psycopg import sql

        backend = cls.open(location, name)
        try:
            with backend._conn.transaction():
                backend._conn.execute(sql.SQL("DROP TABLE IF EXISTS {t}").format(t=backend.table))
                backend._conn.execute(f"DELETE FROM {REGISTRY} WHERE name = %s", (name,))
        finally:
            backend.close()

    def close(self) -> None:
        with self._mutex:
            if not self._conn.closed:
                self._conn.close()

    # -- the index -----------------------------------------------------------------------------
    def _has_index(self) -> bool:
        return (
            self._conn.execute(
                "SELECT 1 FROM pg_indexes WHERE indexname = %s",
                (f"embedlab_{self.config.name}_hnsw",),
            ).fetchone()
            is not None
        )

    def _index_expression(self) -> Any:
        from psycopg import sql

        c = self.config
        _, vector_ops, half_ops = OPS[c.metric]
        dim = sql.Literal(c.dim)
        if c.storage == "float16":
            return sql.SQL("(embedding::halfvec({dim})) {ops}").format(
                dim=dim, ops=sql.SQL(half_ops)
            )
        if c.storage == "binary":
            return sql.SQL("(binary_quantize(embedding)::bit({dim})) bit_hamming_ops").format(
                dim=dim
            )
        return sql.SQL("embedding {ops}").format(ops=sql.SQL(vector_ops))

    def _create_index(self) -> None:
        from psycopg import sql

        c = self.config
        with self._mutex, self._conn.transaction():
            self._conn.execute(
                "SELECT set_config('maintenance_work_mem', %s, true)", (BUILD_MEMORY,)
            )
            self._conn.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {i} ON {t} USING hnsw ({expr}) "
                    "WITH (m = {m}, ef_construction = {efc})"
                ).format(
                    i=self.index_name,
                    t=self.table,
                    expr=self._index_expression(),
                    m=sql.Literal(c.m),
                    efc=sql.Literal(c.ef_construction),
                )
            )

    def build_index(self, progress: bool = False) -> None:
        if self.config.index != "flat":
            self._create_index()

    def finish_write(self) -> None:
        c = self.config
        if c.index == "auto" and self.count() >= c.exact_threshold and not self._has_index():
            self._create_index()

    # -- writing -------------------------------------------------------------------------------
    def write(
        self,
        ids: list[str],
        texts: list[str | None],
        metadatas: list[dict[str, Any]],
        vectors: np.ndarray,
        *,
        upsert: bool,
    ) -> None:
        import psycopg
        from psycopg import sql
        from psycopg.types.json import Jsonb

        conn = self._conn
        stage = sql.Identifier("embedlab_stage")
        with self._mutex:
            try:
                with conn.transaction():
                    conn.execute(
                        sql.SQL(
                            "CREATE TEMP TABLE {s} (id text, text text, metadata jsonb, "
                            "embedding vector({dim})) ON COMMIT DROP"
                        ).format(s=stage, dim=sql.Literal(self.config.dim))
                    )
                    copy_sql = sql.SQL(
                        "COPY {s} (id, text, metadata, embedding) FROM STDIN WITH (FORMAT BINARY)"
                    ).format(s=stage)
                    with conn.cursor().copy(copy_sql) as copy:
                        copy.set_types(["text", "text", "jsonb", "vector"])
                        for row in zip(ids, texts, map(Jsonb, metadatas), vectors, strict=True):
                            copy.write_row(row)
                    if not upsert:
                        dupes = conn.execute(
                            sql.SQL("SELECT s.id FROM {s} s JOIN {t} USING (id) LIMIT 5").format(
                                s=stage, t=self.table
                            )
                        ).fetchall()
                        if dupes:
                            raise self._duplicates([d[0] for d in dupes])
                    conflict = sql.SQL(
                        " ON CONFLICT (id) DO UPDATE SET text = EXCLUDED.text, "
                        "metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding"
                        if upsert
                        else ""
                    )
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {t} (id, text, metadata, embedding) "
                            "SELECT id, text, metadata, embedding FROM {s}{c}"
                        ).format(t=self.table, s=stage, c=conflict)
                    )
            except psycopg.errors.UniqueViolation:  # a concurrent writer got there first
                raise self._duplicates(ids[:1]) from None

    def _duplicates(self, ids: list[str]) -> DuplicateIdError:
        return DuplicateIdError(
            f"id(s) already in collection {self.config.name!r}: {', '.join(map(repr, ids))}",
            "use upsert() (CLI: --upsert) to replace them, delete them first, or "
            "(CLI) add --resume to skip items already stored",
        )

    def delete(self, ids: Sequence[str] | None, where: Node | None) -> int:
        from psycopg import sql

        clause, params = to_postgres(where)
        if ids is not None:
            clause, params = f"id = ANY(%s) AND {clause}", [list(ids), *params]
        with self._mutex:
            cur = self._conn.execute(
                sql.SQL("DELETE FROM {t} WHERE ").format(t=self.table) + sql.SQL(clause), params
            )
            return cur.rowcount

    # -- reading -------------------------------------------------------------------------------
    def count(self, where: Node | None = None) -> int:
        from psycopg import sql

        clause, params = to_postgres(where)
        with self._mutex:
            query = sql.SQL("SELECT count(*) FROM {t} WHERE ").format(t=self.table)
            return self._conn.execute(query + sql.SQL(clause), params).fetchone()[0]

    def _columns(self, include: Sequence[str]) -> Any:
        from psycopg import sql

        return sql.SQL(", ").join(
            sql.SQL(col if col in include else "NULL") for col in ("text", "metadata", "embedding")
        )

    @staticmethod
    def _record(row: Sequence[Any]) -> Record:
        item_id, text, meta, vec = row[:4]
        vector = vec.to_numpy().astype(np.float32) if vec is not None else None
        return Record(item_id, text, meta or {}, vector)

    def get(self, ids: Sequence[str], include: Sequence[str]) -> list[Record]:
        from psycopg import sql

        inc = tuple("embedding" if i == "vector" else i for i in include)
        with self._mutex:
            rows = self._conn.execute(
                sql.SQL("SELECT id, {cols} FROM {t} WHERE id = ANY(%s)").format(
                    cols=self._columns(inc), t=self.table
                ),
                (list(ids),),
            ).fetchall()
        by_id = {r[0]: self._record(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def page(
        self, offset: int, limit: int, where: Node | None, include: Sequence[str]
    ) -> list[Record]:
        from psycopg import sql

        clause, params = to_postgres(where)
        inc = tuple("embedding" if i == "vector" else i for i in include)
        query = sql.SQL("SELECT id, {cols} FROM {t} WHERE ").format(
            cols=self._columns(inc), t=self.table
        )
        with self._mutex:
            rows = self._conn.execute(
                query + sql.SQL(clause) + sql.SQL(" ORDER BY id LIMIT %s OFFSET %s"),
                (*params, limit, offset),
            ).fetchall()
        return [self._record(r) for r in rows]

    def iter_records(self, batch_size: int, include: Sequence[str]) -> Iterator[list[Record]]:
        from psycopg import sql

        inc = tuple("embedding" if i == "vector" else i for i in include)
        conn = connect(self._dsn)  # its own connection: the export may outlive other calls
        try:
            with conn.transaction(), conn.cursor(name="embedlab_export") as cur:
                cur.execute(
                    sql.SQL("SELECT id, {cols} FROM {t} ORDER BY id").format(
                        cols=self._columns(inc), t=self.table
                    )
                )
                while rows := cur.fetchmany(batch_size):
                    yield [self._record(r) for r in rows]
        finally:
            conn.close()

    # -- search --------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, options: SearchOptions) -> list[list[Hit]]:
        from psycopg import sql

        c = self.config
        op = sql.SQL(OPS[c.metric][0])
        dim = sql.Literal(c.dim)
        inc = tuple("embedding" if i == "vector" else i for i in options.include)
        clause, fparams = to_postgres(options.where)
        approximate = not options.exact and c.storage != "float32"
        candidates = options.k * (options.rescore or c.rescore_factor)
        if approximate:
            qexpr = {
                "float16": sql.SQL("embedding::halfvec({d}) {op} %s::vector::halfvec({d})"),
                "binary": sql.SQL(
                    "binary_quantize(embedding)::bit({d}) <~> binary_quantize(%s::vector)"
                ),
            }[c.storage].format(d=dim, op=op)
            query = sql.SQL(
                "WITH cand AS MATERIALIZED (SELECT id, text, metadata, embedding FROM {t} "
                "WHERE {w} ORDER BY {q} LIMIT %s) "
                "SELECT id, {cols}, embedding {op} %s AS dist FROM cand ORDER BY dist LIMIT %s"
            ).format(t=self.table, w=sql.SQL(clause), q=qexpr, cols=self._columns(inc), op=op)
        else:
            query = sql.SQL(
                "WITH r AS MATERIALIZED (SELECT id, {cols}, embedding {op} %s AS dist FROM {t} "
                "WHERE {w} ORDER BY dist LIMIT %s) SELECT * FROM r ORDER BY dist"
            ).format(t=self.table, w=sql.SQL(clause), cols=self._columns(inc), op=op)
        ef = min(max(options.ef or c.ef_search, candidates if approximate else options.k), MAX_EF)
        out: list[list[Hit]] = []
        with self._mutex, self._conn.transaction():
            conn = self._conn
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef),))
            if options.where is not None:  # keep walking the graph until k rows pass the filter
                conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
            if options.exact:
                conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
            for q in np.asarray(queries, dtype=np.float32):
                if approximate:
                    params = [*fparams, q, candidates, q, options.k]
                else:
                    params = [q, *fparams, options.k]
                rows = conn.execute(query, params).fetchall()
                out.append([self._hit(r) for r in rows])
        return out

    def _hit(self, row: Sequence[Any]) -> Hit:
        record = self._record(row)
        dist = float(row[4])
        score = {"cosine": 1.0 - dist, "dot": -dist, "l2": dist}[self.config.metric]
        return Hit(record.id, score, record.text, record.metadata, record.vector)

    def keyword_search(self, query: str, n: int, where: Node | None) -> list[tuple[str, float]]:
        from psycopg import sql

        clause, fparams = to_postgres(where)
        # plainto_tsquery ANDs the words; BM25-like keyword search wants any word to count.
        statement = sql.SQL(
            "SELECT id, ts_rank(tsv, q) AS rank FROM {t} CROSS JOIN "
            "(SELECT replace(plainto_tsquery(%s::regconfig, %s)::text, ' & ', ' | ')::tsquery "
            "AS q) AS query WHERE tsv @@ q AND {w} ORDER BY rank DESC, id LIMIT %s"
        ).format(t=self.table, w=sql.SQL(clause))
        with self._mutex:
            rows = self._conn.execute(
                statement, [self.config.language, query, *fparams, n]
            ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    # -- reports -------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        from psycopg import sql

        with self._mutex:
            has_index = self._has_index()
            sizes = self._conn.execute(
                sql.SQL(
                    "SELECT pg_total_relation_size({t}::regclass), "
                    "CASE WHEN %s THEN pg_relation_size({i}::regclass) ELSE 0 END"
                ).format(
                    t=sql.Literal(f'"embedlab_{self.config.name}"'),
                    i=sql.Literal(f'"embedlab_{self.config.name}_hnsw"'),
                ),
                (has_index,),
            ).fetchone()
            count = self.count()
        return {
            "backend": self.kind,
            "location": self.location,
            "count": count,
            "index": {"mode": "approximate" if has_index else "exact", "hnsw_bytes": sizes[1]},
            "disk_bytes": sizes[0],
        }
