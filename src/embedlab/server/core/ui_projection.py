"""The web page's map: a collection projected to 2-D, clustered and labelled, cached per version.

Why on the server: the vectors stay where they are (a 100,000 x 384 collection is 150 MB; its map
is 2 numbers a point), and one projection serves every browser. Why cached: a projection of 100k
points takes seconds, and it only changes when the collection does, so its key is the
collection's version (live count, written slots, generation: every add, upsert, delete and
compaction changes one). The finished JSON body is kept in memory and on disk
(``$EMBEDLAB_HOME/ui/maps``), so a second load, even after a restart, is a file read.

- Projection: UMAP (cosine) when umap-learn is importable, else PCA; fitted on at most
  ``MAX_POINTS`` items, a seeded random sample above that (the body says how many it shows).
- Colours: k-means clusters on the vectors (k by silhouette on a sample, as the cluster app does,
  from 6 up for maps of 500 items or more)
  labelled by c-TF-IDF terms (:func:`embedlab.apps.cluster.class_tfidf_terms`), or a metadata field.
- A query is placed with the PCA itself (exactly where its vector projects); UMAP has no saved
  transform here, so a query sits at the score-weighted mean of its nearest items.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.apps.cluster import choose_k, class_tfidf_terms
from embedlab.errors import InputError
from embedlab.server.core.collections import Collections
from embedlab.viz.map import project

MAX_POINTS = 100_000  # a map shows at most this many items: a seeded sample above it
K_SAMPLE = 1_000  # items that choose k (silhouette is quadratic)
FIT_SAMPLE = 5_000  # items k-means is fitted on; the rest are assigned to the nearest centre
LABEL_TEXTS = 20_000  # texts the c-TF-IDF labels are computed from
MAX_K = 12
MIN_K_LARGE, LARGE = 6, 500  # maps of LARGE items or more get at least MIN_K_LARGE clusters
TOP_CATEGORIES = 12
ALGORITHM = 2  # bump when the body's shape or the computation changes: old cache files go unused
MEMORY_MAPS = 4


@dataclass
class MapData:
    """One computed map: the JSON body as sent, plus what placing a query and colouring need."""

    key: str
    body: bytes
    ids: list[str]
    xy: np.ndarray  # (n, 2) in the body's coordinates, [0, 1] on the longer side
    method: str
    normalize: bool
    mean: np.ndarray | None = None  # PCA: the centre and the two components
    components: np.ndarray | None = None
    lo: np.ndarray = field(default_factory=lambda: np.zeros(2))
    scale: float = 1.0
    fields: dict[str, bytes] = field(default_factory=dict)
    _index: dict[str, int] | None = None

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {item_id: i for i, item_id in enumerate(self.ids)}
        return self._index


def version_of(info: dict[str, Any]) -> list[Any]:
    """What changes whenever the collection's items do (see the module docstring)."""
    if info.get("backend") == "local":
        return [info.get("count"), info.get("slots"), info.get("generation")]
    return [info.get("count"), info.get("disk_bytes")]  # other backends: count and size


def projection_method() -> str:
    return "umap" if importlib.util.find_spec("umap") is not None else "pca"


