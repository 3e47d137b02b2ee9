"""Bounded server work on a real `embedlab serve`: huge requests, slow clients, key guessing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, tfidf_dir, server_process, api_key) -> Iterator[str]:
    root = tmp_path_factory.mktemp("strict-server")
    (root / "keys.txt").write_text(api_key + "\n", encoding="utf-8")
    (root / "server.toml").write_text(
        "[server]\nheader_timeout_s = 1.0\nbody_timeout_s = 1.0\nauth_failures_per_minute = 5\n",
        encoding="utf-8",
    )
    server = server_process(
        "--models",
        f"tfidf={tfidf_dir}",
        "--config",
        str(root / "server.toml"),
        "--api-keys-file",
        str(root / "keys.txt"),
        "--jobs-dir",
        str(root / "jobs"),
        "--collections",
        str(root / "collections"),
    )
    yield server.url
    server.stop()


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _trickle(url: str, head: bytes, drip: bytes, seconds: float = 10) -> tuple[bytes, float]:
    """Send ``head``, then ``drip`` every 0.25 s; what came back and when the server hung up."""
    started = time.monotonic()
    received = b""
    with socket.create_connection(_address(url), timeout=5) as sock:
        sock.sendall(head)
        sock.settimeout(0.25)
        while time.monotonic() - started < seconds:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(drip)
                except OSError:
                    break
                continue
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    return received, time.monotonic() - started


def test_a_huge_request_is_refused_before_any_tokenising(strict_server, api_key, error_of):
    texts = [f"doc {i} " + "interest rates rose again " * 150 for i in range(2048)]  # 7.9 MB
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=strict_server, headers=headers, timeout=60) as http:
        started = time.monotonic()
        big = http.post("/v1/embeddings", json={"model": "tfidf", "input": texts})
        took = time.monotonic() - started
        assert big.status_code == 400, big.text
        error = error_of(big)
        assert error["code"] == "request_too_large" and "1,000,000" in error["message"]
        assert took < 5, took  # measured before: 11.8 s of tokenising, then the refusal
        small = http.post("/v1/embeddings", json={"model": "tfidf", "input": "still here"})
        assert small.status_code == 200


def test_a_trickled_body_is_cut_off_after_the_timeout(strict_server, api_key):
    head = (
        "POST /v1/embeddings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api_key}\r\nContent-Length: 400\r\n\r\n"
        '{"model": "tfidf", "input": "'
    ).encode()
    received, took = _trickle(strict_server, head, b"a")
    assert received.startswith(b"HTTP/1.1 408"), received
    assert b"request_timeout" in received
    assert took < 5, took


def test_trickled_headers_are_cut_off_after_the_timeout(strict_server):
    received, took = _trickle(strict_server, b"GET /health HTTP/1.1\r\nHost: test\r\n", b"X")
    assert received == b""  # never a request: the connection is simply closed
    assert took < 5, took
    # an ordinary client on the same server is unaffected
    assert httpx.get(f"{strict_server}/health").status_code == 200


def test_wrong_keys_are_rate_limited_by_address(strict_server, api_key, error_of):
    wrong = {"Authorization": "Bearer not-the-key-at-all"}
    statuses = []
    for i in range(7):
        path = "/v1/embeddings" if i % 2 else "/v1/models"  # the fast path and a router alike
        response = httpx.request(
            "POST" if i % 2 else "GET",
            f"{strict_server}{path}",
            json={"model": "tfidf", "input": "x"},
            headers=wrong,
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    assert error_of(response)["code"] == "rate_limit_exceeded"
    assert int(response.headers["retry-after"]) >= 1
    # the right key has its own bucket: guessing from this address does not lock it out
    right = httpx.post(
        f"{strict_server}/v1/embeddings",
        json={"model": "tfidf", "input": "x"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert right.status_code == 200
