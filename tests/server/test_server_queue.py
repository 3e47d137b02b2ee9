"""The bounded queue: when full, requests get 503 with Retry-After instead of waiting forever."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np


def test_full_queue_answers_503_with_retry_after(
    thread_server, minilm, sample_texts, tmp_path, error_of
):
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.models import serve_embedder

    config = ServerConfig(models=["minilm"], max_queue_inputs=4, jobs_dir=str(tmp_path / "jobs"))
    app = create_app(config, models={"minilm": serve_embedder("minilm", minilm)})
    requests = [[sample_texts[i % 40], sample_texts[(i + 7) % 40]] for i in range(40)]

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            return await asyncio.gather(
                *(
                    http.post("/v1/embeddings", json={"model": "minilm", "input": t})
                    for t in requests
                )
            )

    with thread_server(app) as url:
        responses = asyncio.run(burst(url))
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
