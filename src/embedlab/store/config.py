"""What a collection is bound to: model, dimension, metric, normalisation, storage, index.

One small dataclass shared by every backend, saved as JSON (the local manifest, a row of the
PostgreSQL registry, the schema metadata of an exported Parquet file), so a collection keeps its
binding wherever it moves.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from embedlab.errors import InputError

METRICS = ("cosine", "dot", "l2")
STORAGES = ("float32", "float16", "int8", "binary")
INDEX_KINDS = ("auto", "hnsw", "flat")
FORMAT_NAME = "embedlab-collection"
FORMAT_VERSION = 1

# Bytes one stored code takes per dimension, for the memory report; binary is one bit.
_BYTES_PER_DIM = {"float32": 4.0, "float16": 2.0, "int8": 1.0, "binary": 1 / 8}
# How many candidates per wanted result the quantized index returns for exact rescoring. Chosen
# on clustered 384-d vectors (bench/search.py): these keep recall@10 >= 0.95 at ef_search 64.
DEFAULT_RESCORE = {"float32": 1, "float16": 2, "int8": 4, "binary": 10}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")


def check_name(name: str) -> str:
    """Collection names become folder names and SQL identifiers, so keep them plain."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"{name!r} is not a valid collection name",
            "use 1-48 letters, digits, '_' or '-', starting with a letter or digit",
        )
    return name


def bytes_per_vector(storage: str, dim: int) -> int:
    """Memory one vector's code takes in the search index (graph links not included)."""
    return int(-(-dim * _BYTES_PER_DIM[storage] // 1))


@dataclass
class CollectionConfig:
    """The binding and options of one collection.

    ``model`` is the name of the Embedder that made the vectors (``None`` for a collection fed
    only precomputed vectors), ``normalize`` whether vectors are L2-normalised on the way in
    (always for cosine). ``storage`` is how the search index keeps vectors in memory;
    full-precision vectors are always kept on disk for rescoring and ``get``.
    """

    name: str
    dim: int
    model: str | None = None
    metric: str = "cosine"
    normalize: bool = True
    storage: str = "float32"
    index: str = "auto"
    exact_threshold: int = 10_000
    m: int = 16
    ef_construction: int = 128
    ef_search: int = 64
    rescore: int | None = None
    language: str = "english"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name)
        if not isinstance(self.dim, int) or self.dim < 1:
            raise InputError(
                f"dimension must be a positive integer, got {self.dim!r}",
                "pass dim=, or a model that knows its dimension",
            )
        for value, allowed, what in (
            (self.metric, METRICS, "metric"),
            (self.storage, STORAGES, "storage"),
            (self.index, INDEX_KINDS, "index"),
        ):
            if value not in allowed:
                raise InputError(f"unknown {what} {value!r}", f"use one of {', '.join(allowed)}")
        if self.metric == "cosine":
            self.normalize = True
        for name in ("m", "ef_construction", "ef_search", "exact_threshold"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be at least 1", f"got {getattr(self, name)}")
        if self.rescore is not None and self.rescore < 1:
            raise InputError("rescore must be at least 1", "use e.g. 4 for int8, 10 for binary")

    @property
    def rescore_factor(self) -> int:
        return self.rescore or DEFAULT_RESCORE[self.storage]

    @property
    def higher_is_better(self) -> bool:
        """Scores are similarities for cosine and dot, distances for L2."""
        return self.metric != "l2"

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def memory_report(self) -> dict[str, int]:
        """Bytes per vector in the search index for every storage, full precision on disk."""
        return {s: bytes_per_vector(s, self.dim) for s in STORAGES}
