"""Plain HTTP: keys, limits, error shapes and codes, health, readiness, metrics, tokenize."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

from embedlab.embedders.base import l2_normalize


def post(url: str, body=None, *, key: str | None = None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.post(f"{url}/v1/embeddings", json=body, headers=headers, timeout=60, **kwargs)


# -- keys ----------------------------------------------------------------------------------------
def test_missing_wrong_and_right_keys(main_server, api_key, error_of):
    body = {"model": "tfidf", "input": "hello"}
    missing = post(main_server.url, body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert error_of(missing)["code"] == "missing_api_key"
    wrong = post(main_server.url, body, key=api_key + "x")
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "invalid_api_key"
    not_bearer = post(main_server.url, body, headers={"Authorization": f"Basic {api_key}"})
    assert not_bearer.status_code == 401
    assert post(main_server.url, body, key=api_key).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{main_server.url}/v1", api_key="wrong-key-123", max_retries=0
        ).embeddings.create(model="tfidf", input="hello")
    # every data route is guarded; health, readiness and metrics are not
    for method, path in (("GET", "/v1/models"), ("POST", "/tokenize"), ("GET", "/v1/jobs")):
        assert httpx.request(method, f"{main_server.url}{path}", json={}).status_code == 401
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(f"{main_server.url}{path}").status_code == 200


# -- limits --------------------------------------------------------------------------------------
def test_too_many_inputs_is_400(client, error_of):
    response = client.post("/v1/embeddings", json={"model": "tfidf", "input": ["a b"] * 65})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "too_many_inputs" and "at most 64" in error["message"]
    assert client.post("/v1/embeddings", json={"model": "tfidf", "input": ["a b"] * 64}).is_success


def test_too_many_characters_refused_or_truncated(client, tfidf, error_of):
    long_text = "money " * 400  # 2,400 characters; the limit is 2,000
    refused = client.post("/v1/embeddings", json={"model": "tfidf", "input": long_text})
    assert refused.status_code == 400 and error_of(refused)["code"] == "input_too_long"
    assert "truncate" in error_of(refused)["message"]
    cut = client.post(
        "/v1/embeddings", json={"model": "tfidf", "input": long_text, "truncate": True}
    )
    assert cut.status_code == 200
    got = np.array(cut.json()["data"][0]["embedding"], dtype=np.float32)
    np.testing.assert_allclose(got, tfidf.embed(long_text[:2000], normalize=True), atol=1e-6)


def test_too_many_tokens_refused_or_truncated(client, minilm, error_of):
    text = "word " * 300  # 302 tokens with [CLS] and [SEP]; MiniLM takes 256
    refused = client.post("/v1/embeddings", json={"model": "minilm", "input": text})
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["code"] == "context_length_exceeded" and "302 tokens" in error["message"]
    cut = client.post("/v1/embeddings", json={"model": "minilm", "input": text, "truncate": True})
    assert cut.status_code == 200 and cut.json()["usage"]["prompt_tokens"] == 256
    got = np.array(cut.json()["data"][0]["embedding"], dtype=np.float32)
    np.testing.assert_allclose(got, minilm.embed(text, normalize=True), atol=1e-5)


def test_body_over_the_limit_is_413(client, error_of):
    big = {"model": "tfidf", "input": ["x" * 1000] * 400}  # ~400 kB; the limit is 300,000 bytes
    response = client.post("/v1/embeddings", json=big)
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit applies as the body streams in
        yield b'{"model": "tfidf", "input": ["'
        for _ in range(400):
            yield b"x" * 1000
        yield b'"]}'

    streamed = client.post(
        "/v1/embeddings", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_dimensions_larger_than_the_model_is_400(client, error_of):
    response = client.post(
        "/v1/embeddings", json={"model": "glove-50d", "input": "a", "dimensions": 51}
    )
    assert response.status_code == 400 and error_of(response)["param"] == "dimensions"


def test_empty_inputs_are_400(client, error_of):
    for value in ("", "   ", [], ["ok", " "], [[]]):
        response = client.post("/v1/embeddings", json={"model": "tfidf", "input": value})
        assert response.status_code == 400, (value, response.text)
        assert "empty" in error_of(response)["message"]


# -- malformed requests --------------------------------------------------------------------------
def test_malformed_json_is_422_with_a_clear_message(client, error_of):
    response = client.post(
        "/v1/embeddings",
        content=b'{"model": "tfidf", "input": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_json" and "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"model": "tfidf", "input": 123}, "input", "input must be"),
        ({"model": "tfidf", "input": ["ok", 5]}, "input", "input must be"),
        ({"model": "tfidf", "input": [1, -2]}, "input", "input must be"),
        ({"model": "tfidf", "input": [True]}, "input", "input must be"),
        ({"input": "text"}, "model", "'model' is required"),
        ({"model": "tfidf"}, "input", "'input' is required"),
        ({"model": 5, "input": "x"}, "model", "model"),
        ({"model": "tfidf", "input": "x", "encoding_format": "hex"}, "encoding_format", "float"),
        ({"model": "tfidf", "input": "x", "dimensions": "many"}, "dimensions", "dimensions"),
        ({"model": "tfidf", "input": "x", "dimensions": 0}, "dimensions", "dimensions"),
        (["not", "an", "object"], None, "JSON object"),
    ],
)
def test_wrong_types_are_422_with_a_clear_message(client, error_of, body, param, fragment):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["param"] == param and fragment in error["message"], error


def test_unknown_route_and_method_use_the_error_shape(client, error_of):
    assert error_of(client.get("/v2/nothing"))["code"] == "not_found"
    wrong_method = client.get("/v1/embeddings")
    assert (
        wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"
    )


# -- operations ----------------------------------------------------------------------------------
def test_health_ready_and_metrics(main_server, client):
    assert httpx.get(f"{main_server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{main_server.url}/ready").json()
    assert ready["status"] == "ready" and set(ready["models"]) == {"minilm", "tfidf", "glove-50d"}
    client.post("/v1/embeddings", json={"model": "glove-50d", "input": ["one two", "three"]})
    text = httpx.get(f"{main_server.url}/metrics").text
    for name in (
        'embedlab_requests_total{method="POST",route="/v1/embeddings",status="200"}',
        'embedlab_request_duration_seconds_bucket{le="0.5",route="/v1/embeddings"}',
        'embedlab_batch_inputs_count{model="glove-50d"}',
        'embedlab_queue_depth{model="glove-50d"} 0.0',
        'embedlab_tokens_total{model="glove-50d"}',
        'embedlab_requests_total{method="POST",route="/v1/embeddings",status="401"}',
    ):
        assert name in text, name


def test_tokenize_returns_the_library_walkthrough(client, minilm, glove, error_of):
    text = "I love programming."
    response = client.post("/tokenize", json={"text": text, "model": "minilm", "dims": 4})
    assert response.status_code == 200
    got, expected = response.json(), minilm.embed_tokens(text).to_dict(dims=4)
    assert (
        got["tokens"] == expected["tokens"] == ["[CLS]", "i", "love", "programming", ".", "[SEP]"]
    )
    assert got["ids"] == expected["ids"]
    np.testing.assert_allclose(got["contextual"], expected["contextual"], atol=1e-4)
    np.testing.assert_allclose(got["vector"], expected["vector"], atol=1e-5)
    word = client.post("/tokenize", json={"text": "the river bank", "model": "glove-50d"}).json()
    assert word["tokens"] == ["the", "river", "bank"] and word["contextual"] is None
    assert client.post("/tokenize", json={"text": "x", "model": "nope"}).status_code == 404
    assert client.post("/tokenize", json={"text": " "}).status_code == 400


def test_dimensions_on_a_sparse_model(client, tfidf, sample_texts):
    text, dims = " ".join(sample_texts[:8]), tfidf.dim // 2
    body = {"model": "tfidf", "input": text, "dimensions": dims}
    got = np.array(client.post("/v1/embeddings", json=body).json()["data"][0]["embedding"])
    assert len(got) == dims and abs(np.linalg.norm(got) - 1) < 1e-5
    expected = l2_normalize(tfidf.embed([text])[:, :dims])[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)
