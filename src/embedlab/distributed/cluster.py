"""Joining a Ray cluster: an address checked first, so a wrong one is one line, not a hang.

``address`` is ``HOST:PORT`` (the head's GCS port, as ``ray start --head --port`` printed it),
``ray://HOST:PORT`` (Ray Client), or ``auto``/None: Ray's own choice (``$RAY_ADDRESS``, a
cluster already running on this machine, else a new one-machine Ray for this run). Workers get
this process's embedlab settings (``EMBEDLAB_*``, ``HF_HUB_OFFLINE``; :func:`worker_env`) and
one model thread per CPU an actor holds, set in each actor's own process before it loads the
model (a job-wide ``runtime_env`` would cost every run fresh worker processes).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from embedlab.errors import EmbedlabError
from embedlab.extras import require

DEFAULT_PORT = 6379
CHECK_SECONDS = 5.0
FORWARDED = ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM", "RAY_AUTH_MODE")


class ClusterError(EmbedlabError):
    """The Ray cluster cannot be reached or used."""


def split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; a bad one is a ClusterError."""
    text = address.removeprefix("ray://")
    host, _, port = text.rpartition(":")
    if not host:
        host, port = text, str(DEFAULT_PORT)
    try:
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise ClusterError(
            f"{address!r} is not a Ray address", "pass HOST:PORT, e.g. --ray 10.0.0.5:6379"
        ) from None
    return host.strip("[]"), number


def check_reachable(address: str) -> None:
    """Open (and close) a TCP connection to the address, or say why it cannot be reached."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=CHECK_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(
            f"cannot reach a Ray cluster at {host}:{port} ({reason})",
            "check the address (the head's IP and GCS port, 6379 unless changed) and that a Ray "
            "head runs there and its port is open",
        ) from None


def worker_env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("EMBEDLAB_") or k in FORWARDED}
    env.setdefault("EMBEDLAB_THREADS", str(threads))
    return env


def connect(address: str | None) -> bool:
    """Join (or start) Ray; returns whether this call did, so the caller shuts it down after."""
    ray = require("ray", "ray")
    if ray.is_initialized():
        return False
    if address not in (None, "", "auto"):
        check_reachable(address)
    options: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
    }
    if address in (None, "", "auto"):
        options["address"] = os.environ.get("RAY_ADDRESS") or None
        if options["address"] is None:
            options["include_dashboard"] = False
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ClusterError(
            f"cannot join the Ray cluster at {address or 'this machine'} ({first})",
            "check that `ray status` on the head works and that this machine runs the same Ray "
            "and Python versions",
        ) from None
    return True


def cluster_cpus() -> int:
    ray = require("ray", "ray")
    return int(ray.cluster_resources().get("CPU", 1))


def disconnect() -> None:
    ray = require("ray", "ray")
    ray.shutdown()
