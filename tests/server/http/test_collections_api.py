"""Collections over HTTP: create, add, upsert, get, search (dense, hybrid, keyword, filters),
delete, info, drop, the demo collection, and the errors of each."""

from __future__ import annotations

import numpy as np
import pytest

DOCS = [
    (
        "d1",
        "The central bank raised interest rates to fight inflation.",
        {"topic": "finance", "year": 2023},
    ),
    (
        "d2",
        "Mortgage payments went up when the bank changed its rates.",
        {"topic": "finance", "year": 2021},
    ),
    ("d3", "The striker scored twice in the second half.", {"topic": "sport", "year": 2023}),
    (
        "d4",
        "Python makes it easy to write small programs quickly.",
        {"topic": "code", "year": 2019},
    ),
    ("d5", "We watched the rocket launch from the beach.", {"topic": "space", "year": 2023}),
]


@pytest.fixture(scope="module")
def docs(client):
    client.delete("/v1/collections/docs")  # left over from an earlier run of this module
    created = client.post("/v1/collections", json={"name": "docs", "model": "minilm"})
    assert created.status_code == 201, created.text
    assert created.json()["model"] == "minilm" and created.json()["dim"] == 384
    ids, texts, metas = zip(*DOCS, strict=True)
    added = client.post(
        "/v1/collections/docs/add",
        json={"texts": list(texts), "ids": list(ids), "metadatas": list(metas)},
    )
    assert added.status_code == 200, added.text
    assert added.json() == {"ids": list(ids), "count": 5}
    return "docs"


