"""RemoteEmbedder against a real `embedlab serve` app on loopback, in a thread."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

import embedlab
from embedlab.data import sample_texts
from embedlab.embedders.base import l2_normalize
from embedlab.embedders.remote import (
    DEFAULT_BASE_URL,
    RemoteAuthError,
    RemoteConnectionError,
    RemoteEmbedder,
    RemoteError,
    RemoteInputError,
    RemoteModelError,
)
from embedlab.errors import InputError, UnknownModelError

TEXTS = sample_texts()[:20]
KEY_ENV = "EMBEDLAB_TEST_REMOTE_KEY"
SECRET = "remote-secret-4c7e19"


@pytest.fixture(autouse=True)
def no_keys_in_env(monkeypatch) -> None:
    for name in ("OPENAI_API_KEY", KEY_ENV, "EMBEDLAB_API_KEYS"):
        monkeypatch.delenv(name, raising=False)


def serve(thread_server, models: dict, **config):
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    app = create_app(
        ServerConfig(models=list(models), **config),
        models={name: serve_embedder(name, model) for name, model in models.items()},
    )
    return thread_server(app)


@pytest.fixture(scope="module")
def base_url(thread_server, minilm, glove):
    with serve(thread_server, {"minilm": minilm, "glove-50d": glove}) as url:
        yield f"{url}/v1"


@pytest.mark.parametrize("encoding_format", ["base64", "float"])
def test_vectors_equal_the_local_model(base_url, minilm, encoding_format) -> None:
    remote = RemoteEmbedder(
        "minilm", base_url, encoding_format=encoding_format, batch_size=3, max_concurrency=3
    )
    vectors = remote.embed(TEXTS)  # 7 requests, 3 at a time, back in input order
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(vectors, minilm.embed(TEXTS, normalize=True), atol=1e-5)
    assert remote.dim == 384 and remote.name == "remote:minilm"
    one = remote.embed(TEXTS[0])
    assert one.shape == (384,)


def test_base64_and_float_answers_are_the_same_float32(base_url) -> None:
    as_float = RemoteEmbedder("glove-50d", base_url, encoding_format="float").embed(TEXTS)
    as_base64 = RemoteEmbedder("glove-50d", base_url).embed(TEXTS)
    np.testing.assert_array_equal(as_float, as_base64)


def test_dim_is_discovered_with_one_request(base_url, glove) -> None:
    remote = RemoteEmbedder("glove-50d", base_url)
    assert remote.dim == 50
    np.testing.assert_allclose(remote.embed(TEXTS), glove.embed(TEXTS, normalize=True), atol=1e-6)


def test_dimensions_truncates_and_renormalises(base_url, minilm) -> None:
    remote = RemoteEmbedder("minilm", base_url, dimensions=64)
    assert remote.dim == 64  # known without a request
    expected = l2_normalize(minilm.embed(TEXTS)[:, :64])
    np.testing.assert_allclose(remote.embed(TEXTS), expected, atol=1e-5)

    too_many = RemoteEmbedder("minilm", base_url, dimensions=1000)
    with pytest.raises(RemoteInputError, match="answered 400: dimensions is 1000") as err:
        too_many.embed("x")
    assert err.value.status == 400 and err.value.code == "invalid_dimensions"


def test_wrong_model_name_gives_the_servers_404(base_url) -> None:
    with pytest.raises(RemoteModelError) as err:
        RemoteEmbedder("minilmm", base_url).embed("some text")
    message = str(err.value)
    assert "answered 404: the model 'minilmm' is not served here" in message
    assert "Did you mean 'minilm'?" in message and f"{base_url}/models lists them" in message
    assert isinstance(err.value, UnknownModelError) and err.value.status == 404


def test_wrong_base_url_says_where_the_api_root_is(base_url) -> None:
    with pytest.raises(RemoteError, match="usually ending in /v1") as err:
        RemoteEmbedder("minilm", base_url.removesuffix("/v1")).embed("x")
    assert err.value.status == 404


def test_api_key_from_the_environment(thread_server, glove, monkeypatch) -> None:
    with serve(thread_server, {"glove-50d": glove}, api_keys=[SECRET]) as url:
        remote = RemoteEmbedder("glove-50d", f"{url}/v1", api_key_env=KEY_ENV, retries=0)
        with pytest.raises(
            RemoteAuthError, match="answered 401: this server needs an API key"
        ) as err:
            remote.embed(TEXTS)
        assert err.value.hint.startswith(f"no API key was sent: set ${KEY_ENV}")

        monkeypatch.setenv(KEY_ENV, "wrong-key")
        with pytest.raises(RemoteAuthError, match="incorrect API key") as err:
            remote.embed(TEXTS)
        assert err.value.hint.startswith(f"set ${KEY_ENV} to a key the server accepts")

        monkeypatch.setenv(KEY_ENV, SECRET)  # read at request time, not at construction
        np.testing.assert_allclose(
            remote.embed(TEXTS), glove.embed(TEXTS, normalize=True), atol=1e-6
        )
        monkeypatch.delenv(KEY_ENV)
        explicit = RemoteEmbedder("glove-50d", f"{url}/v1", api_key=SECRET)
        assert explicit.embed(TEXTS).shape == (len(TEXTS), 50)
        assert SECRET not in repr(explicit) and SECRET not in json.dumps(explicit.params)


def test_save_load_round_trip_never_writes_the_key(thread_server, glove, tmp_path, monkeypatch):
    with serve(thread_server, {"glove-50d": glove}, api_keys=[SECRET]) as url:
        monkeypatch.setenv(KEY_ENV, SECRET)
        remote = RemoteEmbedder("glove-50d", f"{url}/v1", api_key=SECRET, api_key_env=KEY_ENV)
        folder = remote.save(tmp_path / "remote")
        for path in folder.rglob("*"):
            assert SECRET not in path.read_text(), path
        meta = json.loads((folder / "embedlab.json").read_text())
        assert meta["method"] == "remote" and meta["dim"] == 50
        assert "api_key" not in meta["params"] and meta["params"]["api_key_env"] == KEY_ENV

        loaded = embedlab.load(folder)
        assert isinstance(loaded, RemoteEmbedder) and loaded.name == "remote:glove-50d"
        assert loaded.dim == 50 and loaded.params == remote.params
        np.testing.assert_array_equal(loaded.embed(TEXTS), remote.embed(TEXTS))


def test_a_remote_part_in_a_hybrid(base_url, glove, tmp_path) -> None:
    from embedlab.embedders.hybrid import HybridEmbedder

    tfidf = embedlab.load("tfidf").fit(TEXTS)
    hybrid = HybridEmbedder([RemoteEmbedder("glove-50d", base_url), tfidf], weights=[3, 1])
    expected = np.hstack(
        [
            np.sqrt(0.75) * glove.embed(TEXTS, normalize=True),
            0.5 * tfidf.embed(TEXTS, normalize=True),
        ]
    )
    np.testing.assert_allclose(hybrid.embed(TEXTS), expected, atol=1e-6)
    walk = hybrid.embed_tokens(TEXTS[0])  # the remote part has none: the TF-IDF part's
    assert walk.tokens == tfidf.embed_tokens(TEXTS[0]).tokens

    loaded = embedlab.load(hybrid.save(tmp_path / "hybrid"))
    np.testing.assert_array_equal(loaded.embed(TEXTS), hybrid.embed(TEXTS))
    part = tmp_path / "hybrid" / "part0-remote_glove-50d"  # base_url can change at load time
    moved = embedlab.load(part, base_url=f"{base_url}/")
    assert moved.url == f"{base_url}/embeddings" and moved.embed(TEXTS[0]).shape == (50,)


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = RemoteEmbedder("minilm", f"http://127.0.0.1:{port}/v1", retries=1, backoff=0.01)
    with pytest.raises(RemoteConnectionError) as err:
        remote.embed("x")
    message = str(err.value)
    assert f"cannot reach the embeddings endpoint http://127.0.0.1:{port}/v1/embeddings" in message
    assert "refused" in message.lower() and "tried 2 times" in message
    assert "embedlab serve" in message and err.value.status is None


def test_429_is_retried_after_retry_after(thread_server, glove) -> None:
    texts = [f"{sample_texts()[i % 40]} {i}" for i in range(62)]
    with serve(thread_server, {"glove-50d": glove}, rate_limit_per_minute=60) as url:
        remote = RemoteEmbedder("glove-50d", f"{url}/v1", batch_size=1, max_concurrency=1)
        started = time.monotonic()
        vectors = remote.embed(texts)  # 62 requests: the last ones wait for Retry-After: 1
        assert time.monotonic() - started >= 1.0
        np.testing.assert_allclose(vectors, glove.embed(texts, normalize=True), atol=1e-6)

        impatient = RemoteEmbedder("glove-50d", f"{url}/v1", batch_size=1, retries=0)
        with pytest.raises(RemoteError, match="answered 429: rate limit reached") as err:
            impatient.embed(texts)
        assert err.value.status == 429 and "tried 1 times" in str(err.value)


def test_spec_parsing() -> None:
    remote = RemoteEmbedder.from_spec("minilm@http://127.0.0.1:8000/v1", batch_size=8)
    assert (
        remote.params["model"] == "minilm" and remote.url == "http://127.0.0.1:8000/v1/embeddings"
    )
    assert remote.params["batch_size"] == 8
    openai = RemoteEmbedder.from_spec("text-embedding-3-small", dimensions=256)
    assert openai.params["base_url"] == DEFAULT_BASE_URL and openai.dim == 256
    with pytest.raises(InputError, match="the spec gives model 'minilm' and the options 'mpnet'"):
        RemoteEmbedder.from_spec("minilm@http://127.0.0.1:8000/v1", model="mpnet")
    for bad in ("", "@http://x", "minilm@"):
        with pytest.raises(InputError, match="needs MODEL@BASE_URL"):
            RemoteEmbedder.from_spec(bad)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs the model's name"),
        ({"model": "m", "base_url": "127.0.0.1:8000/v1"}, "must be an http:// or https:// URL"),
        ({"model": "m", "batch_size": 0}, "batch_size must be an int >= 1"),
        ({"model": "m", "dimensions": 0}, "dimensions must be an int >= 1"),
        ({"model": "m", "retries": -1}, "retries must be an int >= 0"),
        ({"model": "m", "timeout": 0}, "timeout must be more than 0"),
        ({"model": "m", "encoding_format": "int8"}, "encoding_format must be"),
    ],
)
def test_bad_settings_are_refused_at_construction(params, message) -> None:
    with pytest.raises(InputError, match=message):
        RemoteEmbedder(**params)


def test_no_token_walkthrough() -> None:
    with pytest.raises(RemoteError, match="no token walkthrough"):
        RemoteEmbedder("minilm").embed_tokens("text")


def test_a_served_remote_model_reports_upstream_failures_as_a_gateway(thread_server, glove):
    """embedlab serve in front of another server: when its upstream fails, the answer is a 502
    naming the upstream, not a 400 blaming the caller."""
    import contextlib

    import httpx

    with contextlib.ExitStack() as gateway_stack:
        with serve(thread_server, {"glove-50d": glove}) as upstream_url:
            proxy = RemoteEmbedder("glove-50d", f"{upstream_url}/v1", retries=0)
            gateway = gateway_stack.enter_context(serve(thread_server, {"proxy": proxy}))
            ok = httpx.post(f"{gateway}/v1/embeddings", json={"model": "proxy", "input": "x"})
            assert ok.status_code == 200, ok.text
        # the upstream is gone now; the gateway is still up
        failed = httpx.post(f"{gateway}/v1/embeddings", json={"model": "proxy", "input": "y"})
    assert failed.status_code == 502, failed.text
    error = failed.json()["error"]
    assert error["code"] == "upstream_error" and upstream_url in error["message"]
