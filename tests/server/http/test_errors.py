"""Failures as clients see them: one line, a clear code, and no server-side path."""

from __future__ import annotations

import time

import httpx

import embedlab


def _app(tfidf, tmp_path, **settings):
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    config = ServerConfig(
        models=["tfidf"],
        jobs_dir=str(tmp_path / "jobs"),
        collections=str(tmp_path / "collections"),
        **settings,
    )
    return create_app(config, models={"tfidf": serve_embedder("tfidf", tfidf)})


def test_a_corrupt_collection_is_a_500_with_a_clear_code(
    thread_server, tfidf, sample_texts, tmp_path, error_of
):
    folder = tmp_path / "collections" / "docs"
    collection = embedlab.create_collection(folder, model=tfidf)
    collection.add(sample_texts[:5])
    collection.close()
    database = next(folder.glob("*.sqlite"))
    database.write_bytes(b"this is not a database " * 400)  # what a bad disk leaves behind
    with thread_server(_app(tfidf, tmp_path)) as url:
        for method, path, body in [
            ("GET", "/v1/collections/docs", None),
            ("POST", "/v1/collections/docs/search", {"query": "interest rates", "k": 2}),
        ]:
            response = httpx.request(method, f"{url}{path}", json=body)
            assert response.status_code == 500, response.text
            error = error_of(response)
            assert error["code"] == "collection_corrupt", error
            assert "\n" not in error["message"] and "Traceback" not in error["message"]
            assert str(tmp_path) not in error["message"], error["message"]
            assert "sqlite3." not in error["message"]


def test_failed_jobs_name_the_input_as_given_never_a_server_path(thread_server, tfidf, tmp_path):
    with thread_server(_app(tfidf, tmp_path)) as url:
        upload = ("old.txt", "café\n".encode("latin-1"), "text/plain")
        created = httpx.post(f"{url}/v1/jobs", files={"file": upload})
        assert created.status_code == 202, created.text
        deadline = time.monotonic() + 60
        while (job := httpx.get(f"{url}/v1/jobs/{created.json()['id']}").json())["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
    assert job["status"] == "failed" and "not UTF-8" in job["error"], job
    assert "old.txt" in job["error"], job["error"]
    assert str(tmp_path) not in job["error"] and "/jobs/" not in job["error"], job["error"]
