"""The filter syntax: checked once with clear errors, and the same answers from SQLite,
PostgreSQL and the Python reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import InputError
from embedlab.store import FilterError, parse_filter
from embedlab.store.filters import matches

METADATA = [
    {"year": 2019, "lang": "en", "score": 0.5, "draft": False, "tags": ["a"]},
    {"year": 2020, "lang": "fr", "score": 1.5, "draft": True, "author": {"country": "FR"}},
    {"year": 2021, "lang": "en", "score": None},
    {"year": "2022", "lang": "de"},  # a string year: never equal to, or in range of, numbers
    {"year": 2023.0, "lang": "en", "draft": False, "author": {"country": "UK"}},
    {"lang": "es", "n": 1},
    {"n": True},  # true is not the number 1
    {},
]

FILTERS = [
    {"lang": "en"},
    {"year": 2023},  # 2023.0 equals 2023
    {"year": "2022"},
    {"year": {"$gte": 2020}},
    {"year": {"$gt": 2019, "$lt": 2023}},
    {"year": {"$gte": "2000"}},  # strings compare with strings only
    {"lang": {"$in": ["fr", "de"]}},
    {"lang": {"$nin": ["en"]}},  # also matches items without "lang"
    {"lang": {"$ne": "en"}},
    {"score": None},
    {"draft": False},
    {"draft": {"$exists": True}},
    {"draft": {"$exists": False}},
    {"n": 1},
    {"n": True},
    {"author.country": "FR"},
    {"author.country": {"$in": ["UK", "US"]}},
    {"$or": [{"lang": "es"}, {"year": {"$lte": 2019}}]},
    {"$and": [{"lang": "en"}, {"$not": {"draft": False}}]},
    {"lang": "en", "year": {"$lt": 2022}},
    {"tags": "a"},  # equality never matches a list
]


@pytest.fixture()
def tagged(make):
    col = make("filters", dim=4, metric="dot")
    vectors = np.eye(4, dtype=np.float32)[np.arange(len(METADATA)) % 4] + 0.01
    col.add(vectors=vectors, ids=[str(i) for i in range(len(METADATA))], metadatas=METADATA)
    return col


@pytest.mark.parametrize("where", FILTERS, ids=[str(f) for f in FILTERS])
def test_backends_agree_with_the_reference(tagged, where):
    node = parse_filter(where)
    expected = {str(i) for i, meta in enumerate(METADATA) if matches(node, meta)}
    assert tagged.count(where) == len(expected)
    hits = tagged.search(np.ones(4, dtype=np.float32), k=len(METADATA), where=where, exact=True)
    assert {h.id for h in hits} == expected


@pytest.mark.parametrize("where", [None, {"lang": "en"}, {"lang": {"$nin": ["en"]}}])
def test_pages_are_the_matching_items_in_iteration_order(tagged, where):
    node = parse_filter(where)
    ordered = [r.id for r in tagged.iter() if node is None or matches(node, r.metadata)]
    pages = [tagged.page(offset, 2, where=where) for offset in range(0, len(ordered) + 2, 2)]
    assert [r.id for page in pages for r in page] == ordered  # every item once, none skipped
    assert pages[-1] == []  # past the end: an empty page
    first = tagged.page(0, 1, where=where, include=("metadata",))[0]
    assert first.text is None and first.vector is None and first.metadata is not None
    with pytest.raises(InputError, match="offset must be a whole number"):
        tagged.page(-1, 2)


def test_reference_semantics():
    assert matches(parse_filter({"year": 2023}), {"year": 2023.0})
    assert not matches(parse_filter({"n": 1}), {"n": True})
    assert not matches(parse_filter({"year": {"$gte": 2020}}), {"year": "2022"})
    assert matches(parse_filter({"lang": {"$ne": "en"}}), {})
    assert matches(parse_filter('{"a.b": {"$in": [1, 2]}}'), {"a": {"b": 2}})


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"year": {"$gtx": 1}}, "unknown operator '$gtx'"),
        ({"$xor": []}, "unknown logical operator"),
        ({"year": {"$in": 2020}}, "takes a non-empty list"),
        ({"year": {"$gte": [1]}}, "takes a number or a string"),
        ({"year": {"$gte": True}}, "takes a number or a string"),
        ({"year": {"$exists": "yes"}}, "true or false"),
        ({"$or": {}}, "non-empty list"),
        ({"a": {"b": 1}}, "unknown operator 'b'"),
        ({'bad"key': 1}, "not a usable metadata key"),
        ({"x": {1, 2}}, "string, number, boolean or null"),
        ([{"year": 1}], "must be a non-empty dict"),
        ('{"year": ', "not valid JSON"),
    ],
)
def test_bad_filters_say_what_to_fix(where, fragment):
    with pytest.raises(FilterError) as info:
        parse_filter(where)
    assert fragment in str(info.value)
    assert info.value.hint  # and what to do about it


def test_bad_filter_is_refused_by_every_backend(tagged):
    with pytest.raises(FilterError, match=r"\$gte"):
        tagged.search(np.ones(4, dtype=np.float32), where={"year": {"$gte": {"x": 1}}})
    with pytest.raises(FilterError):
        tagged.delete(where={"year": {"$between": [1, 2]}})
    assert tagged.count() == len(METADATA)
