"""Real servers for the server tests: `embedlab serve` in a subprocess on a free loopback port.

Only loopback traffic: every server binds 127.0.0.1 with port 0 and reports the port it got.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import embedlab

KEY = "test-key-6f1d2a9c"
READY = re.compile(r"embedlab server ready at (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """`embedlab serve --port 0 ...` as a child process; ``url`` once it listens."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> None:
        child_env = {k: v for k, v in os.environ.items() if k != "EMBEDLAB_API_KEYS"}
        child_env.update({"EMBEDLAB_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "embedlab.cli.main", "serve", "--host", "127.0.0.1"]
            + ["--port", "0", "--log-level", "warning", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("the server did not start:\n" + self.log)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = READY.search(line)
            if match:
                self.url = match.group(1)
                self._ready.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


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
