"""Batch jobs: uploads, the data folder and its boundary, and a job resumed after a restart."""

from __future__ import annotations

import io
import json
import time

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from embedlab.output import read_vectors


def wait_for(client: httpx.Client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_uploaded_file_is_embedded_into_parquet(client, minilm, sample_texts, tmp_path):
    texts = sample_texts[:12]
    upload = ("texts.txt", io.BytesIO(("\n".join(texts) + "\n").encode()), "text/plain")
    response = client.post("/v1/jobs", files={"file": upload}, data={"model": "minilm"})
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "queued" and created["input"] == "texts.txt"
    job = wait_for(client, created["id"])
    assert job["status"] == "succeeded", job
    assert job["rows_done"] == job["rows_total"] == 12 and job["progress"] == 1.0
    output = client.get(job["output_url"])
    assert output.status_code == 200
    path = tmp_path / "out.parquet"
    path.write_bytes(output.content)
    table = pq.read_table(path)
    assert table.column("text").to_pylist() == texts
    assert table.column("id").to_pylist() == list(range(12))
    np.testing.assert_allclose(read_vectors(path), minilm.embed(texts, normalize=True), atol=1e-5)
    listed = client.get("/v1/jobs").json()["data"]
    assert created["id"] in [j["id"] for j in listed]


def test_jsonl_upload_with_fields_on_a_word_model(client, glove, sample_texts, tmp_path):
    lines = "".join(f'{{"key": "k{i}", "body": "{t}"}}\n' for i, t in enumerate(sample_texts[:5]))
    response = client.post(
        "/v1/jobs",
        files={"file": ("docs.jsonl", lines.encode(), "application/json")},
        data={"model": "glove-50d", "field": "body", "id_field": "key", "normalize": "false"},
    )
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    path = tmp_path / "out.parquet"
    path.write_bytes(client.get(job["output_url"]).content)
    assert pq.read_table(path).column("id").to_pylist() == [f"k{i}" for i in range(5)]
    np.testing.assert_allclose(read_vectors(path), glove.embed(sample_texts[:5]), atol=1e-6)


def test_upload_into_a_new_collection_keeps_ids_and_metadata(
    client, minilm, sample_texts, error_of
):
    texts = sample_texts[:8]
    lines = "".join(
        json.dumps({"key": f"d{i}", "body": t, "topic": "even" if i % 2 == 0 else "odd", "n": i})
        + "\n"
        for i, t in enumerate(texts)
    )
    response = client.post(
        "/v1/jobs",
        files={"file": ("docs.jsonl", lines.encode(), "application/json")},
        data={
            "model": "minilm",
            "field": "body",
            "id_field": "key",
            "collection": "job-docs",
            "metadata_fields": "topic",
        },
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["target"] == "collection" and created["collection"] == "job-docs"
    job = wait_for(client, created["id"])
    assert job["status"] == "succeeded", job
    assert job["rows_done"] == 8 and job["output_url"] is None
    no_file = client.get(f"/v1/jobs/{job['id']}/output")
    assert no_file.status_code == 404 and "/v1/collections/job-docs" in error_of(no_file)["message"]

    info = client.get("/v1/collections/job-docs").json()
    assert info["count"] == 8 and info["model"] == minilm.name
    got = client.post(
        "/v1/collections/job-docs/get",
        json={"ids": ["d0", "d3"], "include": ["text", "metadata", "vector"]},
    ).json()["data"]
    assert [item["metadata"] for item in got] == [{"topic": "even"}, {"topic": "odd"}]
    np.testing.assert_allclose(
        [item["vector"] for item in got],
        minilm.embed([texts[0], texts[3]], normalize=True),
        atol=1e-4,
    )
    hits = client.post(
        "/v1/collections/job-docs/search",
        json={"query": texts[5], "k": 3, "where": {"topic": "odd"}},
    ).json()["data"]
    assert hits[0]["id"] == "d5" and all(h["metadata"]["topic"] == "odd" for h in hits)

    # A second job into the same collection: its own model is used, another one is refused.
    mismatch = client.post(
        "/v1/jobs",
        files={"file": ("more.txt", b"one more text\n", "text/plain")},
        data={"model": "glove-50d", "collection": "job-docs"},
    )
    assert mismatch.status_code == 409 and error_of(mismatch)["code"] == "model_mismatch"
    more = client.post(
        "/v1/jobs",
        files={"file": ("more.txt", b"one more text\n\nand another\n", "text/plain")},
        data={"collection": "job-docs", "skip_empty": "true"},
    ).json()
    job = wait_for(client, more["id"])
    assert job["status"] == "succeeded" and job["rows_done"] == 2, job
    assert client.get("/v1/collections/job-docs").json()["count"] == 10
    added = client.post(
        "/v1/collections/job-docs/get", json={"ids": [f"{more['id']}-0", f"{more['id']}-1"]}
    ).json()["data"]
    assert [item["text"] for item in added] == ["one more text", "and another"]


def test_collection_jobs_refuse_bad_requests(client, error_of):
    upload = ("t.txt", b"a text\n", "text/plain")
    bad_name = client.post("/v1/jobs", files={"file": upload}, data={"collection": "../escape"})
    assert bad_name.status_code == 400 and "collection name" in error_of(bad_name)["message"]
    stray = client.post("/v1/jobs", files={"file": upload}, data={"metadata_fields": "topic"})
    assert stray.status_code == 400 and error_of(stray)["param"] == "metadata_fields"
    wrong_ext = client.post(
        "/v1/jobs",
        files={"file": ("data.exe", b"MZ", "application/octet-stream")},
        data={"collection": "never-made"},
    )
    assert wrong_ext.status_code == 400
    assert "never-made" not in client.get("/v1/collections").json()["data"]


def test_bad_uploads_are_refused_or_fail_clearly(client, error_of):
    wrong_ext = client.post(
        "/v1/jobs", files={"file": ("data.exe", b"MZ", "application/octet-stream")}
    )
    assert wrong_ext.status_code == 400 and ".txt" in error_of(wrong_ext)["message"]
    neither = client.post("/v1/jobs", data={"model": "minilm"})
    assert neither.status_code == 400 and "either a file" in error_of(neither)["message"]
    latin1 = client.post(
        "/v1/jobs", files={"file": ("old.txt", "café\n".encode("latin-1"), "text/plain")}
    )
    job = wait_for(client, latin1.json()["id"])
    assert job["status"] == "failed" and "not UTF-8" in job["error"]
    missing = client.get("/v1/jobs/job-0000000000000000")
    assert missing.status_code == 404 and error_of(missing)["code"] == "job_not_found"
    assert client.get("/v1/jobs/..%2F..%2Fetc").status_code == 404


def test_paths_inside_the_data_folder_only(client, data_dir, minilm, sample_texts, error_of):
    inside = client.post("/v1/jobs", data={"path": "texts.txt", "model": "minilm"})
    assert inside.status_code == 202, inside.text
    nested = client.post("/v1/jobs", data={"path": "sub/more.txt", "model": "minilm"})
    assert nested.status_code == 202, nested.text
    assert wait_for(client, inside.json()["id"])["rows_done"] == 10
    assert wait_for(client, nested.json()["id"])["rows_done"] == 4
    absolute = client.post("/v1/jobs", data={"path": str(data_dir / "texts.txt")})
    assert absolute.status_code == 202

    refusals = {
        "../secret.txt": (400, "'..'"),
        "sub/../../secret.txt": (400, "'..'"),
        str(data_dir.parent / "secret.txt"): (403, "outside"),
        "/etc/passwd": (403, "outside"),
        "link.txt": (403, "outside"),  # a symbolic link out of the folder
        "absent.txt": (404, "no file"),
        "x" * 300 + ".txt": (400, "not a usable file name"),  # longer than a file name may be
    }
    for path, (status, fragment) in refusals.items():
        response = client.post("/v1/jobs", data={"path": path})
        assert response.status_code == status, (path, response.text)
        assert fragment in error_of(response)["message"], path


def test_server_without_data_dir_takes_no_paths(thread_server, minilm, tmp_path, error_of):
    from embedlab.server import ServerConfig, create_app
    from embedlab.server.core.served import serve_embedder

    app = create_app(
        ServerConfig(models=["minilm"], jobs_dir=str(tmp_path / "jobs")),
        models={"minilm": serve_embedder("minilm", minilm)},
    )
    with thread_server(app) as url:
        response = httpx.post(f"{url}/v1/jobs", data={"path": "texts.txt"})
        assert response.status_code == 403 and "--data-dir" in error_of(response)["message"]


@pytest.fixture()
def big_file(tmp_path, sample_texts):
    texts = [f"{sample_texts[i % len(sample_texts)]} {i}" for i in range(6000)]
    path = tmp_path / "big.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path, texts


@pytest.mark.parametrize("target", ["parquet", "collection"])
def test_job_resumes_after_the_server_is_killed(server_process, tmp_path, big_file, glove, target):
    """kill -9 mid-job, start again on the same folders: the job finishes where it stopped."""
    path, texts = big_file
    config = tmp_path / "server.toml"
    config.write_text(
        f'[server]\nmodels = ["glove-50d"]\njobs_dir = "{tmp_path / "jobs"}"\n'
        f'collections = "{tmp_path / "collections"}"\n'
        "job_chunk_rows = 16\nmax_batch_inputs = 16\n",
        encoding="utf-8",
    )
    form = {"collection": "big"} if target == "collection" else {}
    first = server_process("--config", str(config))
    try:
        with httpx.Client(base_url=first.url, timeout=60) as http:
            job_id = http.post(
                "/v1/jobs",
                files={"file": ("big.txt", path.read_bytes(), "text/plain")},
                data=form,
            ).json()["id"]
            deadline = time.monotonic() + 120
            while True:
                job = http.get(f"/v1/jobs/{job_id}").json()
                if job["status"] == "running" and job["rows_done"] >= 32:
                    break
                assert job["status"] in ("queued", "running"), job
                assert time.monotonic() < deadline, job
                time.sleep(0.02)
        first.kill()  # SIGKILL: no chance to tidy up
    finally:
        first.kill()
    done_before = job["rows_done"]
    assert 0 < done_before < len(texts)

    second = server_process("--config", str(config))
    try:
        with httpx.Client(base_url=second.url, timeout=60) as http:
            job = wait_for(http, job_id)
            assert job["status"] == "succeeded", job
            assert job["attempts"] == 2 and job["resumed_from"] >= done_before
            if target == "parquet":
                out = tmp_path / "resumed.parquet"
                out.write_bytes(http.get(job["output_url"]).content)
            else:
                assert http.get("/v1/collections/big").json()["count"] == len(texts)
                picks = [0, done_before - 1, done_before, len(texts) - 1]
                got = http.post(
                    "/v1/collections/big/get",
                    json={"ids": [f"{job_id}-{i}" for i in picks], "include": ["text", "vector"]},
                ).json()["data"]
    finally:
        second.stop()
    expected = glove.embed(texts, normalize=True)
    if target == "parquet":
        table = pq.read_table(out)
        assert table.column("id").to_pylist() == list(range(len(texts)))
        assert table.column("text").to_pylist() == texts
        np.testing.assert_allclose(read_vectors(out), expected, atol=1e-5)
    else:
        assert [item["text"] for item in got] == [texts[i] for i in picks]
        np.testing.assert_allclose([item["vector"] for item in got], expected[picks], atol=1e-5)
