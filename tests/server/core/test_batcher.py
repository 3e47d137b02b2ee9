"""The batcher: a bounded queue, a cap on tokens in flight, big requests cut into pieces."""

from __future__ import annotations

import asyncio
import time
import warnings

import httpx
import numpy as np


def _app(minilm, tmp_path, **limits):
    """An app serving the session's MiniLM under ``limits``."""
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    config = ServerConfig(models=["minilm"], jobs_dir=str(tmp_path / "jobs"), **limits)
    return create_app(config, models={"minilm": serve_embedder("minilm", minilm)})


async def _burst(url: str, inputs: list) -> list[httpx.Response]:
    """One request per item of ``inputs``, all at once."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        return await asyncio.gather(
            *(http.post("/v1/embeddings", json={"model": "minilm", "input": t}) for t in inputs)
        )


def test_full_queue_answers_503_with_retry_after(
    thread_server, minilm, sample_texts, tmp_path, error_of
):
    app = _app(minilm, tmp_path, max_queue_inputs=4)
    requests = [[sample_texts[i % 40], sample_texts[(i + 7) % 40]] for i in range(40)]

    with thread_server(app) as url:
        responses = asyncio.run(_burst(url, requests))
        metrics = httpx.get(f"{url}/metrics").text
        # once the burst is over the queue is empty and requests succeed again
        after = httpx.post(f"{url}/v1/embeddings", json={"model": "minilm", "input": "again"})
    statuses = [r.status_code for r in responses]
    reference = dict(zip(sample_texts, minilm.embed(sample_texts, normalize=True), strict=True))
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(503) >= 1 and statuses.count(200) >= 2, statuses
    for texts, response in zip(requests, responses, strict=True):
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert error_of(response)["code"] == "server_overloaded"
        else:
            got = np.array([d["embedding"] for d in response.json()["data"]], dtype=np.float32)
            np.testing.assert_allclose(got, [reference[t] for t in texts], atol=1e-5)
    assert f'embedlab_rejected_total{{reason="queue_full"}} {statuses.count(503)}.0' in metrics
    assert after.status_code == 200


def test_tokens_in_flight_are_capped_before_tokenising(
    thread_server, minilm, sample_texts, tmp_path, error_of
):
    app = _app(minilm, tmp_path, max_tokens_in_flight=400)
    requests = [sample_texts[i : i + 4] for i in range(0, 40, 2)]

    with thread_server(app) as url:
        responses = asyncio.run(_burst(url, requests))
        metrics = httpx.get(f"{url}/metrics").text
        after = httpx.post(f"{url}/v1/embeddings", json={"model": "minilm", "input": "again"})
    statuses = [r.status_code for r in responses]
    assert statuses.count(503) >= 1 and statuses.count(200) >= 1, statuses
    for texts, response in zip(requests, responses, strict=True):
        if response.status_code == 503:
            error = error_of(response)
            assert error["code"] == "server_overloaded" and "tokens" in error["message"]
            assert response.headers["retry-after"] == "1"
        else:
            got = np.array([d["embedding"] for d in response.json()["data"]], dtype=np.float32)
            np.testing.assert_allclose(got, minilm.embed(texts, normalize=True), atol=1e-5)
    assert (
        f'embedlab_rejected_total{{reason="tokens_in_flight"}} {statuses.count(503)}.0' in metrics
    )
    assert 'embedlab_tokens_in_flight{model="minilm"} 0.0' in metrics  # all given back
    assert after.status_code == 200


def test_a_big_request_is_embedded_in_pieces_and_small_ones_go_between(
    thread_server, minilm, tmp_path, error_of
):
    app = _app(minilm, tmp_path, max_batch_inputs=4)
    big = [f"report {i}: " + "the bank raised its rates and markets fell " * 40 for i in range(48)]

    async def race(url: str) -> tuple[httpx.Response, float, httpx.Response, float]:
        async with httpx.AsyncClient(base_url=url, timeout=300) as http:
            started = time.monotonic()

            async def timed(body: dict) -> tuple[httpx.Response, float]:
                response = await http.post("/v1/embeddings", json=body)
                return response, time.monotonic() - started

            large = asyncio.create_task(timed({"model": "minilm", "input": big, "truncate": True}))
            await asyncio.sleep(0.3)
            small, small_done = await timed({"model": "minilm", "input": "a quick question"})
            large_response, large_done = await large
            return large_response, large_done, small, small_done

    with thread_server(app) as url:
        large, large_done, small, small_done = asyncio.run(race(url))
        # an input refused in a later piece is named by its place in the whole request
        inputs = ["short"] * 10
        inputs[7] = "word " * 300
        refused = httpx.post(f"{url}/v1/embeddings", json={"model": "minilm", "input": inputs})
    assert refused.status_code == 400
    assert error_of(refused)["message"].startswith("input 7 has 302 tokens"), refused.text
    assert large.status_code == 200 and small.status_code == 200
    assert small_done < large_done, (small_done, large_done)  # not queued behind all of it
    got = np.array([d["embedding"] for d in large.json()["data"]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(got, minilm.embed(big, normalize=True), atol=1e-5)
    tokens = sum(min(256, minilm.count_tokens(text)) for text in big)
    assert large.json()["usage"]["prompt_tokens"] == tokens


def test_one_input_requests_are_answered_call_by_call_with_their_own_vectors(
    thread_server, minilm, sample_texts, tmp_path
):
    """A burst of one-input requests of mixed lengths: each model call runs as soon as it is
    planned and the rest are planned again with what arrived meanwhile, so no batch observed is
    larger than one call, and every request still gets its own text's vector."""
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    served = serve_embedder("minilm", minilm)  # rows per call: the server config's
    config = ServerConfig(models=["minilm"], jobs_dir=str(tmp_path / "jobs"), compute_batch_size=4)
    app = create_app(config, models={"minilm": served})
    long_texts = [" ".join(sample_texts[i : i + 6]) for i in range(0, 30, 3)]
    inputs = [text for pair in zip(sample_texts[:30:3], long_texts, strict=True) for text in pair]
    inputs += sample_texts[1:30:3] + sample_texts[2:30:3]  # 40 requests, short and long mixed

    with thread_server(app) as url:
        responses = asyncio.run(_burst(url, inputs))
        metrics = httpx.get(f"{url}/metrics").text
    assert [r.status_code for r in responses] == [200] * len(inputs)
    got = np.array([r.json()["data"][0]["embedding"] for r in responses], dtype=np.float32)
    alone = np.stack([minilm.embed([text], normalize=True)[0] for text in inputs])
    assert ((got * alone).sum(1) > 0.999).all()  # its own text's vector (bf16/int8: not bitwise)
    count = float(metrics.split('embedlab_batch_inputs_count{model="minilm"} ')[1].split()[0])
    at_most_4 = float(
        metrics.split('embedlab_batch_inputs_bucket{le="4.0",model="minilm"} ')[1].split()[0]
    )
    assert count > 10 and at_most_4 == count, metrics  # calls of <= 4 rows, each observed
    assert f'embedlab_inputs_total{{model="minilm"}} {len(inputs)}.0' in metrics
