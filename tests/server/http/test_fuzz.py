"""Property-based fuzzing of every operation in the server's own OpenAPI schema (schemathesis).

Schema-valid requests (positive) for every operation and schema-violating ones (negative) for
every operation with a body: none may get a 5xx or break the connection.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

KEY = "fuzz-key-4b7e2d19"


@pytest.fixture(scope="module")
def fuzz_target(thread_server, minilm, tfidf, glove, tmp_path_factory, data_dir):
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    root = tmp_path_factory.mktemp("fuzz")
    config = ServerConfig(
        models=["minilm", "tfidf", "glove-50d"],
        api_keys=[KEY],
        data_dir=str(data_dir),
        jobs_dir=str(root / "jobs"),
        collections=str(root / "collections"),  # never the user's own cache
        max_inputs_per_request=32,
        max_chars_per_input=2000,
    )
    models = {
        "minilm": serve_embedder("minilm", minilm),
        "tfidf": serve_embedder("tfidf", tfidf),
        "glove-50d": serve_embedder("glove-50d", glove),
    }
    with thread_server(create_app(config, models=models)) as url:
        raw = httpx.get(f"{url}/openapi.json").json()
        yield url, schemathesis.openapi.from_dict(raw)


def test_no_operation_gives_a_server_error(fuzz_target):
    url, schema = fuzz_target
    headers = {"Authorization": f"Bearer {KEY}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"POST /v1/embeddings", "POST /tokenize", "POST /v1/jobs", "GET /v1/models"} <= paths
    exercised = 0
    for op in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if op.method.upper() == "POST":
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @settings(
                max_examples=30,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def call(case) -> None:
                nonlocal exercised
                response = case.call(base_url=url, headers=headers, timeout=60)
                exercised += 1
                case.validate_response(response, checks=(not_a_server_error,))

            call()
    assert exercised > 100
    # and the server is still healthy afterwards
    assert httpx.get(f"{url}/ready").status_code == 200
