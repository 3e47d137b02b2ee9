"""The map's server side without a browser: sampling above the stated size, the cache per
collection version (memory, then disk, then recomputed after a change), fields and placement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedlab.errors import InputError
from embedlab.server.core.collections import Collections
from embedlab.server.core.errors import ModelNotServedError
from embedlab.server.core.ui_projection import MapCache, field_colours, place_query
from embedlab.store import create_collection


@pytest.fixture
def store(tmp_path):
    """50 items in 2 well-separated groups (vectors given, no model), metadata on most."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(2, 16)) * 5
    vectors = np.vstack([centres[i % 2] + rng.normal(size=16) for i in range(50)])
    texts = [("cats purr softly" if i % 2 else "markets fell sharply") + f" {i}" for i in range(50)]
    metas = [{"group": ["b", "a"][i % 2], "n": i} if i != 7 else {} for i in range(50)]
    root = tmp_path / "collections"
    with create_collection(root / "pts", dim=16) as collection:
        collection.add(texts, ids=[f"p{i}" for i in range(50)], metadatas=metas, vectors=vectors)
    collections = Collections(str(root), {}, lambda served: None)
    yield collections
    collections.close()


def test_a_map_is_sampled_above_its_size_and_cached_per_version(store, tmp_path):
    cache = MapCache(tmp_path / "maps", max_points=20)
    data, source = cache.get(store, "pts")
    body = json.loads(data.body)
    assert source == "computed"
    assert (body["points"], body["count"], body["sampled"], body["max_points"]) == (
        20,
        50,
        True,
        20,
    )
    assert len(body["x"]) == len(body["ids"]) == len(set(body["ids"])) == 20
    assert min(body["x"]) >= 0.0 and max(max(body["x"]), max(body["y"])) <= 1.0
    assert body["method"] == "pca" and set(body["fields"]) == {"group", "n"}
    # two groups far apart: the clusters follow them, and the terms name them
    by_group = {}
    for item_id, cluster in zip(body["ids"], body["cluster"], strict=True):
        by_group.setdefault(int(item_id[1:]) % 2, set()).add(cluster)
    assert all(len(c) == 1 for c in by_group.values()) and by_group[0] != by_group[1]
    terms = {t for c in body["clusters"] for t in c["terms"]}
    assert {"cats", "markets"} <= terms

    assert cache.get(store, "pts")[1] == "memory"
    fresh = MapCache(tmp_path / "maps", max_points=20)  # a restarted server
    again, source = fresh.get(store, "pts")
    assert source == "disk" and again.body == data.body
    store.run("pts", lambda c: c.delete(["p0"]))
    changed, source = fresh.get(store, "pts")
    assert source == "computed" and json.loads(changed.body)["count"] == 49


def test_fields_colour_the_map_and_a_query_vector_is_placed(store, tmp_path):
    cache = MapCache(tmp_path / "maps")
    data, _ = cache.get(store, "pts")
    group = json.loads(field_colours(store, "pts", data, "group"))
    # most common first: 25 "b", 24 "a" (p7 has no metadata)
    assert group["kind"] == "category" and group["categories"] == ["b", "a", "(missing)"]
    assert group["codes"][data.index["p7"]] == 2 and group["codes"][data.index["p1"]] == 1
    numbers = json.loads(field_colours(store, "pts", data, "n"))
    assert numbers["kind"] == "number" and numbers["max"] == 49.0
    with pytest.raises(InputError, match="no item on the map has the metadata field"):
        field_colours(store, "pts", data, "nothing")
    # a vector collection has no model to embed a text query with: refused clearly
    with pytest.raises(ModelNotServedError, match="does not serve"):
        place_query(store, "pts", data, "cats")
