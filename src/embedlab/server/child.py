"""`embedlab serve` in a child process, from Python: on a free loopback port, ready once it
says where it listens.

Why: notebooks, tests and benchmarks all want a real server they can start, reach and stop
without guessing a free port or sleeping; the server binds port 0 and prints its address, and
this waits for that line::

    with ServerProcess("--models", "minilm") as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")

Needs only the standard library here (the child imports the [server] extra).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from embedlab.errors import EmbedlabError

READY = re.compile(r"embedlab server ready at (http://127\.0\.0\.1:\d+)")


class ServerStartError(EmbedlabError):
    """The child server exited or did not listen in time; the message carries its output."""


class ServerProcess:
    """``embedlab serve --host 127.0.0.1 --port 0 *args`` as a child; ``url`` once it listens.

    ``env`` is added to this process's environment (a value of None removes that variable, e.g.
    ``{"EMBEDLAB_API_KEYS": None}`` so keys of the parent do not leak into a test server).
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 240,
        log_level: str = "warning",
    ) -> None:
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, value in (env or {}).items():
            if value is None:
                child_env.pop(name, None)
            else:
                child_env[name] = value
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "embedlab.cli.main", "serve", "--host", "127.0.0.1"]
            + ["--port", "0", "--log-level", log_level, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env,
        )
        self.lines: list[str] = []
        self.url = ""
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(
                    f"the server did not start (exit status {self.proc.returncode}):\n{self.log}",
                    "read the server's output above",
                )

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # read to the end, so the child never blocks on a pipe
            self.lines.append(line)
            match = READY.search(line)
            if match and not self._ready.is_set():
                self.url = match.group(1)
                self._ready.set()

    @property
    def log(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.lines)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (a graceful shutdown: queued work is answered), then SIGKILL if it hangs."""
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

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