class MapCache:
    """Maps by collection version: in memory (a few), then on disk, else computed once."""

    def __init__(self, folder: Path, *, max_points: int = MAX_POINTS) -> None:
        self.folder = folder
        self.max_points = max_points
        self._memory: OrderedDict[str, MapData] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def key(self, store: Collections, name: str) -> tuple[str, dict[str, Any]]:
        info = store.run(name, lambda c: c.info())
        method = projection_method()
        raw = json.dumps(
            [store.location, name, info.get("model"), info.get("dim"), version_of(info)]
            + [method, self.max_points, ALGORITHM],
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:24], info

    def get(self, store: Collections, name: str) -> tuple[MapData, str]:
        """The map of collection ``name`` and where it came from: memory, disk or computed."""
        key, info = self.key(store, name)
        with self._lock(key):
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
                return found, "memory"
            data = self._read(key)
            source = "disk"
            if data is None:
                data = compute_map(store, name, info, key, self.max_points)
                self._write(data)
                source = "computed"
            self._memory[key] = data
            while len(self._memory) > MEMORY_MAPS:
                self._memory.popitem(last=False)
            return data, source

    # -- the disk cache: the body as JSON, the arrays as .npz (no pickle) -----------------------
    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.json", self.folder / f"{key}.npz"

    def _read(self, key: str) -> MapData | None:
        body_path, arrays_path = self._paths(key)
        try:
            body = body_path.read_bytes()
            with np.load(arrays_path, allow_pickle=False) as arrays:
                parts = {name: arrays[name] for name in arrays.files}
        except (OSError, ValueError, KeyError):
            return None
        meta = json.loads(parts["meta"].tobytes().decode())
        return MapData(
            key=key,
            body=body,
            ids=meta["ids"],
            xy=parts["xy"],
            method=meta["method"],
            normalize=meta["normalize"],
            mean=parts.get("mean"),
            components=parts.get("components"),
            lo=parts["lo"],
            scale=float(meta["scale"]),
        )

    def _write(self, data: MapData) -> None:
        body_path, arrays_path = self._paths(data.key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            meta = {
                "ids": data.ids,
                "method": data.method,
                "normalize": data.normalize,
                "scale": data.scale,
            }
            arrays: dict[str, np.ndarray] = {
                "xy": data.xy,
                "lo": data.lo,
                "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            }
            if data.mean is not None and data.components is not None:
                arrays["mean"], arrays["components"] = data.mean, data.components
            tmp = arrays_path.with_name(f".{arrays_path.stem}.tmp.npz")
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, arrays_path)
            tmp_body = body_path.with_name(f".{body_path.name}.tmp")
            tmp_body.write_bytes(data.body)
            os.replace(tmp_body, body_path)  # last: a body on disk means its arrays are there
        except OSError:  # a read-only or full disk: the map stays in memory only
            pass


# -- computing --------------------------------------------------------------------------------------
def _read_items(
    store: Collections, name: str, max_points: int
) -> tuple[list[str], list[str], np.ndarray, int, bool]:
    """Ids, texts and vectors of the items to show (all, or a seeded sample), and the count."""

    def read(collection: Any) -> tuple[list[Any], int, bool]:
        total = collection.count()
        if total <= max_points:
            records = list(collection.iter(5_000, include=("text", "vector")))
            return records, total, collection.config.metric == "cosine"
        ids = [r.id for r in collection.iter(20_000, include=())]
        rng = np.random.default_rng(0)
        chosen = np.sort(rng.choice(len(ids), size=max_points, replace=False))
        records = collection.get([ids[i] for i in chosen], include=("text", "vector"))
        return records, total, collection.config.metric == "cosine"

    records, total, cosine = store.run(name, read)
    if len(records) < 3:
        raise InputError(
            f"collection {name!r} holds {len(records)} item(s); a map needs at least 3",
            "add more items to the collection",
        )
    vectors = np.stack([r.vector for r in records]).astype(np.float32, copy=False)
    if cosine:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    return [r.id for r in records], [r.text or "" for r in records], vectors, total, cosine


def _clusters(vectors: np.ndarray, texts: list[str]) -> tuple[np.ndarray, dict[int, list[str]]]:
    """k-means labels for every point (k by silhouette on a sample) and each cluster's terms.

    One BLAS/OpenMP thread: on a busy shared machine k-means with a thread per core was measured
    10-20x slower than with one (threads spinning against the server's own work).
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    n = len(vectors)
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(n, size=min(n, K_SAMPLE), replace=False)]
    k_max = max(2, min(MAX_K, int(len(sample) ** 0.5) + 1))
    # silhouette favours 2 or 3 broad groups on text; a map of many items reads better in more
    k_min = MIN_K_LARGE if n >= LARGE and k_max > MIN_K_LARGE else 2
    with threadpool_limits(limits=1):
        k, _ = choose_k(sample, range(k_min, k_max + 1))
        fit = vectors[rng.choice(n, size=min(n, FIT_SAMPLE), replace=False)]
        model = KMeans(n_clusters=k, n_init=4, random_state=0).fit(fit)
        labels = model.predict(vectors)
    chosen = rng.choice(n, size=min(n, LABEL_TEXTS), replace=False)
    terms = class_tfidf_terms([texts[i] for i in chosen], labels[chosen], top=5)
    return labels, terms


def compute_map(
    store: Collections, name: str, info: dict[str, Any], key: str, max_points: int
) -> MapData:
    started = time.perf_counter()
    ids, texts, vectors, total, cosine = _read_items(store, name, max_points)
    method = projection_method()
    mean = components = None
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=0).fit(vectors)
        points = pca.transform(vectors)
        mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
    else:
        points = project(vectors, "umap")
    lo = points.min(axis=0)
    scale = float(max((points.max(axis=0) - lo).max(), 1e-9))
    xy = ((points - lo) / scale).astype(np.float32)
    labels, terms = _clusters(vectors, texts)
    clusters: list[dict[str, Any]] = []
    for c in sorted(set(labels.tolist())):
        members = labels == c
        centre = np.median(xy[members], axis=0)
        clusters.append(
            {
                "id": int(c),
                "size": int(members.sum()),
                "terms": terms.get(c, []),
                "x": round(float(centre[0]), 5),
                "y": round(float(centre[1]), 5),
            }
        )
    clusters.sort(key=lambda cl: -cl["size"])
    body = {
        "object": "map",
        "collection": name,
        "model": info.get("model"),
        "method": method,
        "count": total,
        "points": len(ids),
        "sampled": len(ids) < total,
        "max_points": max_points,
        "version": key,
        "seconds": round(time.perf_counter() - started, 3),
        "query_placement": "projected" if method == "pca" else "nearest items",
        "fields": _fields(store, name, ids),
        "clusters": clusters,
        "ids": ids,
        "x": np.round(xy[:, 0].astype(np.float64), 5).tolist(),
        "y": np.round(xy[:, 1].astype(np.float64), 5).tolist(),
        "cluster": labels.astype(int).tolist(),
    }
    return MapData(
        key=key,
        body=json.dumps(body, separators=(",", ":")).encode(),
        ids=ids,
        xy=xy,
        method=method,
        normalize=cosine,
        mean=mean,
        components=components,
        lo=lo.astype(np.float64),
        scale=scale,
    )


def _flatten(meta: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def _fields(store: Collections, name: str, ids: list[str]) -> list[str]:
    """Metadata keys (dotted for nested ones) seen in the first items, most common first."""
    records = store.run(name, lambda c: c.get(ids[:500], include=("metadata",)))
    seen: Counter[str] = Counter()
    for record in records:
        seen.update(_flatten(record.metadata or {}).keys())
    return [key for key, _ in seen.most_common(50)]


def _value(meta: dict[str, Any], path: str) -> Any:
    value: Any = meta
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def field_colours(store: Collections, name: str, data: MapData, path: str) -> bytes:
    """One metadata field over the map's points: numbers as values, anything else as categories
    (the most common ``TOP_CATEGORIES``, then "(other)"; "(missing)" where absent)."""
    if not path or len(path) > 200:
        raise InputError("the field name is empty or too long", "pick a field the map lists")
    cached = data.fields.get(path)
    if cached is not None:
        return cached
    records = store.run(name, lambda c: c.get(data.ids, include=("metadata",)))
    by_id = {r.id: _value(r.metadata or {}, path) for r in records}
    values = [by_id.get(item_id) for item_id in data.ids]
    present = [v for v in values if v is not None]
    if not present:
        raise InputError(
            f"no item on the map has the metadata field {path!r}", "pick a field the map lists"
        )
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    body: dict[str, Any] = {"object": "map_field", "field": path}
    if numeric:
        body.update(
            kind="number",
            min=float(min(present)),
            max=float(max(present)),
            values=[None if v is None else float(v) for v in values],
        )
    else:
        labels = [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]
        top = [c for c, _ in Counter(x for x in labels if x is not None).most_common()]
        categories = top[:TOP_CATEGORIES]
        extra = ["(other)"] if len(top) > TOP_CATEGORIES else []
        code = {c: i for i, c in enumerate(categories)}
        other, missing = len(categories), len(categories) + len(extra)
        codes = [missing if x is None else code.get(x, other) for x in labels]
        names = categories + extra + (["(missing)"] if None in labels else [])
        body.update(kind="category", categories=names, codes=codes)
    encoded = json.dumps(body, separators=(",", ":")).encode()
    data.fields[path] = encoded
    return encoded


def place_query(store: Collections, name: str, data: MapData, query: str) -> dict[str, Any]:
    """Where ``query`` falls on the map (see the module docstring for how)."""
    if data.mean is not None and data.components is not None:

        def embed(collection: Any) -> np.ndarray:
            return collection.embedder.embed_queries([query], normalize=data.normalize)

        vector = np.asarray(store.run(name, embed, embeds=True), dtype=np.float32)[0]
        if data.normalize:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        point = ((vector - data.mean) @ data.components.T - data.lo) / data.scale
        return {"x": float(point[0]), "y": float(point[1]), "how": "projected"}
    hits = store.run(name, lambda c: c.search(query, 10, include=()), embeds=True)
    placed = [(data.index[h.id], max(h.score, 0.0) + 1e-6) for h in hits if h.id in data.index]
    if not placed:
        raise InputError("none of the query's nearest items is on the map", None)
    rows, weights = zip(*placed, strict=True)
    point = np.average(data.xy[list(rows)], axis=0, weights=weights)
    return {"x": float(point[0]), "y": float(point[1]), "how": "nearest items"}
