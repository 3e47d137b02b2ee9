"""`embedlab serve` under a huge request: its latency, the server's memory, and a small request's.

The case of issue 20: 2,048 inputs of about 3,900 characters (7.6 MB, under the body limit),
alone and three at once, while a small request is sent every 0.2 s beside them. Reported per
scenario: the big requests' status and seconds, the small requests' median and worst seconds,
the server's RSS before, at its peak (VmHWM) and 3 s after.

    python bench/server_limits.py                      # this checkout
    python bench/server_limits.py --src /tmp/old/src   # another checkout's src/, e.g. before

Extra ``--config`` settings (a TOML file) go to the server, e.g. ``max_chars_per_request``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import time
from pathlib import Path

import httpx

from embedlab.server.child import ServerProcess

WORDS = (  # noqa: SIM905
    "the bank raised interest rates again this year while markets fell and investors sold "
    "shares of technology companies as the central committee discussed inflation housing "
    "wages energy prices trade deficits and the outlook for growth in the coming quarters"
).split()


def long_texts(n: int, chars: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words: list[str] = [f"doc{i}"]
        size = len(words[0]) + 1  # the joined length, plus one: kept as words are added
        while size < chars:
            words.append(rng.choice(WORDS))
            size += len(words[-1]) + 1
        out.append(" ".join(words)[:chars])
    return out


class Server(ServerProcess):
    def __init__(self, src: str | None, config: str | None) -> None:
        env = {"EMBEDLAB_THREADS": "1", **({"PYTHONPATH": src} if src else {})}
        args = ["--models", "minilm"] + (["--config", config] if config else [])
        super().__init__(*args, env=env, timeout=300)

    def memory(self) -> tuple[float, float]:
        """(RSS, peak RSS) in MB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
        return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024


async def scenario(url: str, big: int, texts: list[str], truncate: bool) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        small_times: list[float] = []
        done = asyncio.Event()

        async def small() -> None:
            while not done.is_set():
                started = time.perf_counter()
                r = await http.post("/v1/embeddings", json={"model": "minilm", "input": "hi"})
                small_times.append(time.perf_counter() - started)
                assert r.status_code in (200, 503), r.text
                await asyncio.sleep(0.2)

        async def large() -> tuple[int, float, str]:
            started = time.perf_counter()
            body = {"model": "minilm", "input": texts, "truncate": truncate}
            r = await http.post("/v1/embeddings", json=body)
            code = r.json()["error"]["code"] if r.status_code != 200 else ""
            return r.status_code, time.perf_counter() - started, code

        ticker = asyncio.create_task(small())
        await asyncio.sleep(0.5)
        bigs = await asyncio.gather(*(large() for _ in range(big)))
        await asyncio.sleep(0.5)
        done.set()
        await ticker
    return {
        "big": [{"status": s, "seconds": round(t, 2), "code": c} for s, t, c in bigs],
        "small_median_s": round(statistics.median(small_times), 3),
        "small_worst_s": round(max(small_times), 3),
        "small_count": len(small_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", help="PYTHONPATH for the server (another checkout's src/)")
    parser.add_argument("--config", help="a TOML file of server settings")
    parser.add_argument("--inputs", type=int, default=2048)
    parser.add_argument("--chars", type=int, default=3900)
    parser.add_argument("--truncate", action="store_true", help="send truncate: true")
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    texts = long_texts(args.inputs, args.chars)
    size = len(json.dumps({"model": "minilm", "input": texts}))
    rows = []
    for big in (1, 3):
        server = Server(args.src, args.config)
        try:
            assert server.url is not None
            httpx.post(f"{server.url}/v1/embeddings", json={"model": "minilm", "input": "warm"})
            before, _ = server.memory()
            result = asyncio.run(scenario(server.url, big, texts, args.truncate))
            _, peak = server.memory()
            time.sleep(3)
            after, _ = server.memory()
        finally:
            server.stop()
        rows.append({"concurrent_big": big, **result, "rss_mb": [round(before), round(peak),
                                                                  round(after)]})  # fmt: skip
    print(f"# {args.label}: {args.inputs} inputs x {args.chars} chars ({size / 1e6:.1f} MB), "
          f"truncate={args.truncate}")  # fmt: skip
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
