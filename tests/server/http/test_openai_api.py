"""The OpenAI-compatible API, called with the real `openai` client and with plain HTTP."""

from __future__ import annotations

import asyncio
import base64
import re

import httpx
import numpy as np
import openai
import pytest

from embedlab.embedders.base import l2_normalize

TEXTS = [
    "I love programming.",
    "The bank raised its interest rates again this year, and mortgages cost more.",
    "Cats sleep.",
]


@pytest.fixture(scope="module")
def oai(main_server, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{main_server.url}/v1", api_key=api_key, max_retries=0)


def as_matrix(response) -> np.ndarray:
    """Vectors of a response; an explicit base64 request leaves decoding to the caller."""
    rows = [
        np.frombuffer(base64.b64decode(item.embedding), "<f4")
        if isinstance(item.embedding, str)
        else np.asarray(item.embedding, dtype=np.float32)
        for item in response.data
    ]
    return np.stack(rows)


def test_openai_client_default_base64_equals_library(oai, minilm):
    response = oai.embeddings.create(model="minilm", input=TEXTS)  # the client asks for base64
    assert [item.index for item in response.data] == [0, 1, 2]
    assert response.model == "minilm" and response.object == "list"
    expected = minilm.embed(TEXTS, normalize=True)
    np.testing.assert_allclose(as_matrix(response), expected, atol=1e-5)
    tokens = sum(minilm.prepare(TEXTS).lengths)
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_openai_client_float_and_single_string(oai, minilm):
    response = oai.embeddings.create(model="minilm", input=TEXTS[0], encoding_format="float")
    assert len(response.data) == 1
    np.testing.assert_allclose(
        as_matrix(response)[0], minilm.embed(TEXTS[0], normalize=True), atol=1e-5
    )


def test_base64_is_little_endian_float32_on_the_wire(client, minilm):
    body = {"model": "minilm", "input": TEXTS[:2], "encoding_format": "base64"}
    data = client.post("/v1/embeddings", json=body).json()["data"]
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in data])
    np.testing.assert_allclose(decoded, minilm.embed(TEXTS[:2], normalize=True), atol=1e-5)


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_dimensions_truncate_and_renormalise(oai, minilm, encoding_format):
    response = oai.embeddings.create(
        model="minilm", input=TEXTS, dimensions=64, encoding_format=encoding_format
    )
    got = as_matrix(response)
    assert got.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    expected = l2_normalize(minilm.embed(TEXTS)[:, :64])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_token_id_input_single_and_batched(oai, client, minilm, error_of):
    tokenizer = minilm.tokenizer
    ids = [tokenizer(text.lower(), add_special_tokens=False)["input_ids"] for text in TEXTS]
    expected = minilm.embed(TEXTS, normalize=True)
    one = oai.embeddings.create(model="minilm", input=ids[0], encoding_format="float")
    np.testing.assert_allclose(as_matrix(one)[0], expected[0], atol=1e-5)
    many = oai.embeddings.create(model="minilm", input=ids)
    np.testing.assert_allclose(as_matrix(many), expected, atol=1e-5)
    # ids outside the vocabulary, and models without a subword tokenizer, are refused clearly
    bad = client.post("/v1/embeddings", json={"model": "minilm", "input": [10**9]})
    assert bad.status_code == 400 and "outside the vocabulary" in error_of(bad)["message"]
    word = client.post("/v1/embeddings", json={"model": "glove-50d", "input": [1, 2, 3]})
    assert word.status_code == 400
    assert "cannot read token ids" in error_of(word)["message"]


