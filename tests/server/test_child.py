"""The child-process server helper: ready on a loopback port, or a clear error with its output."""

from __future__ import annotations

import httpx
import pytest

from embedlab.server.child import ServerProcess, ServerStartError


def test_a_child_server_answers_on_loopback_and_stops(tfidf_dir):
    with ServerProcess("--models", str(tfidf_dir), env={"EMBEDLAB_API_KEYS": None}) as server:
        assert server.url.startswith("http://127.0.0.1:")
        models = httpx.get(server.url + "/v1/models", timeout=60).json()
        assert [m["id"] for m in models["data"]]
    assert server.proc.returncode is not None  # stopped on leaving the block


def test_a_server_that_cannot_start_raises_with_its_output(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ServerStartError, match="did not start") as failure:
        ServerProcess("--models", str(missing), timeout=120)
    assert "no-such-model" in str(failure.value)  # the server's own error, passed on