def search(client, name: str, **body) -> list[dict]:
    response = client.post(f"/v1/collections/{name}/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_dense_search_matches_the_library(client, docs, minilm):
    query = "Who decides what borrowing costs?"
    hits = search(client, docs, query=query, k=5, exact=True)
    texts = [text for _, text, _ in DOCS]
    scores = minilm.embed(texts, normalize=True) @ minilm.embed(query, normalize=True)
    order = np.argsort(-scores)
    assert [h["id"] for h in hits] == [DOCS[i][0] for i in order]
    np.testing.assert_allclose([h["score"] for h in hits], scores[order], atol=1e-5)
    assert hits[0]["metadata"] == DOCS[order[0]][2] and hits[0]["text"] == DOCS[order[0]][1]


def test_filters_hybrid_and_keyword(client, docs):
    recent = search(client, docs, query="money and banks", k=5, where={"year": {"$gte": 2023}})
    assert {h["id"] for h in recent} == {"d1", "d3", "d5"}
    finance = search(client, docs, query="rates", k=5, where={"topic": "finance"}, mode="hybrid")
    assert {h["id"] for h in finance} == {"d1", "d2"}
    keyword = search(client, docs, query="rocket launch", k=2, mode="keyword")
    assert keyword[0]["id"] == "d5"
    with_vectors = search(client, docs, query="rocket", k=1, include=["vector"])
    assert len(with_vectors[0]["vector"]) == 384 and with_vectors[0]["text"] is None


def test_get_upsert_delete_and_info(client, docs, minilm):
    got = client.post(
        "/v1/collections/docs/get", json={"ids": ["d3", "nope", "d1"], "include": ["text"]}
    ).json()["data"]
    assert [r["id"] for r in got] == ["d3", "d1"] and got[1]["text"] == DOCS[0][1]
    new_text = "The goalkeeper saved a penalty in the final minute."
    upserted = client.post(
        "/v1/collections/docs/upsert",
        json={"texts": [new_text, "Galaxies are far away."], "ids": ["d3", "d6"]},
    )
    assert upserted.status_code == 200 and upserted.json()["ids"] == ["d3", "d6"]
    record = client.post(
        "/v1/collections/docs/get", json={"ids": ["d3"], "include": ["text", "metadata", "vector"]}
    ).json()["data"][0]
    assert record["text"] == new_text and record["metadata"] == {}
    np.testing.assert_allclose(record["vector"], minilm.embed(new_text, normalize=True), atol=1e-5)
    assert client.get("/v1/collections/docs").json()["count"] == 6
    deleted = client.post("/v1/collections/docs/delete", json={"ids": ["d6"]}).json()
    assert deleted == {"deleted": 1}
    by_filter = client.post("/v1/collections/docs/delete", json={"where": {"topic": "space"}})
    assert by_filter.json() == {"deleted": 1}
    info = client.get("/v1/collections/docs").json()
    assert info["count"] == 4 and info["metric"] == "cosine"
    assert "docs" in client.get("/v1/collections").json()["data"]


def test_collection_errors(client, docs, error_of):
    missing = client.post("/v1/collections/none-here/search", json={"query": "x"})
    assert missing.status_code == 404 and error_of(missing)["code"] == "collection_not_found"
    again = client.post("/v1/collections", json={"name": "docs"})
    assert again.status_code == 409 and error_of(again)["code"] == "collection_exists"
    bad_name = client.post("/v1/collections", json={"name": "../etc"})
    assert bad_name.status_code == 422 and error_of(bad_name)["param"] == "name"
    assert client.get("/v1/collections/..%2F..%2Fetc").status_code in (400, 404)
    duplicate = client.post("/v1/collections/docs/add", json={"texts": ["x y"], "ids": ["d1"]})
    assert duplicate.status_code == 400 and "d1" in error_of(duplicate)["message"]
    bad_filter = client.post(
        "/v1/collections/docs/search", json={"query": "x", "where": {"year": {"$near": 3}}}
    )
    assert bad_filter.status_code == 400 and "$near" in error_of(bad_filter)["message"]
    wrong_dim = client.post(
        "/v1/collections/docs/add", json={"vectors": [[0.1, 0.2]], "ids": ["v"]}
    )
    assert wrong_dim.status_code == 400 and "dimension" in error_of(wrong_dim)["message"]
    vector_hybrid = client.post(
        "/v1/collections/docs/search", json={"query": [0.1] * 384, "mode": "hybrid"}
    )
    assert vector_hybrid.status_code == 400
    too_many = client.post("/v1/collections/docs/add", json={"texts": ["a b"] * 65})
    assert too_many.status_code == 400 and error_of(too_many)["code"] == "too_many_inputs"
    no_key = client.post(
        "/v1/collections/docs/search", json={"query": "x"}, headers={"Authorization": ""}
    )
    assert no_key.status_code == 401


def test_vector_search_and_drop(client, minilm):
    client.delete("/v1/collections/vectors")
    created = client.post("/v1/collections", json={"name": "vectors", "model": "glove-50d"})
    assert created.status_code == 201 and created.json()["dim"] == 50
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 50)).astype(np.float32)
    added = client.post(
        "/v1/collections/vectors/add",
        json={"vectors": vectors.tolist(), "ids": ["a", "b", "c", "e"]},
    )
    assert added.status_code == 200, added.text
    hits = search(client, "vectors", query=vectors[2].tolist(), k=1)
    assert hits[0]["id"] == "c" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert client.delete("/v1/collections/vectors").json() == {"name": "vectors", "dropped": True}
    assert client.get("/v1/collections/vectors").status_code == 404


def test_demo_collection_from_the_sample_texts(client, sample_texts, minilm):
    info = client.get("/v1/collections/demo").json()
    assert info["count"] == len(sample_texts) and info["model"] == "minilm"
    query = "The bank put up the cost of borrowing."
    hits = search(client, "demo", query=query, k=3, exact=True)
    scores = minilm.embed(sample_texts, normalize=True) @ minilm.embed(query, normalize=True)
    assert [h["text"] for h in hits] == [sample_texts[i] for i in np.argsort(-scores)[:3]]


