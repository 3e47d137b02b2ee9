"""Inputs both backends must refuse the same way, and ids made from content."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import InputError
from embedlab.store import CollectionExistsError, DuplicateIdError, create_collection

BAD = [
    ({"texts": ["fine", "nul\x00inside"]}, "text 1 contains a NUL character"),
    ({"texts": ["fine", "lone \ud800 surrogate"]}, "text 1 contains a lone surrogate"),
    ({"metadatas": [{}, {"k": "a\x00b"}]}, "metadata 1 contains a NUL character"),
    ({"metadatas": [{}, {"k": ["\udfff"]}]}, "metadata 1 contains a lone surrogate"),
    ({"metadatas": [{"a\x00": 1}, {}]}, "metadata 0 key"),
    ({"ids": ["ok", "id\x00"]}, "id 1 contains a NUL character"),
]


@pytest.mark.parametrize(("given", "message"), BAD)
def test_nul_and_lone_surrogates_are_refused_alike(make, given, message):
    col = make("strings", dim=3)
    arguments = {"texts": ["one", "two"], "ids": ["a", "b"], **given}
    with pytest.raises(InputError, match=message) as info:
        col.add(vectors=np.eye(3, dtype=np.float32)[:2], **arguments)
    assert info.value.hint
    assert col.count() == 0


def test_generated_ids_come_from_content(make):
    col = make("content", dim=3)
    vectors = np.eye(3, dtype=np.float32)
    texts = ["alpha", "beta", "alpha"]
    ids = col.add(texts, vectors=vectors, metadatas=[{"n": 1}, {}, {"n": 1}])
    assert ids[2] == f"{ids[0]}-2" and len(ids[0]) == 24 and ids[1] != ids[0]
    with pytest.raises(DuplicateIdError, match="already in collection"):
        col.add(texts, vectors=vectors, metadatas=[{"n": 1}, {}, {"n": 1}])
    assert col.count() == 3  # a repeat is refused, not stored twice
    other = col.add(["alpha"], vectors=vectors[:1], metadatas=[{"n": 2}])
    assert other[0] not in ids  # other metadata, another item
    by_vector = col.add(vectors=vectors[1:2] * 0.5)  # no text: the id comes from the vector
    with pytest.raises(DuplicateIdError):
        col.add(vectors=vectors[1:2] * 0.5)
    assert by_vector != col.add(vectors=vectors[2:3])
    assert col.count() == 6


def test_create_on_a_file_says_it_is_a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(CollectionExistsError, match="is a file, not a folder"):
        create_collection(path, dim=3)
    assert path.read_text() == "mine"
