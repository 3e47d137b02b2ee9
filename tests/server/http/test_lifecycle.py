"""What the server does to its own process while it runs: loaded objects out of the GC's reach."""

from __future__ import annotations

import gc

import httpx

from embedlab.server import ServerConfig, create_app
from embedlab.server.core.served import serve_embedder


def collected(thing: object) -> bool:
    """True if full collections still walk ``thing`` (frozen objects are not listed)."""
    return any(other is thing for other in gc.get_objects())


def test_loaded_models_are_left_out_of_full_collections_while_serving(thread_server, tfidf):
    app = create_app(
        ServerConfig(models=["tfidf"]), models={"tfidf": serve_embedder("tfidf", tfidf)}
    )
    assert gc.is_tracked(tfidf) and collected(tfidf)
    with thread_server(app) as url:
        frozen = gc.get_freeze_count()
        assert frozen > 1000 and not collected(tfidf)
        body = {"model": "tfidf", "input": ["a bank by the river"]}
        answer = httpx.post(f"{url}/v1/embeddings", json=body, timeout=60)
        assert answer.status_code == 200 and len(answer.json()["data"]) == 1
        gc.collect()  # a full collection while serving leaves the model where it is
        assert gc.get_freeze_count() > frozen // 2 and not collected(tfidf)
    assert gc.get_freeze_count() == 0 and collected(tfidf)  # given back when the server stops


def test_a_second_server_in_the_process_keeps_the_freeze_until_the_last_one_stops(
    thread_server, tfidf
):
    def app():
        return create_app(
            ServerConfig(models=["tfidf"]), models={"tfidf": serve_embedder("tfidf", tfidf)}
        )

    with thread_server(app()) as first:
        with thread_server(app()) as second:
            assert not collected(tfidf)
        # the second server stopped: the first one still serves, out of the collector's way
        assert gc.get_freeze_count() > 1000 and not collected(tfidf)
        body = {"model": "tfidf", "input": ["a bank by the river"]}
        assert httpx.post(f"{first}/v1/embeddings", json=body, timeout=60).status_code == 200
        assert second != first
    assert gc.get_freeze_count() == 0 and collected(tfidf)
