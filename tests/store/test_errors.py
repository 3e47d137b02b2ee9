"""Every mistake gives an EmbedlabError that says what is wrong and what to do."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import EmbedlabError, InputError
from embedlab.store import (
    CollectionExistsError,
    CorruptCollectionError,
    DimensionMismatchError,
    StoreConnectionError,
    UnknownCollectionError,
    create_collection,
    list_collections,
    open_collection,
)


def _hinted(error: EmbedlabError) -> str:
    assert error.hint, f"no hint in {error!r}"
    return str(error)


def test_unknown_local_collection(tmp_path):
    with pytest.raises(UnknownCollectionError) as info:
        open_collection(tmp_path / "nothing-here")
    assert "no collection at" in _hinted(info.value) and "create" in str(info.value)
    (tmp_path / "plain").mkdir()
    with pytest.raises(UnknownCollectionError, match="no collection.json"):
        open_collection(tmp_path / "plain")
    assert isinstance(info.value, KeyError)


def test_unknown_postgres_collection_lists_what_exists(pg_dsn):
    with create_collection(f"{pg_dsn}#known_one", dim=3):
        pass
    with pytest.raises(UnknownCollectionError) as info:
        open_collection(pg_dsn, "unknown_one")
    assert "known_one" in _hinted(info.value)
    assert "known_one" in list_collections(pg_dsn)
    with pytest.raises(InputError, match="#name"):
        open_collection(pg_dsn)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://nobody@/nodb?host=/nonexistent-socket-dir",
        "postgresql://user:secret@127.0.0.1:1/db",
        "postgresql://host/db?sslmode=bogus",
    ],
)
def test_bad_dsn(dsn):
    with pytest.raises(StoreConnectionError) as info:
        open_collection(dsn, "docs")
    message = _hinted(info.value)
    assert "cannot connect to PostgreSQL" in message and "secret" not in message


def test_unknown_scheme():
    with pytest.raises(InputError, match="postgresql://"):
        open_collection("mysql://host/db", "docs")


def test_create_over_existing(tmp_path, pg_dsn):
    create_collection(tmp_path / "c", dim=3).close()
    with pytest.raises(CollectionExistsError, match="exist_ok"):
        create_collection(tmp_path / "c", dim=3)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file.txt").write_text("x")
    with pytest.raises(CollectionExistsError, match="empty folder"):
        create_collection(tmp_path / "full", dim=3)
    create_collection(f"{pg_dsn}#dup", dim=3).close()
    with pytest.raises(CollectionExistsError, match="already exists"):
        create_collection(f"{pg_dsn}#dup", dim=3)
    with create_collection(f"{pg_dsn}#dup", dim=3, exist_ok=True) as again:
        assert again.dim == 3
    with pytest.raises(EmbedlabError, match="dim=3"):
        create_collection(tmp_path / "c", dim=4, exist_ok=True)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"dim": 3, "metric": "hamming"}, "unknown metric"),
        ({"dim": 3, "storage": "int4"}, "unknown storage"),
        ({"dim": 3, "index": "ivf"}, "unknown index"),
        ({"dim": 0}, "positive integer"),
        ({}, "a model or a dimension"),
        ({"model": "minlm"}, "Did you mean"),
        ({"dim": 3, "ef_serch": 10}, "unknown collection option(s): ef_serch"),
    ],
)
def test_bad_options(tmp_path, options, fragment):
    with pytest.raises(EmbedlabError) as info:
        create_collection(tmp_path / "bad", **options)
    assert fragment in _hinted(info.value)
    assert not (tmp_path / "bad").exists()  # nothing half-created


def test_bad_names(tmp_path, pg_dsn):
    with pytest.raises(InputError, match="not a valid collection name"):
        create_collection(f"{pg_dsn}#bad name; DROP TABLE x", dim=3)
    with pytest.raises(InputError, match="not a valid collection name"):
        create_collection(tmp_path / "ok", "../escape", dim=3)


def test_misuse_of_an_open_collection(make):
    col = make("misuse", dim=3)
    col.add(vectors=np.eye(3, dtype=np.float32), ids=["a", "b", "c"])
    with pytest.raises(DimensionMismatchError, match="dimension 4"):
        col.add(vectors=np.ones((1, 4), dtype=np.float32), ids=["d"])
    with pytest.raises(InputError, match="has no model"):
        col.search("a text query")
    with pytest.raises(InputError, match="ids or a filter"):
        col.delete()
    with pytest.raises(InputError, match="k must be"):
        col.search(np.ones(3, dtype=np.float32), k=0)
    with pytest.raises(InputError, match="NaN"):
        col.add(vectors=np.array([[np.nan, 0, 0]], dtype=np.float32), ids=["n"])
    with pytest.raises(InputError, match="JSON"):
        col.add(vectors=np.ones((1, 3), dtype=np.float32), ids=["o"], metadatas=[{"x": object()}])
    with pytest.raises(InputError, match="cannot include"):
        col.get("a", include=("embedding",))
    assert col.count() == 3


def test_corrupt_manifest(tmp_path):
    create_collection(tmp_path / "c", dim=3).close()
    (tmp_path / "c" / "collection.json").write_text("{not json")
    with pytest.raises(CorruptCollectionError, match="cannot be read"):
        open_collection(tmp_path / "c")