def test_searches_embed_the_query_as_a_query(thread_server, tmp_path):
    """A served E5 model: documents go in as passages, the search text as a query."""
    import httpx

    import embedlab
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    e5 = embedlab.load("e5-small")
    app = create_app(
        ServerConfig(models=["e5"], collections=str(tmp_path / "collections")),
        models={"e5": serve_embedder("e5", e5)},
    )
    texts = [text for _, text, _ in DOCS]
    with thread_server(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        assert http.post("/v1/collections", json={"name": "e5docs"}).status_code == 201
        ids = [doc_id for doc_id, _, _ in DOCS]
        added = http.post("/v1/collections/e5docs/add", json={"texts": texts, "ids": ids})
        assert added.status_code == 200, added.text
        hits = http.post(
            "/v1/collections/e5docs/search", json={"query": "who raised interest rates?", "k": 1}
        ).json()["data"]
    query = e5.embed_queries("who raised interest rates?", normalize=True)
    expected = float(e5.embed_documents(texts[0], normalize=True) @ query)
    assert hits[0]["id"] == "d1" and hits[0]["score"] == pytest.approx(expected, abs=1e-4)


def test_search_explains_its_hits(client, minilm, glove, error_of):
    """``"explain": true``: dense pairs summing to the score, keyword terms, hybrid shares."""
    texts = [
        "A man plays the guitar on stage.",
        "The central bank raised interest rates.",
        "We watched the rocket launch from the beach.",
    ]
    query = "Someone plays the guitar."
    for name, model in (("explained", "glove-50d"), ("explained-minilm", "minilm")):
        client.delete(f"/v1/collections/{name}")
        created = client.post("/v1/collections", json={"name": name, "model": model})
        assert created.status_code == 201, created.text
        added = client.post(f"/v1/collections/{name}/add", json={"texts": texts})
        assert added.status_code == 200, added.text
    try:
        hits = search(client, "explained", query=query, k=3, explain=True)
        assert hits[0]["text"] == texts[0]
        for hit in hits:
            why = hit["explanation"]
            assert why["mode"] == "dense" and why["kind"] == "mean pooling"
            assert abs(why["explained_total"] - hit["score"]) < 1e-5, why
            assert why["approximate"] is False and why["notes"] == []
        top = hits[0]["explanation"]["top_pairs"][0]
        expected = glove.explain(query, texts[0]).top_pairs(1)[0]
        assert (top["query"], top["hit"]) == expected[:2] == ("guitar", "guitar")
        assert top["contribution"] == pytest.approx(expected[2], abs=1e-5)

        # the served MiniLM may run another runtime than the token walkthrough: then it says so
        served = search(client, "explained-minilm", query=query, k=1, explain=True)[0]
        why = served["explanation"]
        assert "guitar" in (why["top_pairs"][0]["query"], why["top_pairs"][0]["hit"])
        gap = abs(why["explained_total"] - served["score"])
        assert gap < 1e-5 or (gap < 0.01 and any("runtime" in n for n in why["notes"])), why
        library = minilm.explain(query, texts[0])  # the same walk in the library
        assert why["explained_total"] == pytest.approx(library.total, abs=1e-4)

        keyword = search(client, "explained", query="interest rates", mode="keyword", explain=True)
        assert keyword[0]["explanation"]["terms"] == ["interest", "rates"]
        hybrid = search(client, "explained", query="bank guitar", k=3, mode="hybrid", explain=True)
        for hit in hybrid:
            why = hit["explanation"]
            assert sum(why["sides"].values()) == pytest.approx(hit["score"], abs=1e-6)
            assert sum(why["shares"].values()) == pytest.approx(1.0, abs=1e-5)
            assert why["fusion"]["method"] == "rrf"
        plain = search(client, "explained", query=query, k=1)
        assert "explanation" not in plain[0]
        vector = client.post(
            "/v1/collections/explained/search", json={"query": [0.1] * 50, "explain": True}
        )
        assert vector.status_code == 400 and error_of(vector)["param"] == "explain"
    finally:
        client.delete("/v1/collections/explained")
        client.delete("/v1/collections/explained-minilm")