def test_every_kind_of_registry_model_is_served(oai, tfidf, glove, sample_texts):
    texts = sample_texts[:5]
    for model_id, embedder in (("tfidf", tfidf), ("glove-50d", glove)):
        response = oai.embeddings.create(model=model_id, input=texts, encoding_format="float")
        assert response.model == model_id
        np.testing.assert_allclose(
            as_matrix(response), embedder.embed(texts, normalize=True), atol=1e-5
        )
    listed = {m.id: m for m in oai.models.list().data}
    assert set(listed) == {"minilm", "tfidf", "glove-50d"}
    assert oai.models.retrieve("glove-50d").id == "glove-50d"
    # a catalogue alias reaches the same model
    alias = oai.embeddings.create(model="all-MiniLM-L6-v2", input="x y", encoding_format="float")
    assert alias.model == "minilm"


def test_models_say_which_runtime_computes_them(client, minilm):
    """/v1/models shows the runtime a transformer runs on (for auto, the choice and its check)."""
    info = client.get("/v1/models/minilm").json()
    assert info["runtime"] == minilm.runtime  # the served model and the fixture chose alike
    assert info["runtime"] != "auto"  # auto is resolved to a concrete runtime
    if minilm.params["runtime"] == "auto":
        assert "cosine" in info["runtime_choice"] or "reference" in info["runtime_choice"]
    assert "runtime" not in client.get("/v1/models/tfidf").json()  # no runtimes to choose


def test_unknown_model_is_404_in_openai_shape(oai, client, error_of):
    with pytest.raises(openai.NotFoundError) as caught:
        oai.embeddings.create(model="minlm", input="hello")
    assert "Did you mean 'minilm'" in str(caught.value)
    response = client.get("/v1/models/nope")
    assert response.status_code == 404 and error_of(response)["code"] == "model_not_found"


def _metric(text: str, name: str, model: str) -> float:
    match = re.search(rf'^{name}{{model="{model}"}} ([0-9.e+]+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_concurrent_requests_are_batched_and_keep_their_order(
    main_server, client, minilm, sample_texts, api_key
):
    """32 requests at once: fewer batches than requests, and every request gets its own rows."""
    requests = [
        [sample_texts[(i * 3 + j) % len(sample_texts)] for j in range(1 + i % 3)] for i in range(32)
    ]
    before = client.get("/metrics").text

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=main_server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=120
        ) as http:
            return await asyncio.gather(
                *(
                    http.post("/v1/embeddings", json={"model": "minilm", "input": texts})
                    for texts in requests
                )
            )

    responses = asyncio.run(fire())
    after = client.get("/metrics").text
    reference = dict(zip(sample_texts, minilm.embed(sample_texts, normalize=True), strict=True))
    for texts, response in zip(requests, responses, strict=True):
        assert response.status_code == 200, response.text
        got = np.array([d["embedding"] for d in response.json()["data"]], dtype=np.float32)
        np.testing.assert_allclose(got, [reference[t] for t in texts], atol=1e-5)
    batches = _metric(after, "embedlab_batch_inputs_count", "minilm") - _metric(
        before, "embedlab_batch_inputs_count", "minilm"
    )
    inputs = _metric(after, "embedlab_batch_inputs_sum", "minilm") - _metric(
        before, "embedlab_batch_inputs_sum", "minilm"
    )
    assert inputs == sum(len(texts) for texts in requests)
    assert 1 <= batches < len(requests), (batches, len(requests))


def test_static_model_reads_token_ids_with_its_own_tokenizer(thread_server, sample_texts):
    import httpx

    import embedlab
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    static = embedlab.load("static-minilm")
    app = create_app(
        ServerConfig(models=["static"]), models={"static": serve_embedder("static", static)}
    )
    texts = sample_texts[:3]
    ids = [static.tokenizer.encode(t, add_special_tokens=False).ids for t in texts]
    with thread_server(app) as url:
        response = httpx.post(
            f"{url}/v1/embeddings",
            json={"model": "static", "input": ids, "encoding_format": "float"},
        )
    assert response.status_code == 200, response.text
    got = np.array([row["embedding"] for row in response.json()["data"]], dtype=np.float32)
    np.testing.assert_allclose(got, static.embed(texts, normalize=True), atol=1e-5)
