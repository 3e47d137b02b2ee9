"""Real servers for the server tests: `embedlab serve` in a subprocess on a free loopback port.

Only loopback traffic: every server binds 127.0.0.1 with port 0 and reports the port it got.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import embedlab
from embedlab.server.child import ServerProcess as ChildServer

KEY = "test-key-6f1d2a9c"


class ServerProcess(ChildServer):
    """A test server: one model thread, and no API keys inherited from the environment."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> None:
        quiet = {"EMBEDLAB_API_KEYS": None, "EMBEDLAB_THREADS": "1"}
        super().__init__(*args, env={**quiet, **(env or {})}, timeout=timeout)


@pytest.fixture(scope="session")
def tfidf_dir(tmp_path_factory, sample_texts) -> Path:
    folder = tmp_path_factory.mktemp("models") / "tfidf"
    embedlab.load("tfidf").fit(sample_texts).save(folder)
    return folder


@pytest.fixture(scope="session")
def tfidf(tfidf_dir) -> embedlab.Embedder:
    return embedlab.load(tfidf_dir)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, sample_texts) -> Path:
    """The operator's data folder: a real file, a sub-folder, and a link pointing out of it."""
    root = tmp_path_factory.mktemp("served")
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    (data / "texts.txt").write_text("\n".join(sample_texts[:10]) + "\n", encoding="utf-8")
    (data / "sub" / "more.txt").write_text("\n".join(sample_texts[10:14]) + "\n", "utf-8")
    outside = root / "secret.txt"
    outside.write_text("not for the server\n", encoding="utf-8")
    (data / "link.txt").symlink_to(outside)
    return data


@pytest.fixture(scope="session")
def main_server(tmp_path_factory, tfidf_dir, data_dir) -> Iterator[ServerProcess]:
    """One server for most tests: three kinds of model, keys, a data folder, small limits."""
    root = tmp_path_factory.mktemp("main-server")
    keys = root / "keys.txt"
    keys.write_text(f"# test keys\n{KEY}\n", encoding="utf-8")
    server = ServerProcess(
        "--models",
        f"minilm,tfidf={tfidf_dir},glove-50d",
        "--api-keys-file",
        str(keys),
        "--data-dir",
        str(data_dir),
        "--jobs-dir",
        str(root / "jobs"),
        "--collections",
        str(root / "collections"),
        "--demo",
        "--max-inputs",
        "64",
        "--max-input-chars",
        "2000",
        "--max-body-bytes",
        "300000",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(main_server) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=main_server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
    ) as http:
        yield http


@contextlib.contextmanager
def thread_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread, on a socket already bound to a free port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-thread server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def error_of(response: httpx.Response) -> dict:
    """The OpenAI error object of a response, checking its shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"], body
    return body["error"]


# helpers as fixtures: with --import-mode=importlib, test modules cannot import conftest
@pytest.fixture(scope="session")
def api_key() -> str:
    return KEY


@pytest.fixture(scope="session", name="error_of")
def error_of_fixture():
    return error_of


@pytest.fixture(scope="session", name="thread_server")
def thread_server_fixture():
    return thread_server


@pytest.fixture(scope="session", name="server_process")
def server_process_fixture():
    return ServerProcess
